"""The embedded SQLite order store and its sample data."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.dialogue.dialogue_kit import TODAY
from voicebot.dialogue.orders import OrderStoreError, same_phone
from voicebot.dialogue.orders.seed import KINDS, sample_data
from voicebot.dialogue.orders.sqlite_store import SqliteOrderStore


@pytest.fixture
def store(tmp_path) -> SqliteOrderStore:
    return SqliteOrderStore(tmp_path / "orders.sqlite3", today=lambda: TODAY)


def test_sample_data_is_realistic_and_varied() -> None:
    d = sample_data(TODAY)
    assert len({c.country for c in d.customers}) == 15 and {c.language for c in d.customers} >= {"en", "zh", "ar", "th", "vi"}
    assert all(c.phone.startswith("+") and "@" in c.email for c in d.customers)
    # Numbers only from ranges reserved for fiction: nobody real is ever called or named.
    assert all(re.fullmatch(r"\+447700900\d{3}|\+1\d{3}55501\d\d", c.phone) for c in d.customers), [c.phone for c in d.customers]
    ids = [o.id for o in d.orders]
    assert len(ids) == len(set(ids)) == 15 * len(KINDS)
    assert any(not i.isdigit() for i in ids)  # alphanumeric ids too
    statuses = {o.shipment.status for o in d.orders if o.shipment}
    assert statuses == {"in_transit", "customs_hold", "delivered"}
    reasons = {o.shipment.events[-1].detail for o in d.orders if o.shipment and o.shipment.status == "customs_hold"}
    assert reasons == {"duties_due", "documents_required", "inspection"}
    assert len({o.shipment.carrier for o in d.orders if o.shipment}) == 15


async def test_seeded_on_first_use_and_found_by_every_key(store, tmp_path) -> None:
    d = sample_data(TODAY)
    emma = d.customer_for_language("en")
    assert await store.find_customer(phone="07700 900123") == emma  # national form
    assert await store.find_customer(phone="+44 7700 900123") == emma
    assert await store.find_customer(email="EMMA.THOMPSON@example.co.uk") == emma
    assert await store.find_customer(customer_id="C001") == emma
    assert await store.find_customer(phone="+1 202 555 0112") == d.customer_for_language("th")  # not C008 (+1 202 555 0108)
    assert await store.find_customer(phone="(202) 555-0112") == d.customer_for_language("th")  # national form
    assert await store.find_customer(phone="+10000000000") is None
    order = d.order_of("C001", "customs_hold")
    assert await store.get_order(order.id) == order
    alnum = d.order_of("C001", "delivered_long_ago")
    assert await store.get_order(alnum.id.lower()) == alnum
    mine = await store.orders_for_customer("C001")
    assert {o.id for o in mine} == {o.id for o in d.orders if o.customer_id == "C001"}
    assert [o.placed_on for o in mine] == sorted((o.placed_on for o in mine), reverse=True)
    with sqlite3.connect(tmp_path / "orders.sqlite3") as con:
        assert con.execute("SELECT COUNT(*) FROM tracking_events").fetchone()[0] == sum(len(o.shipment.events) for o in d.orders if o.shipment)


async def test_cases_get_references_and_persist(store, tmp_path) -> None:
    d = sample_data(TODAY)
    order = d.order_of("C003", "processing")
    ret = await store.create_case("return", order.id, {"amount": 1.5})
    can = await store.create_case("cancellation", order.id, {})
    assert ret.reference == "RET-100001" and can.reference == "CAN-100002"
    again = SqliteOrderStore(tmp_path / "orders.sqlite3", today=lambda: TODAY)  # a new process
    assert [c.reference for c in await again.cases_for_order(order.id)] == ["RET-100001", "CAN-100002"]
    assert (await again.cases_for_order(order.id))[0].data == {"amount": 1.5}
    assert (await again.get_order(order.id)).status == "cancelled"
    assert len(await again.orders_for_customer("C003")) == len(KINDS)  # not seeded twice
    with pytest.raises(ValueError, match="unknown case kind"):
        await store.create_case("gift", order.id, {})


async def test_unusable_database_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "orders.sqlite3").mkdir()
    with pytest.raises(OrderStoreError, match="order database"):
        await SqliteOrderStore(tmp_path / "orders.sqlite3").get_order("1")


def test_same_phone() -> None:
    assert same_phone("+44 7700 900123", "07700900123")
    assert not same_phone("+12025550112", "+12025550108")
    assert not same_phone("+66812345678", "+8613812345678")
    assert not same_phone("123", "123") and not same_phone(None, "+1")
