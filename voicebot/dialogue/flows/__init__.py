"""One module per intent family; this table is how the session finds them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..orders import Order
from . import after_sales, tracking
from .base import CallState, Flow, Out, Pending, Resources

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

__all__ = ["CONFIRM_ACTIONS", "ORDER_FLOWS", "CallState", "Flow", "Out", "Pending", "Resources"]
