"""The Shopify adapter against a local stand-in of the Admin GraphQL API (tests/merchant/shopify_standin.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp import web

from tests.dialogue.dialogue_kit import TODAY, Call, ScriptedNlu, nlu
from tests.merchant.shopify_standin import ShopifyStandIn
from voicebot.config import Settings
from voicebot.dialogue.engine import DialogueOptions, build_engine
from voicebot.dialogue.orders import OrderStoreError
from voicebot.dialogue.orders.options import ShopifyOptions
from voicebot.dialogue.orders.seed import sample_data
from voicebot.dialogue.orders.shopify import ShopifyOrderStore

TOKEN = "shpat_standin_0123456789"


class Clock:
    """The test's sleep: records each wait and moves the stand-in's clock; nothing waits for real."""

    def __init__(self, shop: ShopifyStandIn) -> None:
        self.shop, self.waits = shop, []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.shop.now += seconds


@pytest.fixture
async def shop():
    standin = ShopifyStandIn.from_sample(sample_data(TODAY), TOKEN)
    runner = web.AppRunner(standin.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    standin.url = f"http://127.0.0.1:{port}"
    yield standin
    await runner.cleanup()


def store_for(shop: ShopifyStandIn, **kw) -> tuple[ShopifyOrderStore, Clock]:
    clock = Clock(shop)
    options = ShopifyOptions(shop_domain=shop.url, access_token=kw.pop("token", TOKEN), **kw)
    return ShopifyOrderStore(options, today=lambda: TODAY, sleep=clock), clock


async def test_orders_map_onto_the_bots_model(shop) -> None:
    d = sample_data(TODAY)
    store, _ = store_for(shop)
    c = d.customer_for_language("de")
    for kind in ("in_transit", "customs_hold", "delivered", "processing", "late_in_transit", "delivered_long_ago"):
        want = d.order_of(c.id, kind)
        got = await store.get_order(want.id.lower())  # callers' ids are case-insensitive
        assert got is not None, kind
        assert (got.id, got.placed_on, got.status, got.currency, got.total, got.country, got.final_sale) == \
            (want.id, want.placed_on, want.status, want.currency, want.total, want.country, want.final_sale), kind
        assert [(i.sku, i.quantity, i.price) for i in got.items] == [(i.sku, i.quantity, i.price) for i in want.items]
        if want.shipment is None:
            assert got.shipment is None
            continue
        g, w = got.shipment, want.shipment
        assert (g.carrier, g.tracking_number, g.status, g.expected_delivery, g.delivered_on) == \
            (w.carrier, w.tracking_number, w.status, w.expected_delivery, w.delivered_on), kind
        assert [(e.day, e.code if e.code in ("picked_up", "delivered", "customs_hold", "out_for_delivery") else "in_transit", e.detail
                 if e.code == "customs_hold" else "") for e in g.events] == \
            [(e.day, e.code if e.code in ("picked_up", "delivered", "customs_hold", "out_for_delivery") else "in_transit", e.detail
              if e.code == "customs_hold" else "") for e in w.events], kind
    assert got.customer_id == shop.order(want.id)["customer"]["__ref"]
    assert await store.get_order("99999999") is None
    await store.close()


async def test_customers_by_phone_email_and_id(shop) -> None:
    d = sample_data(TODAY)
    store, _ = store_for(shop)
    c = d.customer_for_language("ja")
    by_phone = await store.find_customer(phone=c.phone)
    assert by_phone is not None and (by_phone.name, by_phone.email, by_phone.country, by_phone.language) == (c.name, c.email, c.country, "ja")
    assert by_phone.id.startswith("gid://shopify/Customer/")
    assert await store.find_customer(email=c.email.upper()) == by_phone
    assert await store.find_customer(customer_id=by_phone.id) == by_phone
    assert await store.find_customer(phone="+12025550199") is None and await store.find_customer(email="nobody@example.com") is None
    assert await store.find_customer() is None
    await store.close()


async def test_a_customers_orders_newest_first_across_pages(shop) -> None:
    d = sample_data(TODAY)
    c = d.customer_for_language("fr")
    gid = next(g for g, x in shop.customers.items() if x["email"] == c.email)
    old = d.order_of(c.id, "delivered_long_ago")
    for n in range(16):  # a loyal customer: 22 orders in all
        shop.add_order(replace(old, id=f"X{n:03d}", placed_on=old.placed_on - timedelta(days=n + 1)), gid, 9000 + n)
    store, _ = store_for(shop, max_orders=15)
    orders = await store.orders_for_customer(gid)
    assert len(orders) == 15
    assert [o.placed_on for o in orders] == sorted((o.placed_on for o in orders), reverse=True)
    pages = [r for r in shop.requests if "orders(first: $first" in r["query"]]
    assert [r["variables"]["first"] for r in pages] == [10, 5] and pages[1]["variables"]["after"]
    await store.close()


async def test_cases_are_tags_and_a_cancellation_cancels(shop) -> None:
    d = sample_data(TODAY)
    c = d.customer_for_language("en")
    processing = d.order_of(c.id, "processing")
    store, _ = store_for(shop)
    first = await store.create_case("return", processing.id, {"skus": ["x"]})
    second = await store.create_case("return", processing.id, {})
    assert (first.reference, second.reference) == (f"RET-{processing.id}-1", f"RET-{processing.id}-2")
    assert f"voicebot:1:RET-{processing.id}-1:260316" in shop.order(processing.id)["tags"]
    assert all(len(t) <= 40 for t in shop.order(processing.id)["tags"])  # Shopify's limit for a tag
    cancel = await store.create_case("cancellation", processing.id, {})
    assert shop.cancelled == [f"#{processing.id}"]
    assert [(x.reference, x.kind, x.created_on) for x in await store.cases_for_order(processing.id)] == \
        [(first.reference, "return", TODAY), (second.reference, "return", TODAY), (cancel.reference, "cancellation", TODAY)]
    assert (await store.get_order(processing.id)).status == "cancelled"
    tag_only, _ = store_for(shop, cancel_orders=False)
    other = d.order_of(d.customer_for_language("es").id, "processing")
    await tag_only.create_case("cancellation", other.id, {})
    assert shop.cancelled == [f"#{processing.id}"]  # tagged for staff, not cancelled
    with pytest.raises(OrderStoreError, match="does not know order NOPE"):
        await store.create_case("return", "NOPE", {})
    await store.close()
    await tag_only.close()


async def test_query_cost_throttling_waits_for_the_bucket(shop) -> None:
    """A THROTTLED answer says how much the query costs, how much is left and how fast it refills:
    the adapter waits exactly that long (on the test's clock) and asks again; a wait longer than
    a caller can bear is an error instead."""
    d = sample_data(TODAY)
    c = d.customer_for_language("it")
    gid = next(g for g, x in shop.customers.items() if x["email"] == c.email)
    store, clock = store_for(shop, max_wait_s=2.0)
    cost = shop.requested_cost({"first": 10}, store_query())
    shop.restore_rate, shop.available = 50.0, cost - 60.0  # spent by earlier calls: 60 points short
    orders = await store.orders_for_customer(gid)
    assert len(orders) == 6 and clock.waits == [1.2]  # 60 points at 50 a second
    assert [r["at"] for r in shop.requests[-2:]] == [0.0, 1.2]  # asked again once refilled
    shop.available = 0.0
    impatient, clock2 = store_for(shop, max_wait_s=0.5)
    with pytest.raises(OrderStoreError, match=r"rate-limiting the bot \(GraphQL query cost: asked to wait .* more than the 0.5 s"):
        await impatient.orders_for_customer(gid)
    assert clock2.waits == []
    await store.close()
    await impatient.close()


def store_query() -> str:
    from voicebot.dialogue.orders.shopify import Q_CUSTOMER_ORDERS

    return Q_CUSTOMER_ORDERS


async def test_http_429_retry_after_is_waited_within_budget(shop) -> None:
    shop.status_queue = [(429, {"Retry-After": "1.5"})]
    store, clock = store_for(shop)
    d = sample_data(TODAY)
    assert await store.get_order(d.orders[0].id) is not None
    assert clock.waits == [1.5]
    shop.status_queue = [(429, {"Retry-After": "30"})]
    with pytest.raises(OrderStoreError, match="HTTP 429: asked to wait 30.0 s"):
        await store.get_order(d.orders[0].id)
    await store.close()


async def test_wrong_token_version_and_timeouts_are_clear_errors(shop) -> None:
    bad, _ = store_for(shop, token="shpat_wrong")
    with pytest.raises(OrderStoreError, match=r"Shopify refused the bot's credentials \(401.*access_token.*read_orders"):
        await bad.get_order("1")
    old, _ = store_for(shop, api_version="2019-04")
    with pytest.raises(OrderStoreError, match="answered 404"):
        await old.get_order("1")
    shop.delay_s = 1.0
    slow, _ = store_for(shop, timeout_s=0.2)
    with pytest.raises(OrderStoreError, match="is the shop reachable"):
        await slow.get_order("1")
    for s in (bad, old, slow):
        await s.close()


async def test_a_call_runs_on_shopify(shop, tmp_path) -> None:
    """The dialogue as configured in settings: order_store shopify, the caller identified by phone,
    a parcel held at customs explained with its reason, a cancellation carried out."""
    settings = Settings(home=tmp_path, shop={"languages": ["es", "en"]})
    options = DialogueOptions(order_store="shopify", shopify={"shop_domain": shop.url, "access_token": TOKEN}, today=lambda: TODAY)
    scripted = ScriptedNlu()
    engine = build_engine(settings, nlu=scripted, options=options)
    d = sample_data(TODAY)
    c = d.customer_for_language("es")
    held = d.order_of(c.id, "customs_hold")
    call = Call(engine, scripted, "es", caller_number=c.phone)
    reply = await call.say(nlu("shipping_delay", "es", order_id=held.id))
    reason = held.shipment.events[-1].detail
    assert engine.kb.say(f"customs_{reason}", "es") in reply.text
    processing = d.order_of(c.id, "processing")
    call = Call(engine, scripted, "es", caller_number=c.phone)
    await call.say(nlu("cancel_order", "es", order_id=processing.id))
    reply = await call.say(nlu("affirm", "es"))
    assert f"CAN-{processing.id}-1" in reply.text and shop.cancelled == [f"#{processing.id}"]
    assert not (tmp_path / "demo-orders.sqlite3").exists()
    await engine.close()
