"""The WooCommerce adapter against a local stand-in of the REST API v3 (tests/merchant/woocommerce_standin.py)."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from tests.dialogue.dialogue_kit import TODAY, Call, ScriptedNlu, nlu
from tests.merchant.woocommerce_standin import WooStandIn
from voicebot.config import Settings
from voicebot.dialogue.engine import DialogueOptions, build_engine
from voicebot.dialogue.orders import OrderStoreError
from voicebot.dialogue.orders.factory import OrderStoreConfigError
from voicebot.dialogue.orders.options import WooCommerceOptions
from voicebot.dialogue.orders.seed import sample_data
from voicebot.dialogue.orders.woocommerce import WooCommerceOrderStore

KEY, SECRET = "ck_standin_1234", "cs_standin_5678"
D = sample_data(TODAY)
GUEST = D.customer_for_language("pt")


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def woo():
    standin = WooStandIn.from_sample(D, KEY, SECRET, guests=(GUEST.id,))
    runner = web.AppRunner(standin.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    standin.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield standin
    await runner.cleanup()


def store_for(woo: WooStandIn, **kw) -> tuple[WooCommerceOrderStore, Waits]:
    waits = Waits()
    options = WooCommerceOptions(url=woo.url, consumer_key=kw.pop("key", KEY), consumer_secret=kw.pop("secret", SECRET), **kw)
    return WooCommerceOrderStore(options, today=lambda: TODAY, sleep=waits), waits


async def test_orders_map_onto_the_bots_model(woo) -> None:
    store, _ = store_for(woo)
    c = D.customer_for_language("de")
    shipped, processing = D.order_of(c.id, "in_transit"), D.order_of(c.id, "processing")
    got = await store.get_order(shipped.id)
    assert (got.id, got.placed_on, got.status, got.currency, got.total, got.country) == \
        (shipped.id, shipped.placed_on, "shipped", shipped.currency, shipped.total, shipped.country)
    assert [(i.sku, i.quantity, i.price) for i in got.items] == [(i.sku, i.quantity, i.price) for i in shipped.items]
    assert (got.shipment.carrier, got.shipment.tracking_number, got.shipment.status) == \
        (shipped.shipment.carrier, shipped.shipment.tracking_number, "in_transit")
    assert got.shipment.events[0].code == "picked_up" and got.customer_id == str(woo.orders[int(shipped.id)]["customer_id"])
    p = await store.get_order(f"#{processing.id}")
    assert p.status == "processing" and p.shipment is None
    assert await store.get_order("A1234K") is None and await store.get_order("999999") is None
    await store.close()


async def test_customers_by_email_phone_and_guests(woo) -> None:
    store, _ = store_for(woo)
    c = D.customer_for_language("ko")
    by_email = await store.find_customer(email=c.email.upper())
    assert by_email is not None and (by_email.name, by_email.email, by_email.country) == (c.name, c.email, c.country)
    # The shop stored "202 555 0110"; the caller's line is E.164.
    assert await store.find_customer(phone=c.phone) == by_email
    assert await store.find_customer(customer_id=by_email.id) == by_email
    guest = await store.find_customer(phone=GUEST.phone)
    assert guest is not None and guest.id == f"guest:{GUEST.email}" and guest.name == GUEST.name
    assert await store.find_customer(email=GUEST.email) == guest
    orders = await store.orders_for_customer(guest.id)
    assert {o.id for o in orders} == {o.id for o in D.orders if o.customer_id == GUEST.id and o.id.isdigit()}
    assert await store.find_customer(phone="+12025550199") is None and await store.find_customer(email="no@example.com") is None
    await store.close()


async def test_a_customers_orders_are_paged_newest_first(woo) -> None:
    c = D.customer_for_language("fr")
    store, _ = store_for(woo, max_orders=20)
    number = next(n for n, x in woo.customers.items() if x["email"] == c.email)
    base = woo.orders[int(D.order_of(c.id, "delivered").id)]
    for n in range(14):  # 19 orders in all: two pages of 10
        woo.orders[800000 + n] = {**base, "id": 800000 + n, "number": str(800000 + n), "date_created": f"2025-0{1 + n % 9}-0{1 + n % 8}T10:00:00"}
    orders = await store.orders_for_customer(str(number))
    assert len(orders) == 19 and [o.placed_on for o in orders] == sorted((o.placed_on for o in orders), reverse=True)
    pages = [r for r in woo.requests if r.startswith("GET /wp-json/wc/v3/orders?") and f"customer={number}" in r]
    assert [re.search(r"[?&]page=(\d+)", r).group(1) for r in pages] == ["1", "2"]
    await store.close()


async def test_cases_are_private_notes_and_a_cancellation_cancels(woo) -> None:
    c = D.customer_for_language("en")
    processing = D.order_of(c.id, "processing")
    store, _ = store_for(woo)
    ret = await store.create_case("return", processing.id, {"skus": ["mug-set-4"]})
    claim = await store.create_case("damage_claim", processing.id, {})
    cancel = await store.create_case("cancellation", processing.id, {"amount": 1})
    assert (ret.reference, claim.reference, cancel.reference) == (f"RET-{processing.id}-1", f"CLM-{processing.id}-1", f"CAN-{processing.id}-1")
    notes = woo.notes[int(processing.id)]
    assert notes[0]["note"] == f'voicebot case RET-{processing.id}-1: return {{"skus": ["mug-set-4"]}}' and not notes[0]["customer_note"]
    assert woo.orders[int(processing.id)]["status"] == "cancelled"
    assert [(x.reference, x.kind) for x in await store.cases_for_order(processing.id)] == \
        [(ret.reference, "return"), (claim.reference, "damage_claim"), (cancel.reference, "cancellation")]
    keep, _ = store_for(woo, cancel_orders=False)
    other = D.order_of(D.customer_for_language("es").id, "processing")
    await keep.create_case("cancellation", other.id, {})
    assert woo.orders[int(other.id)]["status"] == "processing"  # a note for staff only
    await store.close()
    await keep.close()


async def test_without_the_tracking_extension_orders_still_read(woo) -> None:
    woo.tracking_extension = False
    store, _ = store_for(woo)
    shipped = D.order_of(D.customer_for_language("it").id, "in_transit")
    got = await store.get_order(shipped.id)
    assert got.status == "shipped" and got.shipment is not None and got.shipment.tracking_number == ""
    await store.get_order(shipped.id)
    assert sum("shipment-trackings" in r for r in woo.requests) == 1  # asked once, then not again
    await store.close()


async def test_auth_rate_limits_and_transport_errors(woo) -> None:
    bad, _ = store_for(woo, secret="cs_wrong")
    with pytest.raises(OrderStoreError, match=r"WooCommerce refused the bot's credentials \(401.*Invalid signature.*consumer_secret"):
        await bad.get_order("12345")
    query, _ = store_for(woo, query_string_auth=True)
    assert await query.get_order(D.order_of(D.customer_for_language("en").id, "in_transit").id) is not None
    assert all("cs_standin" not in r for r in woo.requests)  # the secret never reaches a log line of the request
    woo.status_queue = [(429, {"Retry-After": "0.75"})]
    store, waits = store_for(woo)
    assert await store.get_order(D.order_of(D.customer_for_language("en").id, "in_transit").id) is not None
    assert waits.waits == [0.75]
    woo.status_queue = [(503, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})]
    with pytest.raises(OrderStoreError, match="rate-limiting the bot"):
        await store.get_order("12345")
    down, _ = store_for(woo)
    down.base = "http://127.0.0.1:9/wp-json/wc/v3"
    with pytest.raises(OrderStoreError, match="is the shop reachable"):
        await down.get_order("12345")
    for s in (bad, query, store, down):
        await s.close()


def test_plain_http_to_another_machine_is_refused(tmp_path) -> None:
    options = DialogueOptions(order_store="woocommerce", woocommerce={"url": "http://shop.example.com", "consumer_key": KEY,
                                                                     "consumer_secret": SECRET})
    with pytest.raises(OrderStoreConfigError, match="plain HTTP: the consumer secret would cross the network in clear; use https://"):
        build_engine(Settings(home=tmp_path), nlu=ScriptedNlu(), options=options)
    with pytest.raises(OrderStoreConfigError, match="set dialogue.woocommerce.url, consumer_key and consumer_secret"):
        build_engine(Settings(home=tmp_path), nlu=ScriptedNlu(), options=DialogueOptions(order_store="woocommerce"))


async def test_a_call_runs_on_woocommerce(woo, tmp_path) -> None:
    settings = Settings(home=tmp_path, shop={"languages": ["en", "de"]})
    options = DialogueOptions(order_store="woocommerce", woocommerce={"url": woo.url, "consumer_key": KEY, "consumer_secret": SECRET},
                              today=lambda: TODAY)
    scripted = ScriptedNlu()
    engine = build_engine(settings, nlu=scripted, options=options)
    c = D.customer_for_language("de")
    shipped = D.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "de", caller_number=c.phone)
    reply = await call.say(nlu("order_status", "de", order_id=shipped.id))
    # WooCommerce gives no delivery date: the bot says it shipped, the tracking number, and the
    # shop's own shipping time for the destination, never a made-up date.
    assert engine.templates.render("status_shipped", "de", order_id=shipped.id, items=engine.templates.join(
        [engine.kb.name(i.sku, "de") for i in shipped.items], "de"), carrier=shipped.shipment.carrier,
        tracking=shipped.shipment.tracking_number) in reply.text
    assert engine.kb.shipping_time(shipped.country, "de") in reply.text and "geplant" not in reply.text
    processing = D.order_of(c.id, "processing")
    call = Call(engine, scripted, "de", caller_number=c.phone)
    await call.say(nlu("cancel_order", "de", order_id=processing.id))
    reply = await call.say(nlu("affirm", "de"))
    assert f"CAN-{processing.id}-1" in reply.text and woo.orders[int(processing.id)]["status"] == "cancelled"
    await engine.close()
