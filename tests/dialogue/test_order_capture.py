"""Order numbers by voice: grouped read-back, yes / no / correction, the keypad at any time, a
one-digit slip matched against the caller's own orders, and what the bot expects next."""

from __future__ import annotations

import pytest

from tests.dialogue.dialogue_kit import Call, data, make_engine, nlu
from voicebot.core import CallContext
from voicebot.dialogue.api import CallerTurn
from voicebot.dialogue.order_capture import near_match, one_edit_apart, spoken_groups
from voicebot.dialogue.session import SessionOptions

UNKNOWN = "+12025550199"


@pytest.mark.parametrize(
    ("order_id", "lang", "spoken"),
    [
        ("881427", "en", "8 8 1, 4 2 7"),
        ("45712", "en", "4 5 7, 1 2"),
        ("4417", "en", "4 4, 1 7"),
        ("1234567", "de", "1 2 3, 4 5, 6 7"),
        ("JD45193", "en", "J D, 4 5 1, 9 3"),
        ("A4417R", "en", "A, 4 4, 1 7, R"),
        ("881427", "ja", "8 8 1、4 2 7"),
        ("881427", "zh", "8 8 1，4 2 7"),
    ],
)
def test_read_back_groups(order_id: str, lang: str, spoken: str) -> None:
    assert spoken_groups(order_id, lang) == spoken


def test_one_edit_is_a_changed_missing_extra_or_swapped_digit() -> None:
    assert one_edit_apart("881427", "881421")  # changed
    assert one_edit_apart("81427", "881427")  # missing (Whisper joined two 8s)
    assert one_edit_apart("8814277", "881427")  # extra
    assert one_edit_apart("884127", "881427")  # swapped neighbours
    assert not one_edit_apart("881427", "881427")
    assert not one_edit_apart("881427", "118427")  # two edits
    assert one_edit_apart("jd45193", "JD45193") is False  # same id, other case


def test_near_match_must_be_unique() -> None:
    assert near_match("45713", ["45712", "90000"]) == "45712"
    assert near_match("45713", ["45712", "45714"]) is None  # two candidates: ask again instead
    assert near_match("45713", []) is None


def _slip(order_id: str, taken: set[str]) -> str:
    """``order_id`` with its last digit changed, to a number no order has."""
    for d in "0123456789":
        cand = order_id[:-1] + d
        if cand != order_id and cand not in taken:
            return cand
    raise AssertionError("no free slip")


async def test_one_digit_slip_finds_the_callers_order(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "in_transit")
    slip = _slip(order.id, {o.id for o in d.orders})
    call = Call(engine, scripted, "en", caller_number=c.phone)
    r1 = await call.say(nlu("order_status", "en", order_id=slip))
    assert spoken_groups(order.id, "en") in r1.text and r1.expect == "yes_no"
    assert order.shipment.tracking_number not in r1.text  # nothing acted on before the caller agrees
    r2 = await call.say(nlu("affirm", "en"))
    assert order.shipment.tracking_number in r2.text
    assert call.notes("order_id_confirmed")[0].data == {"order_id": order.id}


async def test_slip_is_never_matched_against_someone_elses_orders(engine, scripted) -> None:
    d = data()
    other = d.order_of(d.customer_for_language("de").id, "in_transit")
    slip = _slip(other.id, {o.id for o in d.orders})
    call = Call(engine, scripted, "en", caller_number=UNKNOWN)
    r1 = await call.say(nlu("order_status", "en", order_id=slip))
    assert other.id not in r1.text and spoken_groups(other.id, "en") not in r1.text
    assert spoken_groups(slip, "en") in r1.text and r1.expect == "order_id"  # "not found", read back as heard


async def test_unsure_asr_reads_back_then_no_then_keypad(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("fr")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "fr", caller_number=c.phone)
    r1 = await call.say(nlu("order_status", "fr", order_id="12345"), asr_confidence=0.3)
    assert r1.text.endswith(engine.templates.render("order_readback", "fr", spoken="1 2 3, 4 5")) and r1.expect == "yes_no"
    assert not call.notes("order_lookup")  # read back before anything is looked up
    r2 = await call.say(nlu("deny", "fr"))
    assert r2.text == engine.templates.render("order_again", "fr") and r2.expect == "order_id"
    r3 = await call.say(nlu("out_of_scope", "fr", confidence=0.0), text="", dtmf=order.id + "#")
    assert order.shipment.tracking_number in r3.text  # keyed digits are exact: no read-back
    assert call.notes("order_lookup")[-1].data == {"order_id": order.id, "found": True}


