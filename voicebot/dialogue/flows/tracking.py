"""Where is my order, why is it late or stuck in customs, and it says delivered but is not here."""

from __future__ import annotations

from datetime import timedelta

from ..orders import Order
from .base import Flow, Pending


def _say_status(f: Flow, order: Order) -> None:
    """The order's situation in one or two sentences, facts only from the store and the KB."""
    s = order.shipment
    v = f.order_values(order)
    if s is None or s.status == "processing" or order.status == "processing":
        f.say("status_processing", **v)
        if line := f.res.kb.shipping_time(order.country, f.lang):
            f.out.parts.append(line)
            f.state.promises.append("shipping_time")
        return
    last = s.last_event
    where = last.location if last else ""
    if s.status == "customs_hold":
        _customs(f, order)
    elif s.status == "delivered":
        f.say("status_delivered", date=f.date(s.delivered_on), location=where, **v)
    elif s.expected_delivery is None:
        # The shop's system gives no delivery date (WooCommerce): say it shipped, and how long the
        # shop's own policy says delivery takes, rather than a date nobody gave.
        if s.tracking_number:
            f.say("status_shipped", carrier=s.carrier, tracking=s.tracking_number, **v)
        else:
            f.say("status_shipped_untracked", **v)
        if line := f.res.kb.shipping_time(order.country, f.lang):
            f.out.parts.append(line)
            f.state.promises.append("shipping_time")
    elif s.expected_delivery < f.today():
        f.say("status_late", date=f.date(s.expected_delivery), carrier=s.carrier, event_date=f.date(last.day if last else None), location=where, **v)
    else:
        f.say("status_in_transit", carrier=s.carrier, event_date=f.date(last.day if last else None), location=where,
              date=f.date(s.expected_delivery), tracking=s.tracking_number, **v)


def _customs(f: Flow, order: Order) -> None:
    s = order.shipment
    assert s is not None
    last = s.last_event
    f.say("status_customs", location=last.location if last else "", date=f.date(s.held_since()), **f.order_values(order))
    reason = next((e.detail for e in reversed(s.events) if e.code == "customs_hold"), "")
    entry = f"customs_{reason}" if f"customs_{reason}" in f.res.kb.entries else None
    if entry:
        f.say_kb(entry)  # what the caller must do, and how long after that
    f.say_kb("customs_hold")  # the usual timeline
    f.note("customs_explained", order_id=order.id, reason=reason or "unknown")


def _late(f: Flow, order: Order) -> None:
    """Late in transit: past the grace period we offer an investigation, before it we give a date."""
    s = order.shipment
    assert s is not None and s.expected_delivery is not None
    grace = int(f.res.kb.value("late_delivery", "grace_days"))
    if (f.today() - s.expected_delivery).days > grace:
        f.say_kb("late_delivery")
        f.ask("confirm_investigation", Pending("confirm", intent="shipping_delay", action="investigation"))
    else:
        f.say("wait_until", date=f.date(s.expected_delivery + timedelta(days=grace)))
        f.state.promises.append("late_delivery")
        f.close()


def _is_late(f: Flow, order: Order) -> bool:
    s = order.shipment
    return bool(s and s.status in ("in_transit", "out_for_delivery", "exception") and s.expected_delivery and s.expected_delivery < f.today())


async def order_status(f: Flow, order: Order) -> None:
    _say_status(f, order)
    if _is_late(f, order):
        _late(f, order)
    else:
        f.close()


async def shipping_delay(f: Flow, order: Order) -> None:
    s = order.shipment
    if s is not None and s.status == "delivered":
        # The parcel shows delivered: that is a different problem, so confirm it rather than assume.
        return await not_received(f, order)
    _say_status(f, order)
    if _is_late(f, order):
        _late(f, order)
    else:
        f.close()


async def not_received(f: Flow, order: Order) -> None:
    s = order.shipment
    if s is not None and s.status == "delivered":
        f.say("status_delivered", date=f.date(s.delivered_on), location=s.last_event.location if s.last_event else "", **f.order_values(order))
        f.ask("confirm_not_received", Pending("confirm", intent="not_received", action="investigation"))
        return
    f.say("not_yet_delivered")
    _say_status(f, order)
    if _is_late(f, order):
        _late(f, order)
    else:
        f.close()


async def open_investigation(f: Flow, order: Order) -> None:
    """Confirmed: open the carrier investigation (not received, or late past the grace period)."""
    delivered = order.shipment is not None and order.shipment.status == "delivered"
    case = await f.res.store.create_case("investigation", order.id, {"reason": "not_received" if delivered else "late", "language": f.lang})
    f.state.cases.append(case)
    f.state.allowed.add(case.reference)
    f.note("investigation_opened", order_id=order.id, reference=case.reference, reason=case.data["reason"])
    if delivered:
        f.say_kb("not_received")
    f.say("case_opened", reference=case.reference)
    f.close()
