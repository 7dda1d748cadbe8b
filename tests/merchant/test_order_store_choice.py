"""Which order store answers: built-in names, the merchant's own by import path, demo mode said loudly."""

from __future__ import annotations

import logging

import pytest

from tests.dialogue.dialogue_kit import TODAY, Call, ScriptedNlu, nlu
from voicebot.config import ConfigError, Settings, load_settings
from voicebot.dialogue.engine import DialogueOptions, build_engine
from voicebot.dialogue.orders.factory import DEMO_WARNING, OrderStoreConfigError


async def test_a_store_by_import_path_with_its_options(tmp_path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"home: {tmp_path}\nshop: {{languages: [en]}}\n"
                   "dialogue:\n  order_store: tests.merchant.custom_store:ErpStore\n  order_store_options: {region: DE, currency: EUR}\n")
    settings = load_settings(cfg, env={})
    scripted = ScriptedNlu()
    engine = build_engine(settings, nlu=scripted, options=settings.dialogue.model_copy(update={"today": lambda: TODAY}))
    assert type(engine.store).__name__ == "ErpStore" and engine.store.region == "DE"
    call = Call(engine, scripted, "en", caller_number="+1 202 555 0142")
    await call.say(nlu("cancel_order", "en", order_id="erp1001"))
    reply = await call.say(nlu("affirm", "en"))
    assert "ERP-CAN-1" in reply.text and [c.kind for c in engine.store.cases] == ["cancellation"]


@pytest.mark.parametrize(("name", "options", "message"), [
    ("tests.merchant.custom_store:NotAStore", {}, r"does not make an OrderStore \(missing find_customer, orders_for_customer, "
                                                  r"create_case, cases_for_order; not async: get_order\)"),
    ("tests.merchant.custom_store:ErpStore", {"regoin": "DE"}, "refused dialogue.order_store_options: .*regoin"),
    ("tests.merchant.custom_store:Nothing", {}, "tests.merchant.custom_store has no Nothing"),
    ("no_such_package.orders:Store", {}, "cannot import no_such_package.orders .*install the package"),
    ("tests.merchant.custom_store:broken", {}, "failed to start: ConnectionError: ERP at erp.example.internal:5432 refused"),
])
def test_a_store_that_cannot_serve_is_refused_at_start(tmp_path, name, options, message) -> None:
    with pytest.raises(OrderStoreConfigError, match=message):
        build_engine(Settings(home=tmp_path), nlu=ScriptedNlu(), options=DialogueOptions(order_store=name, order_store_options=options))


@pytest.mark.parametrize(("value", "message"), [
    ("sqlite", "'sqlite' is now called 'demo'"),
    ("shopfiy", "'shopfiy' is not an order store; use one of demo, http, shopify, woocommerce or package.module:factory"),
    ("my store.py", "is not an order store"),
])
def test_a_misspelt_store_is_a_settings_error(value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env={"VOICEBOT_DIALOGUE__ORDER_STORE": value})


def test_there_is_no_default_store_and_the_demo_is_chosen_by_name(tmp_path, caplog) -> None:
    with pytest.raises(OrderStoreConfigError, match="no order store is configured.*docs/order-stores.md.*--demo"):
        build_engine(Settings(home=tmp_path), nlu=ScriptedNlu())
    assert not (tmp_path / "demo-orders.sqlite3").exists()
    caplog.set_level(logging.WARNING)
    engine = build_engine(Settings(home=tmp_path, dialogue={"order_store": "demo"}), nlu=ScriptedNlu())
    assert engine.options.order_store == "demo" and type(engine.store).__name__ == "SqliteOrderStore"
    assert any("DEMO ORDER STORE" in r.getMessage() for r in caplog.records)
    assert "fictional customers" in DEMO_WARNING and "docs/order-stores.md" in DEMO_WARNING
