"""Greeting, identity checks, escalation with its context packet, goodbye, barge-in."""

from __future__ import annotations

import pytest

from tests.dialogue.dialogue_kit import Call, data, make_engine, nlu
from voicebot.dialogue.api import CallContext, DialogueSession
from voicebot.dialogue.nlu_types import LANGUAGES


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_greeting_in_known_language_says_who_and_what(engine, lang) -> None:
    session = engine.new_session(CallContext("c", language=lang))
    assert isinstance(session, DialogueSession)
    reply = await session.greet()
    assert reply.language == lang and reply.text == engine.templates.render("greeting", lang, shop="Acme Shop")
    assert "Acme Shop" in reply.text


async def test_greeting_defaults_to_english_and_uses_the_name(engine) -> None:
    assert (await engine.new_session(CallContext("c")).greet()).language == "en"
    reply = await engine.new_session(CallContext("c", language="ja", customer_name="佐藤")).greet()
    assert reply.text.startswith("佐藤様")
    assert "other languages" in (await engine.new_session(CallContext("c", language="xx")).greet()).text


async def test_greeting_is_configurable_per_language(tmp_path, scripted) -> None:
    engine = make_engine(tmp_path, scripted, shop_name="Nordwind", greetings={"de": "Willkommen bei {shop}, {name}!"})
    reply = await engine.new_session(CallContext("c", language="de", customer_name="Lukas")).greet()
    assert reply.text == "Willkommen bei Nordwind, Lukas!"
    assert "Nordwind" in (await engine.new_session(CallContext("c", language="fr")).greet()).text


@pytest.mark.parametrize("lang", ["en", "es", "ar", "zh"])
async def test_unknown_caller_verified_by_email_before_any_detail(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, lang, caller_number="+15550001111")
    reply = await call.say(nlu("order_status", lang, order_id=order.id))
    assert reply.text.endswith(engine.templates.render("ask_email", lang))
    assert order.shipment.tracking_number not in reply.text
    assert scripted.expecting[-1] is None
    reply = await call.say(nlu("affirm", lang, email=c.email.upper()))
    assert scripted.expecting[-1] == "email"
    assert call.notes("identity_verified")[0].data == {"method": "email", "customer_id": c.id}
    assert order.shipment.tracking_number in reply.text


async def test_wrong_email_twice_discloses_nothing_and_hands_over(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "en", caller_number=d.customer_for_language("de").phone)  # someone else's phone
    await call.say(nlu("order_status", "en", order_id=order.id))
    r1 = await call.say(nlu("affirm", "en", email="someone@else.com"))
    r2 = await call.say(nlu("affirm", "en", email="another@else.com"))
    for r in call.replies:
        assert order.shipment.tracking_number not in r.text and c.email not in r.text
    assert "doesn't match" in r1.text and r2.transfer.reason == "policy"
    assert r2.transfer.context["caller"]["verified"] is False
    assert len(call.notes("identity_failed")) == 2


async def test_caller_asks_for_a_human_with_full_context_packet(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("es")
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, "es", caller_number=c.phone)
    await call.say(nlu("return_refund", "es", order_id=order.id), text="quiero devolver el pedido")
    await call.say(nlu("affirm", "es"), text="sí")
    reply = await call.say(nlu("human_agent", "es", escalate=True, sentiment="negative"), text="quiero hablar con una persona")
    t = reply.transfer
    assert t.reason == "caller_asked" and t.queue == "es"
    assert reply.text == engine.templates.render("transfer_caller_asked", "es")  # says why and what happens next
    ctx = t.context
    assert ctx["caller"] == {"number": c.phone, "customer_id": c.id, "name": c.name, "verified": True, "verified_by": "caller_number"}
    assert ctx["language"] == "es" and ctx["orders"] == [order.id]
    assert [h["text"] for h in ctx["transcript"] if h["role"] == "caller"] == ["quiero devolver el pedido", "sí", "quiero hablar con una persona"]
    assert ctx["intents"] == ["return_refund", "affirm", "human_agent"]
    assert ctx["sentiment"] == "negative"
    assert ctx["cases"][0]["kind"] == "return" and ctx["cases"][0]["reference"] in ctx["summary"]
    assert "return_window" in ctx["promised"] and ctx["bot_said"][-1] == reply.text


