"""Personal data is redacted in stored transcripts, events and logs."""

from __future__ import annotations

import io
import logging

from voicebot.core import CallContext
from voicebot.logs import KeyValueFormatter
from voicebot.records.recorder import CallRecorder, RecorderOptions
from voicebot.records.redact import RecordingPolicy, RedactingLogFilter, RedactionOptions, Redactor, luhn_ok
from voicebot.records.store import RecordStore

from .sim import SimCall


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("5500005555555559") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_cards_emails_phones() -> None:
    r = Redactor()
    assert r.text("my card is 4111 1111 1111 1111 thanks") == "my card is [card] thanks"
    assert r.text("tarjeta 4111-1111-1111-1111") == "tarjeta [card]"
    assert r.text("amex 378282246310005.") == "amex [card]."
    # 16 digits failing Luhn: not a card (a tracking number) - left alone by the card rule
    assert "[card]" not in r.text("tracking 4111111111111112")
    assert r.text("write to ana.garcia+shop@example.co.uk please") == "write to [email] please"
    assert r.text("call me on +34 612 345 678 or (555) 123-4567") == "call me on [phone] or [phone]"
    assert r.text("mi número es 0049-30-1234567") == "mi número es [phone]"
    # order ids, amounts, dates and times survive
    for kept in ("order 45712", "pedido 4 5 7 1 2", "it cost 129.99", "on 2024-05-01 at 10:30", "AB-12345"):
        assert r.text(kept) == kept


def test_configurable() -> None:
    assert Redactor(RedactionOptions(enabled=False)).text("ana@example.com 4111111111111111") == "ana@example.com 4111111111111111"
    only_cards = Redactor(RedactionOptions(emails=False, phones=False))
    assert only_cards.text("ana@example.com +34612345678 4111111111111111") == "ana@example.com +34612345678 [card]"
    assert Redactor(RedactionOptions(phone_min_digits=5)).text("code 45712") == "code [phone]"


def test_values_and_slots() -> None:
    r = Redactor()
    value = {"text": "ana@example.com", "slots": {"email": "ana at example dot com", "phone": "612345678", "order_id": "45712"}, "n": 3}
    assert r.value(value) == {"text": "[email]", "slots": {"email": "[email]", "phone": "[phone]", "order_id": "45712"}, "n": 3}
    assert r.caller_identity("+34612345678") == "+3461*****78"


def test_log_filter_redacts_messages_and_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingLogFilter())
    log = logging.getLogger("test.redact.child")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("caller said %s", "my card is 4111111111111111", extra={"call_id": "c1", "text": "mail ana@example.com"})
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    assert "4111" not in line and "ana@" not in line
    assert "[card]" in line and "[email]" in line and 'call_id="c1"' in line


async def test_stored_transcripts_are_redacted(store: RecordStore) -> None:
    rec = CallRecorder(store, CallContext(call_id="pii", channel="twilio", caller_number="+34612345678"))
    sim = SimCall(rec)
    sim.start()
    sim.emit("vad_start", onset_ms=0.0)
    sim.emit("transcript", text="mi tarjeta es 4111 1111 1111 1111 y mi correo ana@example.com", language="es", final=True)
    sim.emit("bot_reply", text="He anotado ana@example.com", language="es", intent="payment_issue", slots={"email": "ana@example.com"})
    sim.emit("bot_speech_start")
    sim.emit("bot_speech_stop", heard_text="He anotado ana@example.com", interrupted=False)
    await rec.aclose()
    (turn,) = store.turns("pii")
    assert turn.caller_text == "mi tarjeta es [card] y mi correo [email]"
    assert turn.bot_text == turn.bot_text_heard == "He anotado [email]" and turn.slots == {"email": "[email]"}
    stored = " ".join(str(e.data) for e in store.events("pii"))
    assert "4111" not in stored and "ana@" not in stored and "+34612345678" not in stored
    assert store.get_call("pii").caller == "+3461*****78"


def test_recording_policy() -> None:
    p = RecordingPolicy(disabled_channels=("webrtc",), disabled_prefixes=("+49", "+33"))
    assert p.allows(CallContext("a", "twilio", caller_number="+34612345678"))
    assert not p.allows(CallContext("b", "sip", caller_number="+49 30 1234567"))
    assert not p.allows(CallContext("c", "webrtc"))
    assert not RecordingPolicy(enabled=False).allows(CallContext("d", "sip"))
    assert RecorderOptions().recording.allows(CallContext("e", "sip"))


def test_card_numbers_as_speech_recognition_writes_them() -> None:
    r = Redactor()
    for said in ("4,111,111,111,111,111", "4111 1111 1111 1111", "4111, 1111, 1111, 1111", "4111-1111-1111-1111",
                 "four one one one one one one one one one one one one one one one",
                 "cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno", "5,500,005,555,555,559",
                 "37 82 82 24 63 10 005"):
        assert r.text(f"my card is {said}, thanks") == "my card is [card], thanks", said
    for kept in ("it cost 1,250.00", "order 45712", "call 4, 5 or 7", "4,111,111,111,111,112"):  # the last fails Luhn
        assert r.text(kept) == kept


def test_sip_addresses_in_logs_are_not_taken_for_emails() -> None:
    r = Redactor()
    assert r.text("to sip:bot@127.0.0.1:5070 via <sip:es-agents@pbx.example.com>") == \
        "to sip:bot@127.0.0.1:5070 via <sip:es-agents@pbx.example.com>"
    assert r.text("peer 192.168.100.200:5060") == "peer 192.168.100.200:5060"
    assert r.text("from sip:+34612345678@pbx.example.com") == "from sip:[phone]@pbx.example.com"  # the number is still personal
    assert r.text("mail ana@example.com or mailto:bo@shop.example") == "mail [email] or mailto:[email]"


async def test_a_card_number_whisper_wrote_never_reaches_turns_or_events(store: RecordStore) -> None:
    rec = CallRecorder(store, CallContext(call_id="pii2", channel="sip", caller_number="+34612345678"))
    sim = SimCall(rec)
    sim.start()
    sim.emit("vad_start", onset_ms=0.0)
    sim.emit("transcript", text="My card number is 4,111,111,111,111,111.", language="en", final=True)
    sim.emit("bot_reply", text="I cannot take card numbers on this line.", language="en", intent="payment_issue")
    await rec.aclose()
    (turn,) = store.turns("pii2")
    assert turn.caller_text == "My card number is [card]."
    assert "111,111" not in " ".join(str(e.data) for e in store.events("pii2"))
