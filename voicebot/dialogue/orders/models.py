"""Plain records for customers, orders, shipments and cases (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Shipment states the flows understand. A merchant's adapter maps its own states onto these.
SHIPMENT_STATES = ("processing", "in_transit", "out_for_delivery", "customs_hold", "delivered", "exception", "cancelled")
# Why customs holds a parcel; decides what the caller must do next.
CUSTOMS_REASONS = ("duties_due", "documents_required", "inspection")
CASE_KINDS = ("return", "refund", "investigation", "damage_claim", "cancellation", "address_change")


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    phone: str  # E.164
    country: str  # ISO 3166-1 alpha-2
    language: str  # ISO 639-1


@dataclass(frozen=True)
class Item:
    sku: str  # a product id in the knowledge base (its names live there, in every language)
    quantity: int = 1
    price: float = 0.0


@dataclass(frozen=True)
class TrackingEvent:
    day: date
    code: str  # one of SHIPMENT_STATES, or "picked_up" / "departed_hub" / "arrived_country"
    location: str = ""
    detail: str = ""  # for customs holds: one of CUSTOMS_REASONS


@dataclass(frozen=True)
class Shipment:
    carrier: str
    tracking_number: str
    status: str  # one of SHIPMENT_STATES
    expected_delivery: date | None = None
    delivered_on: date | None = None
    events: tuple[TrackingEvent, ...] = ()

    @property
    def last_event(self) -> TrackingEvent | None:
        return self.events[-1] if self.events else None

    def held_since(self) -> date | None:
        """The day the current customs hold began, when the parcel is held."""
        if self.status != "customs_hold":
            return None
        holds = [e for e in self.events if e.code == "customs_hold"]
        return holds[0].day if holds else None


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    placed_on: date
    status: str  # "processing" | "shipped" | "delivered" | "cancelled"
    currency: str
    total: float
    country: str  # destination
    items: tuple[Item, ...] = ()
    shipment: Shipment | None = None
    final_sale: bool = False

    @property
    def shipped(self) -> bool:
        return self.shipment is not None and self.shipment.status not in ("processing", "cancelled")


@dataclass(frozen=True)
class Case:
    """A request the bot created: a return, an investigation, a damage claim..."""

    reference: str
    kind: str  # one of CASE_KINDS
    order_id: str
    created_on: date
    data: dict[str, Any] = field(default_factory=dict)


def normalise_phone(value: str) -> str:
    """Digits only, with the leading + kept: ``+44 7700 900123`` -> ``+447700900123``."""
    value = value.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    return "+" + digits if value.startswith("+") else digits


def same_phone(a: str | None, b: str | None) -> bool:
    """Do two phone numbers name the same line? ``07700 900123`` (national) matches
    ``+44 7700 900123``: after dropping trunk zeros the shorter must end the longer."""
    if not a or not b:
        return False
    da = "".join(ch for ch in a if ch.isdigit()).lstrip("0")
    db = "".join(ch for ch in b if ch.isdigit()).lstrip("0")
    if len(da) < 7 or len(db) < 7:
        return False
    short, long_ = sorted((da, db), key=len)
    return long_.endswith(short) and len(long_) - len(short) <= 3  # at most a country code apart
