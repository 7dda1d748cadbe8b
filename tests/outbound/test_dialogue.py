"""The outbound conversation at the text level, with the real language understanding: who
calls and why, nothing about the order before the person confirms, the news from the inbound
flows, follow-up questions, opt-out at once, wrong person, voicemail without details."""

from __future__ import annotations

from datetime import date

import pytest

from tests.dialogue.dialogue_kit import TODAY, make_engine
from voicebot.core import CallContext, HangUp, Note, Transfer
from voicebot.dialogue.api import CallerTurn
from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.dialogue.orders.seed import sample_data
from voicebot.dialogue.outbound import OPT_OUT_PHRASES, load_outbound_templates, wants_no_calls


@pytest.fixture(scope="module")
def nlu():
    return Nlu()


@pytest.fixture
def engine(tmp_path, nlu):
    return make_engine(tmp_path, nlu)


def session(engine, lang: str, kind: str, reason: str, facts: dict | None = None, **extra):
    data = sample_data(TODAY)
    c = data.customer_for_language(lang)
    o = data.order_of(c.id, kind)
    plan = {"attempt": "a1", "customer_id": c.id, "order_id": o.id, "reason": reason, "facts": facts or {}, **extra}
    # the dialled number is the customer's: it must NOT count as identification on an outbound call
    ctx = CallContext("call-1", channel="sip", caller_number=c.phone, language=lang, extra={"outbound": plan})
    return engine.new_session(ctx), c, o


def notes(reply, name):  # type: ignore[no-untyped-def]
    return [a for a in reply.actions if isinstance(a, Note) and a.name == name]


def test_templates_exist_in_all_14_languages_with_the_same_placeholders():
    problems = load_outbound_templates().check()
    assert not problems, problems[:5]
    assert set(OPT_OUT_PHRASES) == set(LANGUAGES)


@pytest.mark.parametrize(("lang", "yes"), [("en", "yes, speaking"), ("es", "sí, soy yo"), ("de", "ja, am Apparat"), ("fr", "oui c'est moi"),
                                           ("it", "sì, sono io"), ("pt", "sim, sou eu"), ("zh", "是的"), ("ja", "はい"), ("ru", "да")])
async def test_late_parcel_news_only_after_the_person_says_yes(engine, lang, yes):
    s, c, o = session(engine, lang, "late_in_transit", "late_parcel")
    intro = await s.greet()  # no detector attached: the bot introduces itself at once
    assert c.name in intro.text and o.id not in intro.text and intro.language == lang
    reply = await s.respond(CallerTurn(yes, lang))
    assert o.id in reply.text and notes(reply, "identity_verified")[0].data["method"] == "outbound_name"
    assert notes(reply, "outbound_outcome")[0].data["outcome"] == "reached"


async def test_customs_hold_news_says_what_to_do_and_answers_follow_up_questions(engine):
    s, c, o = session(engine, "en", "customs_hold", "customs_hold")
    await s.greet()
    news = await s.respond(CallerTurn("", "en", dtmf="1"))
    assert "held by customs" in news.text and o.id in news.text
    follow = await s.respond(CallerTurn("when will it arrive?", "en"))
    assert follow.text and not follow.hangup  # the ordinary session answers the follow-up
    bye = await s.respond(CallerTurn("no that's all, thank you, bye", "en"))
    assert bye.hangup is not None


async def test_wrong_person_hears_nothing_about_the_order(engine):
    s, c, o = session(engine, "en", "late_in_transit", "late_parcel")
    await s.greet()
    reply = await s.respond(CallerTurn("no, this is her brother", "en"))
    assert o.id not in reply.text and "late" not in reply.text.lower()
    assert reply.hangup is not None and notes(reply, "outbound_outcome")[0].data["outcome"] == "wrong_person"


async def test_unclear_answers_are_asked_again_then_the_call_ends_unverified(engine):
    s, c, o = session(engine, "en", "late_in_transit", "late_parcel")
    await s.greet()
    for _ in range(2):
        again = await s.respond(CallerTurn("hmm what", "en"))
        assert "am i speaking with" in again.text.lower() and not again.hangup
    last = await s.respond(CallerTurn("the weather is nice", "en"))
    assert last.hangup is not None and notes(last, "outbound_outcome")[0].data["outcome"] == "unverified" and o.id not in last.text


async def test_name_and_email_identity(engine):
    s, c, o = session(engine, "en", "late_in_transit", "late_parcel", identity="name_and_email")
    await s.greet()
    ask = await s.respond(CallerTurn("yes", "en"))
    assert "email" in ask.text.lower() and o.id not in ask.text
    wrong = await s.respond(CallerTurn("it is someone@example.com", "en"))
    assert o.id not in wrong.text and notes(wrong, "identity_failed")
    right = await s.respond(CallerTurn(f"my email is {c.email}", "en"))
    assert o.id in right.text and notes(right, "identity_verified")[0].data["method"] == "outbound_email"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_opt_out_is_noted_at_once_in_every_language(engine, lang):
    s, c, o = session(engine, lang, "late_in_transit", "late_parcel")
    await s.greet()
    phrase = OPT_OUT_PHRASES[lang][0]
    reply = await s.respond(CallerTurn(f"{phrase}", lang))
    assert notes(reply, "outbound_opt_out") and reply.hangup is not None
    assert notes(reply, "outbound_outcome")[0].data["outcome"] == "opted_out"
    assert wants_no_calls("", "9")


async def test_damage_case_follow_up_offers_a_person_and_hands_over(engine):
    facts = {"case": "CLM-100007", "opened": (date(2026, 3, 10)).isoformat()}
    s, c, o = session(engine, "de", "delivered", "damage_case", facts)
    await s.greet()
    news = await s.respond(CallerTurn("ja", "de"))
    assert "CLM-100007" in news.text and "Kollegen" in news.text
    handed = await s.respond(CallerTurn("ja bitte", "de"))
    transfer = next(a for a in handed.actions if isinstance(a, Transfer))
    assert transfer.reason == "outbound_follow_up" and transfer.queue == "de"
    assert transfer.context.caller.verified and o.id in transfer.context.orders


async def test_with_a_detector_the_bot_waits_then_leaves_a_voicemail_without_details(engine):
    s, c, o = session(engine, "fr", "customs_hold", "customs_hold", amd=True, callback_number="+33 1 23 45 67 89")
    assert (await s.greet()).text == ""  # nothing until the detector speaks
    assert (await s.respond(CallerTurn("bonjour vous êtes sur le répondeur", "fr"))).text == ""  # the greeting is not answered
    assert (await s.on_cue("amd", {"label": "machine"})).text == ""
    vm = await s.on_cue("voicemail", {"after": "beep"})
    assert "+33 1 23 45 67 89" in vm.text and c.name not in vm.text and o.id not in vm.text and "douane" not in vm.text
    assert any(isinstance(a, HangUp) for a in vm.actions) and notes(vm, "outbound_outcome")[0].data["outcome"] == "voicemail_left"


async def test_a_person_detected_hears_the_introduction_and_a_late_voicemail_cue_is_ignored_once_verified(engine):
    s, c, o = session(engine, "en", "late_in_transit", "late_parcel", amd=True)
    await s.greet()
    intro = await s.on_cue("amd", {"label": "human"})
    assert "Am I speaking with" in intro.text
    await s.respond(CallerTurn("", "en", dtmf="1"))
    assert (await s.on_cue("voicemail", {"after": "silence"})).text == ""  # a verified person never gets the voicemail
