"""TwilioOutput's channel hooks on a real sender, and the REST hand-off through the local API stand-in."""

import asyncio
import json
import xml.etree.ElementTree as ET

from voicebot.channels.twilio.channel import TwilioOutput
from voicebot.channels.twilio.rest import RestOptions, TwilioCallControl
from voicebot.channels.twilio.stream import StreamInfo, TwilioMediaSender
from voicebot.clock import RealClock
from voicebot.core import CallContext, Transfer
from voicebot.pipeline.state import CallState

from .conftest import PUBLIC_HOST


async def settle() -> None:
    """Let every ready task run until it blocks (no wall-clock wait)."""
    for _ in range(20):
        await asyncio.sleep(0)


class Wire:
    """Collects what the sender writes to the socket."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.closed = False

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self) -> None:
        self.closed = True


def make_output(fake_api=None, language="es"):
    wire = Wire()
    info = StreamInfo(stream_sid="MZ1", call_sid="CA1", caller="+15550001", called="+15550002")
    sender = TwilioMediaSender(wire.send, info, wire.close)
    state = CallState(ctx=CallContext("CA1", channel="twilio", called_number="+15550002"), clock=RealClock(), language=language)
    control = TwilioCallControl(RestOptions("AC123", "tok", fake_api)) if fake_api else None
    return TwilioOutput(state, sender, control=control, public_host=PUBLIC_HOST, mark_timeout_s=5), sender, wire


async def test_audio_mark_clear_messages():
    out, sender, wire = make_output()
    await out.send_audio(b"\x00\x00" * 160)  # 20 ms of PCM16 at 8 kHz
    await out.send_mark("t1s0m1")
    await out.clear()
    assert [m["event"] for m in wire.sent] == ["media", "mark", "clear"]
    assert all(m["streamSid"] == "MZ1" for m in wire.sent)
    assert wire.sent[1]["mark"]["name"] == "t1s0m1"
    assert sender.frames_sent == 1


async def test_transfer_to_sip_target_after_last_sentence_is_heard(fake_api):
    base, api = fake_api
    out, sender, _ = make_output(base)
    await out.send_mark("last-sentence")
    task = asyncio.create_task(out.transfer(Transfer(reason="caller_asked", target="sip:agent@pbx.example.com")))
    await settle()
    assert not api and not task.done()  # still waiting for Twilio to play the last sentence
    assert await sender.mark_echoed("last-sentence")
    await asyncio.wait_for(task, 5)
    dial = ET.fromstring(api[0]["form"]["Twiml"]).find("Dial")
    assert dial.find("Sip").text == "sip:agent@pbx.example.com" and dial.get("callerId") == "+15550002"
    assert out.state.end_reason == "transferred"


async def test_transfer_to_queue_enqueues_with_hold_in_callers_language(fake_api):
    base, api = fake_api
    out, _, _ = make_output(base, language="fr")
    await out.transfer(Transfer(reason="frustration", queue="returns"))
    enqueue = ET.fromstring(api[0]["form"]["Twiml"]).find("Enqueue")
    assert enqueue.text == "returns" and enqueue.get("waitUrl") == f"https://{PUBLIC_HOST}/twilio/hold?lang=fr"


async def test_hang_up_waits_for_the_last_mark_then_closes():
    out, sender, wire = make_output()
    await out.send_mark("goodbye")
    task = asyncio.create_task(out.hang_up())
    await settle()
    assert not wire.closed
    await sender.mark_echoed("goodbye")
    await asyncio.wait_for(task, 5)
    assert wire.closed and sender.closed_by_bot


async def test_mark_echoes_after_clear_count_as_unplayed():
    out, sender, _ = make_output()
    seen = []
    sender.on_mark = lambda name, played: seen.append((name, played))
    await sender.send_mark("a")
    assert await sender.mark_echoed("a")
    await sender.send_mark("b")
    await sender.send_mark("c")
    await out.clear()
    assert not await sender.mark_echoed("b") and not await sender.mark_echoed("c")
    assert not await sender.mark_echoed("never-sent")
    assert seen == [("a", True), ("b", False), ("c", False)]
    assert await sender.wait_played(0.1)
