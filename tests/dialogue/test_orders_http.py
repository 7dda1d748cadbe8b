"""HttpOrderStore against a small merchant API (the endpoints of docs/order-api.md) served by
aiohttp on 127.0.0.1 for the test, backed by the sample data."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.dialogue.dialogue_kit import TODAY, Call, ScriptedNlu, nlu
from voicebot.config import Settings
from voicebot.dialogue.engine import DialogueOptions, build_engine
from voicebot.dialogue.orders import OrderStoreError
from voicebot.dialogue.orders.http_store import HttpOrderStore, HttpStoreOptions
from voicebot.dialogue.orders.seed import sample_data
from voicebot.dialogue.orders.sqlite_store import SqliteOrderStore
from voicebot.dialogue.orders.wire import case_to_json, customer_to_json, order_to_json

TOKEN = "merchant-secret"


def merchant_app(backend: SqliteOrderStore, seen: list[str]) -> web.Application:
    """What a merchant implements, per docs/order-api.md."""

    @web.middleware
    async def auth(request: web.Request, handler):
        seen.append(f"{request.method} {request.path_qs}")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return await handler(request)

    async def get_order(request: web.Request) -> web.Response:
        if request.match_info["order_id"] == "BROKEN":
            return web.json_response({"id": "BROKEN", "placed_on": "yesterday", "customer_id": "C1"})
        if request.match_info["order_id"] == "FAIL":
            return web.Response(status=503, text="maintenance")
        order = await backend.get_order(request.match_info["order_id"])
        return web.json_response(order_to_json(order)) if order else web.json_response({"error": "not found"}, status=404)

    async def find_customer(request: web.Request) -> web.Response:
        q = request.query
        c = await backend.find_customer(customer_id=q.get("id"), phone=q.get("phone"), email=q.get("email"))
        return web.json_response(customer_to_json(c)) if c else web.json_response({"error": "not found"}, status=404)

    async def customer_orders(request: web.Request) -> web.Response:
        orders = await backend.orders_for_customer(request.match_info["customer_id"])
        return web.json_response({"orders": [order_to_json(o) for o in orders]})

    async def create_case(request: web.Request) -> web.Response:
        body = await request.json()
        if await backend.get_order(request.match_info["order_id"]) is None:
            return web.json_response({"error": "not found"}, status=404)
        case = await backend.create_case(body["kind"], request.match_info["order_id"], body.get("data") or {})
        return web.json_response(case_to_json(case), status=201)

    async def list_cases(request: web.Request) -> web.Response:
        return web.json_response({"cases": [case_to_json(c) for c in await backend.cases_for_order(request.match_info["order_id"])]})

    app = web.Application(middlewares=[auth])
    app.add_routes([web.get("/v1/orders/{order_id}", get_order), web.get("/v1/customers", find_customer),
                    web.get("/v1/customers/{customer_id}/orders", customer_orders),
                    web.post("/v1/orders/{order_id}/cases", create_case), web.get("/v1/orders/{order_id}/cases", list_cases)])
    return app


@pytest.fixture
async def merchant(tmp_path):
    seen: list[str] = []
    runner = web.AppRunner(merchant_app(SqliteOrderStore(tmp_path / "merchant.sqlite3", today=lambda: TODAY), seen))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1", seen
    await runner.cleanup()


async def test_round_trip_every_endpoint(merchant) -> None:
    url, seen = merchant
    store = HttpOrderStore(HttpStoreOptions(url, TOKEN))
    d = sample_data(TODAY)
    try:
        order = d.order_of("C009", "customs_hold")
        assert await store.get_order(order.id) == order
        assert await store.get_order("00000") is None
        assert await store.find_customer(phone="+1 202 555 0109") == d.customer_for_language("ja")
        assert await store.find_customer(email="nobody@example.com") is None
        assert len(await store.orders_for_customer("C009")) == 6
        case = await store.create_case("damage_claim", order.id, {"skus": ["coat-wool-red"]})
        assert case.reference.startswith("CLM-") and case.data == {"skus": ["coat-wool-red"]}
        assert await store.cases_for_order(order.id) == [case]
        with pytest.raises(OrderStoreError, match="does not know order"):
            await store.create_case("return", "00000", {})
    finally:
        await store.close()
    assert "GET /v1/customers?phone=%2B1+202+555+0109" in seen


async def test_errors_are_clear(merchant) -> None:
    url, _ = merchant
    bad_token = HttpOrderStore(HttpStoreOptions(url, "wrong"))
    with pytest.raises(OrderStoreError, match="answered 401"):
        await bad_token.get_order("1")
    await bad_token.close()
    store = HttpOrderStore(HttpStoreOptions(url, TOKEN))
    with pytest.raises(OrderStoreError, match="answered 503"):
        await store.get_order("FAIL")
    with pytest.raises(OrderStoreError, match="malformed order.*placed_on"):
        await store.get_order("BROKEN")
    await store.close()
    down = HttpOrderStore(HttpStoreOptions("http://127.0.0.1:9/v1", TOKEN, timeout_s=2))
    with pytest.raises(OrderStoreError, match="merchant endpoint up"):
        await down.get_order("1")
    await down.close()


async def test_dialogue_runs_on_the_merchant_api(merchant, tmp_path, monkeypatch) -> None:
    url, seen = merchant
    monkeypatch.setenv("VOICEBOT_ORDER_API_TOKEN", TOKEN)
    scripted = ScriptedNlu()
    engine = build_engine(Settings(home=tmp_path / "bot"), nlu=scripted,
                          options=DialogueOptions(order_store="http", order_api_url=url, today=lambda: TODAY))
    d = sample_data(TODAY)
    c = d.customer_for_language("vi")
    call = Call(engine, scripted, "vi", caller_number=c.phone)
    order = d.order_of(c.id, "delivered")
    await call.say(nlu("return_refund", "vi", order_id=order.id))
    reply = await call.say(nlu("affirm", "vi"))
    ref = call.notes("refund_requested")[0].data["reference"]
    assert ref in reply.text and any(s.startswith(f"POST /v1/orders/{order.id}/cases") for s in seen)
    assert not (tmp_path / "bot" / "demo-orders.sqlite3").exists()  # nothing embedded was used
    await engine.close()


def test_http_store_needs_a_url(tmp_path) -> None:
    with pytest.raises(ValueError, match="order_api_url"):
        build_engine(Settings(home=tmp_path), nlu=ScriptedNlu(), options=DialogueOptions(order_store="http"))
