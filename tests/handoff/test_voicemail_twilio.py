"""End to end over the Twilio protocol: nobody on shift, the caller presses 0, hears the prompt and
the beep, leaves a message (a real recording, at real time), presses #, is thanked, and the bot
closes the stream. The voicemail's WAV and row, and the call record, are checked.

Real parts: uvicorn with the Twilio routes, the call pipeline (webrtcvad turns, minimal dialogue,
espeak TTS), the hand-off bridge with its voicemail service configured from ``settings.handoff``,
the Twilio protocol client, the SQLite record store. The transcriber is an ORACLE (dev Whisper
model: random weights). Slow: real time (about 25 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import wave
from pathlib import Path

import numpy as np
import pytest
import websockets
from fastapi import FastAPI

from tests.handoff.servers import serving
from tests.pipeline.timeline import speech
from tests.twilio.conftest import PUBLIC_HOST
from tests.twilio.test_pipeline_call import LiveCaller
from benchmarks.harness.twilio_peer import TwilioStreamClient, sign
from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import resample
from voicebot.channels.twilio.routes import make_router as twilio_router
from voicebot.handoff import channel_twilio
from voicebot.handoff.routes import HandoffOptions, service_for
from voicebot.handoff.voicemail import voicemail_message
from voicebot.handoff.voicemail_routes import attach_voicemail
from voicebot.records.service import Records
from voicebot.runtime import Runtime

from .test_voicemail import ScriptedWords, rms

pytestmark = pytest.mark.slow


async def wait(pred, timeout=30.0):
    async def _w():
        while not pred():
            await asyncio.sleep(0.02)  # polling server state in a real-time test, bounded
    await asyncio.wait_for(_w(), timeout)


@pytest.fixture
async def server(settings):
    settings.server.public_host = PUBLIC_HOST
    settings.twilio.auth_token = "tok"
    settings.handoff = {"voicemail": {"instead_of_callback": "true", "end_silence_s": "4"}}  # as VOICEBOT_HANDOFF__VOICEMAIL__* would
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    svc = service_for(runtime, HandoffOptions())  # no agents at all: nobody on shift
    vm = attach_voicemail(runtime)
    assert vm.options.instead_of_callback and vm.options.end_silence_s == 4.0
    calls = {}
    make = channel_twilio.call_factory(runtime, svc.bridge, transcriber=ScriptedWords())

    def factory(info, sender):
        calls[info.call_sid] = call = make(info, sender)
        return call

    app = FastAPI()
    app.include_router(twilio_router(runtime, call_factory=factory))
    async with serving(app) as addr:
        yield f"ws://{addr}/twilio/stream", runtime, svc, calls
    await svc.bridge.stop()
    runtime.close()
    runtime.records.close()


def recording_started(call) -> bool:
    return any(e.kind == "action" and e.data.get("reason") == "recording" for e in call.state.events.events)


async def test_twilio_caller_leaves_a_voicemail_and_presses_hash(server):
    ws_url, runtime, svc, calls = server
    client = TwilioStreamClient(ws_url, call_sid="CAvm1", stream_sid="MZvm1")
    await client.connect({"X-Twilio-Signature": sign("tok", f"wss://{PUBLIC_HOST}/twilio/stream")})
    await client.send_connected()
    await client.send_start({"caller": "+15550001", "called": "+15550002", "call_sid": "CAvm1"})
    caller = LiveCaller(client)
    caller.start()
    message = speech("en/sb_timit_spk1_snt1.wav")
    try:
        await client.wait_for(lambda: len(client.received.marks) >= 1, timeout=60)  # the greeting
        call = calls["CAvm1"]
        await client.send_dtmf("0")  # "press 0 for an agent"
        await wait(lambda: recording_started(call), 60)  # prompt and beep played (marks echoed)
        heard_until = len(client.received.media)
        first = caller.say(ulaw_encode(resample(message, 16000, 8000).astype("<i2").tobytes()))
        n = (len(message) // 2 + 159) // 160
        await wait(lambda: first + n - 1 in caller.sent_at, 30)  # the whole message went out at real time
        await asyncio.sleep(0)  # (one loop turn; no wall-clock wait)
        await client.send_dtmf("#")
        await asyncio.wait_for(client.closed.wait(), 30)  # thanked, then the bot closed the stream
    finally:
        with contextlib.suppress(websockets.ConnectionClosed):  # its last frame may race the bot's close
            await caller.stop()

    # what the caller heard: prompt, then the beep (a 880 Hz tone), all before the message
    heard = np.frombuffer(ulaw_decode(b"".join(client.received.media[:heard_until])), "<i2")
    spec = np.abs(np.fft.rfft(heard[-8000:].astype(float)))  # the last second before the message
    assert abs(np.argmax(spec) * 8000 / 8000 - 880) < 20
    lines = [e.data["text"] for e in call.state.events.events if e.kind == "bot_reply"]
    assert voicemail_message("prompt", "en")[0] in lines and voicemail_message("thanks", "en")[0] in lines

    vm = await svc.bridge.voicemail.wait("CAvm1", timeout=30)
    assert vm is not None and vm.end_reason == "hash" and vm.caller == "+15550001" and vm.channel == "twilio"
    with wave.open(vm.path) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    length = len(message) / 16000
    assert length <= vm.duration_s <= length + 1.5  # the message and the moment before '#'
    assert rms(audio) > 0.3 * rms(message)  # the caller's speech (through mu-law), not silence
    assert Path(vm.path).is_file() and vm.transcript
    store = runtime.records.store
    await wait(lambda: (c := store.get_call("CAvm1")) is not None and c.ended_at is not None, 15)
    assert store.get_call("CAvm1").outcome == "voicemail"
    assert (await svc.state.get_ticket("CAvm1")).state == "voicemail"
