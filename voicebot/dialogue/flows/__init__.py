"""One module per intent family; this table is how the session finds them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..orders import Order
from . import after_sales, tracking
from .base import Flow, FlowState, Out, Pending, Resources

OrderFlow = Callable[[Flow, Order], Awaitable[None]]

# Intents that are about one order: the session finds the order and checks identity first.
ORDER_FLOWS: dict[str, OrderFlow] = {
    "order_status": tracking.order_status,
    "shipping_delay": tracking.shipping_delay,
    "not_received": tracking.not_received,
    "return_refund": after_sales.return_refund,
    "damaged_item": after_sales.damaged_item,
    "cancel_order": after_sales.cancel_order,
    "change_address": after_sales.change_address,
}

# What "yes" carries out after a confirmation question; the case kind guards against duplicates.
CONFIRM_ACTIONS: dict[str, tuple[OrderFlow, str]] = {
    "investigation": (tracking.open_investigation, "investigation"),
    "return": (after_sales.create_return, "return"),
    "damage_claim": (after_sales.create_damage_claim, "damage_claim"),
    "cancel": (after_sales.do_cancel, "cancellation"),
}

# Knowledge-base entries the flows say by id (and the values they read), checked at start: a
# shop's knowledge base that replaces the built-in one must have them all. customs_<reason>
# entries are optional (without one, only the general customs_hold line is said).
REQUIRED_KB: dict[str, tuple[str, ...]] = {
    "return_window": ("days",),
    "refund_timing": (),
    "final_sale": (),
    "cancel_rule": (),
    "cancel_shipped": (),
    "damaged_claim": (),
    "address_change": (),
    "address_change_shipped": (),
    "customs_hold": (),
    "late_delivery": ("grace_days",),
    "not_received": (),
    "duplicate_charge": (),
    "payment_security": (),
    "shipping_time": (),
}


def missing_kb_entries(entries: dict[str, object]) -> list[str]:
    """What the flows need that ``entries`` (id -> KbEntry) lacks: ``"late_delivery"``, ``"return_window.days"``."""
    missing = []
    for entry_id, values in REQUIRED_KB.items():
        entry = entries.get(entry_id)
        if entry is None:
            missing.append(entry_id)
            continue
        missing += [f"{entry_id}.{v}" for v in values if v not in getattr(entry, "values", {})]
    return missing


__all__ = ["CONFIRM_ACTIONS", "ORDER_FLOWS", "REQUIRED_KB", "Flow", "FlowState", "Out", "Pending", "Resources", "missing_kb_entries"]