async def test_spoken_correction_replaces_the_number_read_back(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("es")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "es", caller_number=c.phone)
    await call.say(nlu("order_status", "es", order_id="99999"), asr_confidence=0.2)
    r2 = await call.say(nlu("deny", "es", order_id=order.id), asr_confidence=0.95)
    assert order.shipment.tracking_number in r2.text
    assert call.notes("order_id_corrected")[0].data == {"heard": "99999", "corrected": order.id, "keypad": False}


async def test_keypad_during_read_back_and_yes_confirms(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("ko")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "ko", caller_number=c.phone)
    await call.say(nlu("order_status", "ko", order_id="11111"), asr_confidence=0.1)
    r2 = await call.say(nlu("out_of_scope", "ko", confidence=0.0), text="", dtmf=order.id)
    assert order.shipment.tracking_number in r2.text
    call2 = Call(engine, scripted, "ko", caller_number=c.phone)
    await call2.say(nlu("order_status", "ko", order_id=order.id), asr_confidence=0.1)
    r = await call2.say(nlu("affirm", "ko"))
    assert order.shipment.tracking_number in r.text


async def test_keypad_with_nothing_asked_looks_the_order_up(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("th")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "th", caller_number=c.phone)
    r = await call.say(nlu("out_of_scope", "th", confidence=0.0), text="", dtmf=order.id)
    assert order.shipment.tracking_number in r.text


async def test_keypad_phone_number_answers_the_identity_question(engine, scripted) -> None:
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "en", caller_number=UNKNOWN)
    r1 = await call.say(nlu("order_status", "en", order_id=order.id))
    assert r1.expect == "email" and order.shipment.tracking_number not in r1.text  # not verified: nothing said
    r2 = await call.say(nlu("out_of_scope", "en", confidence=0.0), text="", dtmf=c.phone.lstrip("+"))
    assert call.notes("identity_verified")[0].data["method"] == "phone"
    assert order.shipment.tracking_number in r2.text


async def test_read_back_always_option(tmp_path, scripted) -> None:
    engine = make_engine(tmp_path, scripted, session=SessionOptions(read_back="always"))
    d = data()
    c = d.customer_for_language("de")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "de", caller_number=c.phone)
    r1 = await call.say(nlu("order_status", "de", order_id=order.id), asr_confidence=0.99)
    assert r1.expect == "yes_no" and spoken_groups(order.id, "de") in r1.text
    r2 = await call.say(nlu("affirm", "de"))
    assert order.shipment.tracking_number in r2.text
    with pytest.raises(ValueError, match="read_back"):
        SessionOptions(read_back="sometimes")


async def test_expect_says_what_was_asked(engine, scripted) -> None:
    call = Call(engine, scripted, "en", caller_number=UNKNOWN)
    r = await call.say(nlu("order_status", "en"))
    assert r.expect == "order_id"
    r = await call.say(nlu("goodbye", "en"))
    assert r.expect is None and r.hangup is not None


async def test_real_nlu_end_to_end_slip_and_read_back(tmp_path) -> None:
    """Whisper's "81427" for "8 8 1 4 2 7": with the real NLU, the caller's own order is offered."""
    from voicebot.dialogue.nlu import Nlu

    engine = make_engine(tmp_path, Nlu())
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "in_transit")
    heard = order.id[:2] + order.id[3:]  # one digit lost
    assert heard not in {o.id for o in d.orders}
    session = engine.new_session(CallContext("real", channel="text", caller_number=c.phone))
    r1 = await session.respond(CallerTurn(f"Where is my order number {heard}?", "en"))
    assert spoken_groups(order.id, "en") in r1.text and r1.expect == "yes_no"
    r2 = await session.respond(CallerTurn("Yes, that's right.", "en"))
    assert order.shipment.tracking_number in r2.text


@pytest.mark.parametrize("lang", ["en", "ja", "ko", "th", "ar"])
def test_asr_prompt_for_what_was_asked(lang: str) -> None:
    from voicebot.dialogue.asr_hints import initial_prompt

    assert "4 5 7 1 2" in (initial_prompt("order_id", lang) or "")
    assert initial_prompt("yes_no", lang) and initial_prompt("yes_no", lang) != initial_prompt("yes_no", "en" if lang != "en" else "de")
    assert "@" in (initial_prompt("email", lang) or "")
    assert initial_prompt(None, lang) is None
