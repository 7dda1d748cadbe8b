"""Order status, shipping delays and customs holds, not-received investigations — per language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.dialogue.dialogue_kit import Call, data, make_engine, nlu
from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.dialogue.templates import format_date


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_order_status_in_transit_every_language(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    reply = await call.say(nlu("order_status", lang, order_id=order.id))
    t = engine.templates
    assert reply.language == lang
    assert order.shipment.tracking_number in reply.text
    assert format_date(order.shipment.expected_delivery, lang) in reply.text  # expected delivery
    assert order.shipment.carrier in reply.text
    assert reply.text.endswith(t.render("anything_else", lang))  # closes by offering more help
    assert call.notes("identity_verified")[0].data["method"] == "caller_number"
    bye = await call.say(nlu("deny", lang))
    assert bye.hangup is not None and bye.text == t.render("goodbye", lang, shop="Acme Shop")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_customs_hold_explains_reason_timeline_and_next_step(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "customs_hold")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    reply = await call.say(nlu("shipping_delay", lang), text="stuck in customs")
    reason = order.shipment.events[-1].detail
    kb = engine.kb
    assert kb.say(f"customs_{reason}", lang) in reply.text  # what the caller must do
    assert kb.say("customs_hold", lang) in reply.text  # the usual timeline
    assert call.notes("customs_explained")[0].data == {"order_id": order.id, "reason": reason}


async def test_customs_word_picks_the_held_parcel_among_late_ones(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("es")
    call = Call(engine, scripted, "es", caller_number=c.phone)
    await call.say(nlu("shipping_delay", "es"), text="mi paquete está en la aduana")
    assert call.notes("customs_explained")[0].data["order_id"] == d.order_of(c.id, "customs_hold").id


async def test_delay_without_customs_word_asks_which_order(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("shipping_delay", "en"), text="my parcel is late")
    late, held = d.order_of(c.id, "late_in_transit"), d.order_of(c.id, "customs_hold")
    assert late.id in reply.text and held.id in reply.text
    assert not call.notes("customs_explained")
    # The caller answers with the product: "the watch" is the late one.
    reply = await call.say(nlu("affirm", "en", product_hint="the watch"), text="the watch")
    assert engine.kb.say("late_delivery", "en") in reply.text


@pytest.mark.parametrize("lang", ["en", "de", "ja", "ar"])
async def test_late_parcel_investigation_after_confirmation(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "late_in_transit")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    reply = await call.say(nlu("shipping_delay", lang, order_id=order.id))
    assert reply.text.endswith(engine.templates.render("confirm_investigation", lang))
    assert not call.notes("investigation_opened")  # nothing happens before the caller agrees
    reply = await call.say(nlu("affirm", lang))
    note = call.notes("investigation_opened")[0]
    assert note.data["order_id"] == order.id and note.data["reason"] == "late"
    assert note.data["reference"] in reply.text
    cases = await engine.store.cases_for_order(order.id)
    assert [x.reference for x in cases] == [note.data["reference"]]
    assert scripted.expecting[-1] == "confirmation"


async def test_recently_late_parcel_gets_a_date_not_an_investigation(tmp_path, scripted) -> None:
    # Two days after the expected date is within the grace period of the late_delivery policy.
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "late_in_transit")
    engine = make_engine(tmp_path, scripted)
    engine.resources = engine.resources.__class__(engine.kb, engine.templates, engine.store, "Acme Shop",
                                                  lambda: order.shipment.expected_delivery + timedelta(days=2))
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("shipping_delay", "en", order_id=order.id))
    grace = engine.kb.value("late_delivery", "grace_days")
    assert format_date(order.shipment.expected_delivery + timedelta(days=grace), "en") in reply.text
    assert not call.notes("investigation_opened")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_not_received_confirms_then_investigates(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    reply = await call.say(nlu("not_received", lang, order_id=order.id))
    assert reply.text.endswith(engine.templates.render("confirm_not_received", lang))  # confirm, don't assume
    reply = await call.say(nlu("affirm", lang))
    note = call.notes("investigation_opened")[0]
    assert note.data["order_id"] == order.id and note.data["reason"] == "not_received"
    assert engine.kb.say("not_received", lang) in reply.text  # reship-or-refund, with the timeline
    assert note.data["reference"] in reply.text


async def test_not_received_but_not_delivered_gives_status(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("fr")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "fr", caller_number=c.phone)
    reply = await call.say(nlu("not_received", "fr", order_id=order.id))
    assert engine.templates.render("not_yet_delivered", "fr") in reply.text
    assert order.shipment.tracking_number in reply.text
    assert not call.notes("investigation_opened")


async def test_denying_the_confirmation_changes_nothing(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("it")
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, "it", caller_number=c.phone)
    await call.say(nlu("not_received", "it", order_id=order.id))
    reply = await call.say(nlu("deny", "it"))
    assert engine.templates.render("no_action", "it") in reply.text
    assert await engine.store.cases_for_order(order.id) == []


async def test_processing_order_status_gives_shipping_time(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("pt")
    order = d.order_of(c.id, "processing")
    call = Call(engine, scripted, "pt", caller_number=c.phone)
    reply = await call.say(nlu("order_status", "pt", order_id=order.id))
    assert engine.kb.shipping_time("BR", "pt") in reply.text


async def test_order_found_by_product_hint(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("order_status", "en", product_hint="red coat"), text="where is the red coat")
    coat = d.order_of(c.id, "customs_hold")  # the coat is the order held in customs
    assert call.notes("customs_explained")[0].data["order_id"] == coat.id
    assert coat.id in reply.text


async def test_dtmf_order_number(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("ko")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "ko", caller_number="+15550000000")  # unknown caller: asks for the number
    reply = await call.say(nlu("order_status", "ko"))
    assert engine.templates.render("ask_order_id", "ko") in reply.text
    reply = await call.say(nlu("out_of_scope", "ko", confidence=0.0), text="", dtmf="#" + order.id)
    assert call.notes("order_lookup")[-1].data == {"order_id": order.id, "found": True}
    assert engine.templates.render("ask_email", "ko") in reply.text  # not this caller's number: verify first
