"""Returns and refunds, damage claims, cancellations, address changes, payments, products."""

from __future__ import annotations

import pytest

from tests.dialogue.dialogue_kit import Call, data, nlu
from voicebot.dialogue.nlu_types import LANGUAGES


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_return_creates_request_with_reference_in_db(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    reply = await call.say(nlu("return_refund", lang, order_id=order.id))
    assert reply.text.endswith(engine.templates.render("confirm_return", lang, order_id=order.id,
                                                       items=engine.templates.join([engine.kb.name(i.sku, lang) for i in order.items], lang)))
    reply = await call.say(nlu("affirm", lang))
    note = call.notes("refund_requested")[0]
    assert note.data["order_id"] == order.id and note.data["amount"] == order.total and note.data["currency"] == order.currency
    ref = note.data["reference"]
    assert ref.startswith("RET-") and ref in reply.text
    assert engine.kb.say("return_window", lang) in reply.text and engine.kb.say("refund_timing", lang) in reply.text
    stored = await engine.store.cases_for_order(order.id)
    assert [(x.reference, x.kind) for x in stored] == [(ref, "return")]


async def test_return_outside_window_is_refused_with_the_policy(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    # The delivered order is inside the window; move the calendar 40 days on.
    from datetime import timedelta

    from tests.dialogue.dialogue_kit import TODAY
    engine.resources = engine.resources.__class__(engine.kb, engine.templates, engine.store, "Acme Shop", lambda: TODAY + timedelta(days=40))
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("return_refund", "en", order_id=order.id))
    assert "outside our return window" in reply.text and "30 days" in reply.text
    assert not call.notes("refund_requested")


async def test_final_sale_cannot_be_returned(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("de")
    order = d.order_of(c.id, "delivered_long_ago")  # alphanumeric id, final sale
    call = Call(engine, scripted, "de", caller_number=c.phone)
    reply = await call.say(nlu("return_refund", "de", order_id=order.id.lower()))
    assert engine.kb.say("final_sale", "de") in reply.text
    assert not call.notes("refund_requested")


async def test_return_before_delivery_suggests_cancelling(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("es")
    order = d.order_of(c.id, "processing")
    call = Call(engine, scripted, "es", caller_number=c.phone)
    reply = await call.say(nlu("return_refund", "es", order_id=order.id))
    assert engine.kb.say("cancel_rule", "es") in reply.text


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_damaged_item_claim(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "delivered")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    await call.say(nlu("damaged_item", lang, order_id=order.id))
    reply = await call.say(nlu("affirm", lang))
    note = call.notes("claim_created")[0]
    assert note.data["order_id"] == order.id and note.data["reference"].startswith("CLM-")
    assert engine.kb.say("damaged_claim", lang) in reply.text  # photos within N days, decision, reship/refund


async def test_second_claim_on_same_order_goes_to_a_person(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "delivered")
    first = Call(engine, scripted, "en", caller_number=c.phone)
    await first.say(nlu("damaged_item", "en", order_id=order.id))
    await first.say(nlu("affirm", "en"))
    second = Call(engine, scripted, "en", caller_number=c.phone)
    await second.say(nlu("damaged_item", "en", order_id=order.id))
    reply = await second.say(nlu("affirm", "en"))
    assert reply.transfer is not None and reply.transfer.reason == "policy"
    assert reply.transfer.context.orders == [order.id]
    assert len(await engine.store.cases_for_order(order.id)) == 1


@pytest.mark.parametrize("lang", ["en", "zh", "ru", "vi"])
async def test_cancel_unshipped_order(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    order = d.order_of(c.id, "processing")
    call = Call(engine, scripted, lang, caller_number=c.phone)
    await call.say(nlu("cancel_order", lang, order_id=order.id))
    reply = await call.say(nlu("affirm", lang))
    assert call.notes("order_cancelled")[0].data["order_id"] == order.id
    assert engine.kb.say("cancel_rule", lang) in reply.text
    assert (await engine.store.get_order(order.id)).status == "cancelled"


async def test_cancel_shipped_order_explains_alternatives(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("fr")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "fr", caller_number=c.phone)
    reply = await call.say(nlu("cancel_order", "fr", order_id=order.id))
    assert engine.kb.say("cancel_shipped", "fr") in reply.text
    assert (await engine.store.get_order(order.id)).status == "shipped"


@pytest.mark.parametrize("lang", ["en", "ja", "th"])
async def test_change_address_sends_secure_link_or_explains_redirect(engine, scripted, lang) -> None:
    d = data()
    c = d.customer_for_language(lang)
    call = Call(engine, scripted, lang, caller_number=c.phone)
    reply = await call.say(nlu("change_address", lang, order_id=d.order_of(c.id, "processing").id))
    assert call.notes("address_change_link_sent") and c.email in reply.text
    shipped = d.order_of(c.id, "in_transit")
    reply = await call.say(nlu("change_address", lang, order_id=shipped.id))
    assert engine.kb.say("address_change_shipped", lang) in reply.text and shipped.shipment.tracking_number in reply.text


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_payment_issue_explains_and_hands_to_billing(engine, scripted, lang) -> None:
    call = Call(engine, scripted, lang, caller_number=data().customer_for_language(lang).phone)
    reply = await call.say(nlu("payment_issue", lang))
    assert engine.kb.say("duplicate_charge", lang) in reply.text and engine.kb.say("payment_security", lang) in reply.text
    assert reply.transfer.reason == "policy" and reply.transfer.queue == "billing"
    assert "duplicate_charge" in reply.transfer.context.promised


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_product_question_answered_from_kb(engine, scripted, lang) -> None:
    call = Call(engine, scripted, lang)
    name = engine.kb.name("watch-s3", lang)
    reply = await call.say(nlu("product_question", lang, product_hint=name), text=name)
    assert engine.kb.say("watch-s3", lang) in reply.text
    assert call.notes("kb_answer")[0].data == {"entry": "watch-s3"}


async def test_unknown_product_is_not_invented(engine, scripted) -> None:
    call = Call(engine, scripted, "en")
    reply = await call.say(nlu("product_question", "en"), text="is the blender dishwasher safe")
    assert reply.text == engine.templates.render("product_unknown", "en")
    reply = await call.say(nlu("product_question", "en"), text="the blender")
    assert reply.transfer is not None and reply.transfer.reason == "not_understood"
