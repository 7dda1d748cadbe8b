"""The dialogue talks like a web page in the widget: a text box, not a phone keypad."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.core import CallContext

from voicebot.dialogue.api import CallerTurn
from voicebot.handoff.voicemail import voicemail_message
from voicebot.pipeline.spec import load_spec
from voicebot.runtime import Runtime

BUILTIN = Path(__file__).resolve().parents[1] / "handoff" / "handoff_test.yaml"  # the customer-service dialogue
PHONE_WORDS = ("keypad", "teclado", "hash key", "almohadilla", "call us again", "llámenos")


@pytest.mark.parametrize("language,text", [("en", "where is my order"), ("es", "dónde está mi pedido")])
async def test_order_number_prompt_in_web_and_phone_wording(settings, language, text):
    runtime = Runtime(settings)
    engine = runtime.dialogue(load_spec(BUILTIN))
    replies = {}
    for channel in ("webrtc", "websocket", "twilio", "sip"):
        session = engine.new_session(CallContext(f"c-{channel}", channel=channel, language=language))
        await session.greet()
        replies[channel] = (await session.respond(CallerTurn(text, language))).text
    for channel in ("webrtc", "websocket"):
        assert not any(w in replies[channel].lower() for w in PHONE_WORDS), replies[channel]
        assert any(w in replies[channel] for w in ("box below", "cuadro de abajo")), replies[channel]
    for channel in ("twilio", "sip"):
        assert any(w in replies[channel].lower() for w in ("keypad", "teclado")), replies[channel]
    runtime.close()


def test_voicemail_prompt_in_web_wording():
    for lang in ("en", "es", "de", "fr"):
        web, _ = voicemail_message("prompt", lang, "webrtc")
        phone, _ = voicemail_message("prompt", lang, "twilio")
        assert not any(w in web.lower() for w in ("hash", "almohadilla", "raute", "dièse")), web
        assert web != phone
