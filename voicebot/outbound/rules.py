"""Campaign rules: which orders deserve a call today (pure: orders and cases in, targets out).

- ``late_parcel --days N``: in transit (or out for delivery, or a carrier exception) and at
  least N days past its expected delivery day;
- ``customs_hold --days N``: held by customs for at least N days;
- ``damage_case --days N``: a damage claim opened at least N days ago and not resolved (its
  data has no ``status`` of resolved/closed/refunded/replaced, and no refund or return case
  was opened after it).

The rule is checked again right before each call, so a parcel delivered in the meantime is
not called about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from voicebot.dialogue.orders import Case, Customer, Order

RULES = ("late_parcel", "customs_hold", "damage_case")
RESOLVED = ("resolved", "closed", "refunded", "replaced")
LATE_STATES = ("in_transit", "out_for_delivery", "exception")


@dataclass(frozen=True)
class Target:
    """One customer to call about one order, and the facts the call will be about."""

    customer_id: str
    order_id: str
    phone: str
    country: str
    language: str
    name: str
    reason: str  # the rule
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    kind: str
    days: int

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ValueError(f"unknown campaign rule {self.kind!r}: use one of {', '.join(RULES)}")
        if self.days < 0:
            raise ValueError("--days must be 0 or more")

    def facts(self, order: Order, cases: Iterable[Case], today: date) -> dict[str, Any] | None:
        """Why ``order`` matches (JSON-safe facts for the call), or None when it does not."""
        s = order.shipment
        if order.status == "cancelled":
            return None
        if self.kind == "late_parcel":
            if s is None or s.status not in LATE_STATES or s.expected_delivery is None:
                return None
            late = (today - s.expected_delivery).days
            return {"days_late": late, "expected": s.expected_delivery.isoformat(), "carrier": s.carrier} if late >= self.days else None
        if self.kind == "customs_hold":
            since = s.held_since() if s is not None else None
            if since is None:
                return None
            held = (today - since).days
            reason = next((e.detail for e in reversed(s.events) if e.code == "customs_hold"), "") if s else ""
            return {"days_held": held, "since": since.isoformat(), "customs_reason": reason} if held >= self.days else None
        claim = _open_damage_claim(list(cases), today, self.days)
        return {"case": claim.reference, "opened": claim.created_on.isoformat(), "days_open": (today - claim.created_on).days} if claim else None


def _open_damage_claim(cases: list[Case], today: date, days: int) -> Case | None:
    for c in sorted(cases, key=lambda c: c.created_on):
        if c.kind != "damage_claim" or str(c.data.get("status", "")).lower() in RESOLVED:
            continue
        settled = any(o.kind in ("refund", "return") and o.created_on >= c.created_on for o in cases)
        if not settled and (today - c.created_on).days >= days:
            return c
    return None


def select(rule: Rule, orders: Iterable[Order], customers: Mapping[str, Customer], cases: Mapping[str, list[Case]],
           today: date) -> tuple[list[Target], dict[str, int]]:
    """The targets of ``rule`` (one per customer and order), and why other orders were left out."""
    targets: list[Target] = []
    skipped: dict[str, int] = {}
    for order in orders:
        facts = rule.facts(order, cases.get(order.id, []), today)
        if facts is None:
            continue
        customer = customers.get(order.customer_id)
        if customer is None or not customer.phone:
            skipped["no_phone"] = skipped.get("no_phone", 0) + 1
            continue
        targets.append(Target(customer.id, order.id, customer.phone, order.country or customer.country, customer.language,
                              customer.name, rule.kind, facts))
    return targets, skipped