async def test_strong_frustration_escalates(engine, scripted) -> None:
    call = Call(engine, scripted, "de")
    reply = await call.say(nlu("complaint", "de", sentiment="angry", frustration=0.9))
    assert reply.transfer.reason == "frustration"
    assert reply.text == engine.templates.render("transfer_frustration", "de")


async def test_accumulated_frustration_escalates(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    r1 = await call.say(nlu("order_status", "en", order_id=d.order_of(c.id, "in_transit").id, sentiment="negative", frustration=0.5))
    r2 = await call.say(nlu("shipping_delay", "en", order_id=d.order_of(c.id, "customs_hold").id, sentiment="negative", frustration=0.6))
    assert r1.transfer is None and r2.transfer is None
    r3 = await call.say(nlu("complaint", "en", sentiment="negative", frustration=0.79))
    assert r3.transfer.reason == "frustration"  # 0.5 -> 0.85 -> 1.215: no single turn reached 0.8


async def test_threat_flagged_by_nlu_escalates(engine, scripted) -> None:
    call = Call(engine, scripted, "ru")
    reply = await call.say(nlu("complaint", "ru", sentiment="negative", frustration=0.5, escalate=True))
    assert reply.transfer.reason == "frustration"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_two_misunderstandings_in_a_row_hand_over(engine, scripted, lang) -> None:
    call = Call(engine, scripted, lang)
    r1 = await call.say(nlu("out_of_scope", lang, confidence=0.2))
    assert r1.text == engine.templates.render("not_understood", lang) and r1.transfer is None
    r2 = await call.say(nlu("out_of_scope", lang, confidence=0.2))
    assert r2.transfer.reason == "not_understood"
    assert r2.text == engine.templates.render("transfer_not_understood", lang)


async def test_understood_turn_resets_the_misunderstanding_count(engine, scripted) -> None:
    call = Call(engine, scripted, "en")
    await call.say(nlu("out_of_scope", "en", confidence=0.1))
    await call.say(nlu("greeting", "en"))
    reply = await call.say(nlu("out_of_scope", "en", confidence=0.1))
    assert reply.transfer is None


async def test_order_number_not_found_twice_hands_over(engine, scripted) -> None:
    call = Call(engine, scripted, "en")
    r1 = await call.say(nlu("order_status", "en", order_id="99999"))
    assert "9 9 9, 9 9" in r1.text  # read back in groups, so the caller hears what was understood
    assert r1.expect == "order_id"
    r2 = await call.say(nlu("affirm", "en", order_id="99998"))
    assert r2.transfer is not None
    assert [n.data["found"] for n in call.notes("order_lookup")] == [False, False]


async def test_complaint_asks_first_then_hands_over(engine, scripted) -> None:
    call = Call(engine, scripted, "it")
    r1 = await call.say(nlu("complaint", "it", sentiment="negative", frustration=0.3))
    assert r1.text == engine.templates.render("complaint_ack", "it") and r1.transfer is None
    r2 = await call.say(nlu("out_of_scope", "it", confidence=0.3), text="il corriere è stato maleducato")
    assert r2.transfer.reason == "complaint"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_goodbye_hangs_up(engine, scripted, lang) -> None:
    call = Call(engine, scripted, lang)
    reply = await call.say(nlu("goodbye", lang))
    assert reply.hangup is not None and reply.language == lang


async def test_thanks_offers_more_help_then_no_ends(engine, scripted) -> None:
    call = Call(engine, scripted, "id")
    r = await call.say(nlu("thanks", "id"))
    assert r.text.endswith(engine.templates.render("anything_else", "id")) and r.hangup is None
    r = await call.say(nlu("deny", "id"))
    assert r.hangup is not None


async def test_reply_follows_the_turn_language(engine, scripted) -> None:
    call = Call(engine, scripted, "en")
    reply = await call.say(nlu("greeting", "ko"))
    assert reply.language == "ko" and reply.text == engine.templates.render("how_can_help", "ko")


async def test_barge_in_before_the_question_cancels_the_pending_yes(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("return_refund", "en", order_id=order.id))
    heard = reply.text[:20]
    call.session.bot_was_interrupted(heard)
    bot_turns = [h for h in call.session.state.history if h["role"] == "bot"]
    assert bot_turns[-1]["text"] == heard and bot_turns[-1]["said"] == reply.text
    await call.say(nlu("affirm", "en"))
    assert not call.notes("refund_requested")  # the caller never heard "shall I create a return?"


async def test_barge_in_after_the_question_keeps_it(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("return_refund", "en", order_id=d.order_of(c.id, "delivered").id))
    call.session.bot_was_interrupted(reply.text)
    await call.say(nlu("affirm", "en"))
    assert call.notes("refund_requested")


async def test_order_store_failure_hands_over(tmp_path, scripted) -> None:
    (tmp_path / "demo-orders.sqlite3").mkdir()  # a folder where the database file should be
    engine = make_engine(tmp_path, scripted)
    call = Call(engine, scripted, "en", caller_number="+447700900123")
    reply = await call.say(nlu("order_status", "en", order_id="55712"))
    assert reply.transfer.reason == "system_error"


def test_dialogue_settings_section(tmp_path) -> None:
    """`dialogue:` in the settings: the typed section, from YAML and from environment variables."""
    from voicebot.config import ConfigError, Settings, load_settings
    from voicebot.dialogue.engine import options_from_settings

    assert options_from_settings(Settings(home=tmp_path)).order_store is None  # no default: serve refuses, --demo chooses the sample
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("shop: {name: Nordwind}\n"
                   "dialogue: {kb_dir: /srv/kb, session: {max_misunderstood: 3},\n"
                   "           llm: {enabled: true, base_url: 'http://127.0.0.1:1234/v1'}}\n")
    s = load_settings(cfg, env={"VOICEBOT_DIALOGUE__ALLOWED_DOMAINS": "nordwind.example, help.nordwind.example"})
    opts = options_from_settings(s)
    assert s.shop.name == "Nordwind" and opts.llm.enabled and opts.llm.base_url.endswith(":1234/v1")
    assert opts.allowed_domains == ("nordwind.example", "help.nordwind.example") and str(opts.kb_dir) == "/srv/kb"
    assert opts.session.max_misunderstood == 3
    assert options_from_settings(load_settings(cfg, env={"VOICEBOT_DIALOGUE__LLM__ENABLED": "false"})).llm.enabled is False
    with pytest.raises(ConfigError, match="unknown setting 'dialogue.shopname'"):
        load_settings(None, env={"VOICEBOT_DIALOGUE__SHOPNAME": "x"})
    with pytest.raises(ConfigError, match="moved to shop.name"):  # the old key says where it went
        load_settings(None, env={"VOICEBOT_DIALOGUE__SHOP_NAME": "x"})


async def test_in_app_customer_is_verified_by_token_and_orders_found_without_number(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("fr")
    call = Call(engine, scripted, "fr", customer_id=c.id, customer_name="Camille", language="fr")
    assert (await call.session.greet()).text.startswith("Bonjour Camille")
    reply = await call.say(nlu("cancel_order", "fr"), text="je veux annuler ma commande")
    processing = d.order_of(c.id, "processing")
    assert processing.id in reply.text  # the only order that can still be cancelled
    assert call.notes("identity_verified")[0].data == {"method": "app_token", "customer_id": c.id}
