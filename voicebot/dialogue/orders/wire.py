"""JSON forms of the order records, as exchanged with a merchant's API (docs/order-api.md).

Pure functions: no I/O. ``*_from_json`` raises ValueError naming the bad field.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .models import SHIPMENT_STATES, Case, Customer, Item, Order, Shipment, TrackingEvent


def _d(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ValueError(f"{where}: expected a date like 2025-06-12, got {value!r}") from exc


def _req(obj: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj or obj[key] in (None, ""):
        raise ValueError(f"{where}.{key} is missing")
    return obj[key]


def customer_to_json(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "email": c.email, "phone": c.phone, "country": c.country, "language": c.language}


def customer_from_json(obj: dict[str, Any]) -> Customer:
    return Customer(str(_req(obj, "id", "customer")), str(obj.get("name", "")), str(obj.get("email", "")),
                    str(obj.get("phone", "")), str(obj.get("country", "")), str(obj.get("language", "")))


def order_to_json(o: Order) -> dict[str, Any]:
    s = o.shipment
    return {
        "id": o.id, "customer_id": o.customer_id, "placed_on": o.placed_on.isoformat(), "status": o.status,
        "currency": o.currency, "total": o.total, "country": o.country, "final_sale": o.final_sale,
        "items": [{"sku": i.sku, "quantity": i.quantity, "price": i.price} for i in o.items],
        "shipment": None if s is None else {
            "carrier": s.carrier, "tracking_number": s.tracking_number, "status": s.status,
            "expected_delivery": s.expected_delivery and s.expected_delivery.isoformat(),
            "delivered_on": s.delivered_on and s.delivered_on.isoformat(),
            "events": [{"day": e.day.isoformat(), "code": e.code, "location": e.location, "detail": e.detail} for e in s.events],
        },
    }


def order_from_json(obj: dict[str, Any]) -> Order:
    oid = str(_req(obj, "id", "order"))
    where = f"order {oid}"
    items = tuple(Item(str(_req(i, "sku", f"{where}.items[]")), int(i.get("quantity", 1)), float(i.get("price", 0)))
                  for i in obj.get("items") or [])
    shipment = None
    if s := obj.get("shipment"):
        status = str(_req(s, "status", f"{where}.shipment"))
        if status not in SHIPMENT_STATES:
            raise ValueError(f"{where}.shipment.status {status!r} is not one of {SHIPMENT_STATES}")
        events = tuple(TrackingEvent(_d(_req(e, "day", f"{where}.events[]"), f"{where}.events[].day"), str(_req(e, "code", f"{where}.events[]")),  # type: ignore[arg-type]
                                     str(e.get("location") or ""), str(e.get("detail") or "")) for e in s.get("events") or [])
        shipment = Shipment(str(s.get("carrier", "")), str(s.get("tracking_number", "")), status,
                            _d(s.get("expected_delivery"), f"{where}.shipment.expected_delivery"),
                            _d(s.get("delivered_on"), f"{where}.shipment.delivered_on"), events)
    placed = _d(_req(obj, "placed_on", where), f"{where}.placed_on")
    return Order(oid, str(_req(obj, "customer_id", where)), placed, str(obj.get("status", "processing")),  # type: ignore[arg-type]
                 str(obj.get("currency", "")), float(obj.get("total", 0)), str(obj.get("country", "")), items, shipment,
                 bool(obj.get("final_sale", False)))


def case_to_json(c: Case) -> dict[str, Any]:
    return {"reference": c.reference, "kind": c.kind, "order_id": c.order_id, "created_on": c.created_on.isoformat(), "data": c.data}


def case_from_json(obj: dict[str, Any]) -> Case:
    return Case(str(_req(obj, "reference", "case")), str(_req(obj, "kind", "case")), str(_req(obj, "order_id", "case")),
                _d(_req(obj, "created_on", "case"), "case.created_on"), dict(obj.get("data") or {}))  # type: ignore[arg-type]
