"""Returns and refunds, damaged or wrong items, cancellations and address changes."""

from __future__ import annotations

from datetime import timedelta

from ..orders import Order
from .base import Flow, Pending


def _delivered(order: Order) -> bool:
    return order.shipment is not None and order.shipment.status == "delivered"


async def return_refund(f: Flow, order: Order) -> None:
    v = f.order_values(order)
    if not _delivered(order):
        f.say("return_not_delivered", **v)
        if not order.shipped:
            f.say_kb("cancel_rule")  # not shipped yet: cancelling is the quicker way to a refund
        return f.close()
    days = int(f.res.kb.value("return_window", "days"))
    delivered_on = order.shipment.delivered_on if order.shipment else None
    if order.final_sale:
        f.say_kb("final_sale")
        return f.close()
    if delivered_on and delivered_on + timedelta(days=days) < f.today():
        f.say("return_expired", date=f.date(delivered_on), days=days, **v)
        return f.close()
    f.ask("confirm_return", Pending("confirm", intent="return_refund", action="return"), **v)


async def create_return(f: Flow, order: Order) -> None:
    case = await f.res.store.create_case("return", order.id, {
        "skus": [i.sku for i in order.items], "amount": order.total, "currency": order.currency, "language": f.lang})
    f.state.cases.append(case)
    f.state.allowed.add(case.reference)
    f.note("refund_requested", order_id=order.id, reference=case.reference, amount=order.total, currency=order.currency)
    f.say("case_opened", reference=case.reference)
    f.say_kb("return_window")
    f.say_kb("refund_timing")
    f.close()


async def damaged_item(f: Flow, order: Order) -> None:
    if not _delivered(order):
        f.say("not_yet_delivered")
        return f.close()
    f.ask("confirm_damage", Pending("confirm", intent="damaged_item", action="damage_claim"), **f.order_values(order))


async def create_damage_claim(f: Flow, order: Order) -> None:
    case = await f.res.store.create_case("damage_claim", order.id, {"skus": [i.sku for i in order.items], "language": f.lang})
    f.state.cases.append(case)
    f.state.allowed.add(case.reference)
    f.note("claim_created", order_id=order.id, reference=case.reference)
    f.say("case_opened", reference=case.reference)
    f.say_kb("damaged_claim")
    f.close()


async def cancel_order(f: Flow, order: Order) -> None:
    if order.shipped or order.status in ("shipped", "delivered"):
        f.say_kb("cancel_shipped")
        return f.close()
    f.ask("confirm_cancel", Pending("confirm", intent="cancel_order", action="cancel"), **f.order_values(order))


async def do_cancel(f: Flow, order: Order) -> None:
    case = await f.res.store.create_case("cancellation", order.id, {"amount": order.total, "currency": order.currency})
    f.state.cases.append(case)
    f.state.allowed.add(case.reference)
    f.note("order_cancelled", order_id=order.id, reference=case.reference, amount=order.total, currency=order.currency)
    f.say("case_opened", reference=case.reference)
    f.say_kb("cancel_rule")
    f.close()


async def change_address(f: Flow, order: Order) -> None:
    if order.shipped or order.status in ("shipped", "delivered"):
        f.say_kb("address_change_shipped")
        if order.shipment:
            f.say("tracking_number", tracking=order.shipment.tracking_number)
        return f.close()
    customer = f.state.customer
    case = await f.res.store.create_case("address_change", order.id, {"sent_to": customer.email if customer else None})
    f.state.cases.append(case)
    f.note("address_change_link_sent", order_id=order.id, reference=case.reference)
    f.say_kb("address_change")
    if customer:
        f.state.allowed.add(customer.email)
        f.say("address_link_sent", email=customer.email)
    f.close()
