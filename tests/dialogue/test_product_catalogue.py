"""Product questions answered from the catalogue (size, capacity, plug, material,
compatibility) in every language, and an honest hand-over when the fact is not there."""

from __future__ import annotations

import pytest

from tests.dialogue.dialogue_kit import Call, data, make_engine, nlu
from voicebot.core import CallContext
from voicebot.dialogue.api import CallerTurn
from voicebot.dialogue.kb import load_kb
from voicebot.dialogue.nlu_types import LANGUAGES

KB = load_kb()
FACTS = sorted(e.id for e in KB.entries.values() if e.kind == "fact")


def test_catalogue_covers_every_attribute_and_new_appliances() -> None:
    attrs = {e.id.removeprefix("attr-") for e in KB.entries.values() if e.kind == "attribute"}
    assert attrs == {"size", "capacity", "plug", "material", "compatibility"}
    assert {f.split(".")[1] for f in FACTS} == attrs
    assert {"vacuum-v8.plug", "airfryer-4l.capacity", "airfryer-4l.plug"} <= set(FACTS)
    assert all(KB.entries[f.split(".")[0]].kind == "product" for f in FACTS)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_fact_answered_in_every_language(engine, scripted, lang) -> None:
    for fact in FACTS:
        pid, attr = fact.split(".")
        question = f"{KB.get(pid).keywords[lang][0]} {KB.get('attr-' + attr).keywords[lang][0]}"
        call = Call(engine, scripted, lang)
        reply = await call.say(nlu("product_question", lang), text=question)
        assert KB.say(fact, lang) in reply.text, (fact, question, reply.text)
        assert [n.data for n in call.notes("kb_answer")] == [{"entry": fact}], question
        assert reply.transfer is None and reply.expect == "yes_no"


@pytest.mark.parametrize("lang", ["en", "de", "ja", "ar", "vi"])
async def test_fact_not_in_catalogue_is_handed_over_not_guessed(engine, scripted, lang) -> None:
    question = f"{KB.get('earbuds-x2').keywords[lang][0]} {KB.get('attr-material').keywords[lang][0]}"
    call = Call(engine, scripted, lang)
    reply = await call.say(nlu("product_question", lang), text=question)
    name = KB.name("earbuds-x2", lang)
    assert reply.text.startswith(engine.templates.render("product_fact_unknown", lang, product=name))
    assert reply.transfer is not None and reply.transfer.reason == "product_question" and reply.transfer.queue == lang
    assert call.notes("kb_fact_missing")[0].data == {"product": "earbuds-x2", "attributes": ["material"]}
    assert not call.notes("kb_answer")


async def test_attribute_asked_before_the_product_is_named(engine, scripted) -> None:
    call = Call(engine, scripted, "es")
    r1 = await call.say(nlu("product_question", "es"), text="¿qué enchufe tiene?")
    assert r1.text == engine.templates.render("product_unknown", "es")
    r2 = await call.say(nlu("affirm", "es", product_hint="la freidora"), text="la freidora")
    assert KB.say("airfryer-4l.plug", "es") in r2.text


async def test_real_nlu_product_and_broken_with_refund(tmp_path) -> None:
    from voicebot.dialogue.nlu import Nlu

    engine = make_engine(tmp_path, Nlu())
    d = data()
    s = engine.new_session(CallContext("p", channel="text"))
    r = await s.respond(CallerTurn("Hi, what kind of plug does the air fryer come with?", "en"))
    assert r.intent == "product_question" and KB.say("airfryer-4l.plug", "en") in r.text
    s = engine.new_session(CallContext("p2", channel="text"))
    r = await s.respond(CallerTurn("¿Cuántos litros le caben a la mochila?", "es"))
    assert KB.say("backpack-leather.capacity", "es") in r.text
    # a broken item with "refund" goes to the damaged-item claim, not a plain return
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "delivered")
    s = engine.new_session(CallContext("p3", channel="text", caller_number=c.phone))
    r = await s.respond(CallerTurn(f"Order {order.id}, the mug came smashed to pieces and I'd like a refund.", "en"))
    assert r.intent == "damaged_item"
    assert r.text.endswith(engine.templates.render("confirm_damage", "en", order_id=order.id, items=engine.kb.name("shoes-run-blue", "en") + " and " + engine.kb.name("mug-set-4", "en")))
