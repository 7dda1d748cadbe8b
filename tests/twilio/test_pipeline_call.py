"""Twilio calls through the real pipeline (minimal dialogue, dev ASR model, espeak voice).

The server is real (uvicorn, the default call factory: a CallSession per stream); Twilio's
side is the protocol client, feeding caller audio at real-time pace; Twilio's REST API is a
local stand-in. Slow (models, real time): ``-m 'not slow'`` skips them.
"""

import asyncio
import socket
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.channels.twilio import channel
from voicebot.channels.twilio.routes import make_router
from voicebot.records.service import Records
from voicebot.runtime import Runtime

from .conftest import PUBLIC_HOST, eventually
from benchmarks.harness.twilio_peer import TwilioStreamClient, sign

pytestmark = pytest.mark.slow

SILENCE = b"\xff" * 160  # 20 ms of mu-law silence
BARGE_IN_BUDGET_S = 1.0  # caller speech onset -> `clear` (VAD start 90 ms + confirm 300 ms + slack for 2 shared CPUs)


@pytest.fixture
async def pipeline_server(settings, fake_api):
    base, api_requests = fake_api
    settings.server.public_host = PUBLIC_HOST
    settings.twilio.account_sid = "AC123"
    settings.twilio.auth_token = "tok"  # the fake API's password, and the signing key
    settings.twilio.api_base_url = base
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)  # every call is recorded, as under `voicebot serve`
    calls: dict[str, channel.TwilioCall] = {}
    default = channel.call_factory(runtime)

    def factory(info, sender):
        calls[info.call_sid] = call = default(info, sender)
        return call

    app = FastAPI()
    app.include_router(make_router(runtime, call_factory=factory))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started)
    yield f"ws://127.0.0.1:{port}/twilio/stream", calls, api_requests
    server.should_exit = True
    await asyncio.wait_for(task, 15)
    runtime.close()
    runtime.records.close()


class LiveCaller:
    """Twilio's side of a live call: media every 20 ms (queued caller audio, else silence)."""

    def __init__(self, client: TwilioStreamClient) -> None:
        self.client = client
        self.queue: list[bytes] = []
        self.sent_at: dict[int, float] = {}  # index in the queued audio -> loop time sent
        self._queued = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def say(self, mulaw: bytes) -> int:
        """Queue caller audio; returns the index of its first frame."""
        first = self._queued
        frames = [mulaw[i : i + 160].ljust(160, b"\xff") for i in range(0, len(mulaw), 160)]
        self.queue.extend(frames)
        self._queued += len(frames)
        return first

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        t0, i, spoken = loop.time(), 0, 0
        while not self._stop.is_set() and not self.client.closed.is_set():
            await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
            if self.queue:
                frame = self.queue.pop(0)
                self.sent_at[spoken] = loop.time()
                spoken += 1
            else:
                frame = SILENCE
            await self.client.send_media(frame)
            i += 1

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def open_call(ws_url: str, call_sid: str) -> tuple[TwilioStreamClient, LiveCaller]:
    client = TwilioStreamClient(ws_url, call_sid=call_sid, stream_sid="MZ" + call_sid[2:])
    await client.connect({"X-Twilio-Signature": sign("tok", f"wss://{PUBLIC_HOST}/twilio/stream")})
    await client.send_connected()
    await client.send_start({"caller": "+15550001", "called": "+15550002", "call_sid": call_sid})
    caller = LiveCaller(client)
    caller.start()
    return client, caller


def events(call, kind):
    return [e for e in call.state.events.events if e.kind == kind]


async def test_greeting_is_paced_and_marked_then_dtmf_zero_transfers_via_rest(pipeline_server):
    ws_url, calls, api_requests = pipeline_server
    client, caller = await open_call(ws_url, "CAe2e")
    try:
        await client.wait_for(lambda: len(client.received.marks) >= 1, timeout=60)
        media, times = client.received.media, client.received.media_times
        n = len(media)
        assert n >= 50 and all(len(f) == 160 for f in media)  # 20 ms mu-law frames
        pcm = np.frombuffer(ulaw_decode(b"".join(media)), "<i2").astype(float)
        assert np.sqrt(np.mean(pcm**2)) > 200  # speech, not silence
        span = times[n - 1] - times[0]
        assert 0.8 * (n - 1) * 0.02 <= span <= 1.3 * (n - 1) * 0.02 + 0.2, span  # real-time pace
        call = calls["CAe2e"]
        await eventually(lambda: bool(events(call, "bot_speech_stop")), timeout=10)
        assert events(call, "bot_speech_stop")[0].data["heard_text"].startswith("Hello")  # heard = mark echoed

        await client.send_dtmf("0")  # "press 0 for an agent": reaches the dialogue
        await eventually(lambda: any("colleague" in e.data["heard_text"] for e in events(call, "bot_speech_stop")), timeout=30)
        await eventually(lambda: len(api_requests) == 1, timeout=20)
        assert [(e.action, e.data["queue"]) for e in events(call, "action") if e.action == "transfer"] == [("transfer", "en")]
        assert api_requests[0]["path"] == "/2010-04-01/Accounts/AC123/Calls/CAe2e.json"
        enqueue = ET.fromstring(api_requests[0]["form"]["Twiml"]).find("Enqueue")
        assert enqueue.text == "en" and enqueue.get("waitUrl") == f"https://{PUBLIC_HOST}/twilio/hold?lang=en"
    finally:
        await caller.stop()
    await client.send_stop()  # after the redirect Twilio ends the stream
    await eventually(lambda: call.state.ended, timeout=15)
    assert events(call, "call_end")[-1].data["outcome"] == "handed_off"
    await asyncio.wait_for(client.closed.wait(), 5)
    # the call record: the Twilio call, its DTMF turn, the transfer, and a stereo recording
    store = call.session.runtime.records.store
    await eventually(lambda: (store.get_call("CAe2e") or None) is not None and store.get_call("CAe2e").ended_at is not None, timeout=10)
    record = store.get_call("CAe2e")
    assert record.channel == "twilio" and record.outcome == "handed_off"
    assert any(a.kind == "transfer" for a in store.actions("CAe2e"))
    assert store.recording("CAe2e") is not None


async def test_barge_in_sends_clear_within_budget_and_reply_follows(pipeline_server, caller_pcm8k):
    ws_url, calls, _ = pipeline_server
    client, caller = await open_call(ws_url, "CAbarge")
    try:
        await client.wait_for(lambda: len(client.received.media) >= 25, timeout=60)  # 0.5 s into the greeting
        pcm = np.frombuffer(caller_pcm8k, "<i2")
        rms = np.sqrt(np.mean(pcm[: len(pcm) // 160 * 160].reshape(-1, 160).astype(float) ** 2, axis=1))
        voiced = np.flatnonzero(rms > 300)
        onset, last = int(voiced[0]), int(voiced[-1])
        first = caller.say(ulaw_encode(pcm))
        await client.wait_for(lambda: client.received.clears >= 1, timeout=10)
        await eventually(lambda: first + onset in caller.sent_at)
        barge_s = client.received.clear_times[0] - caller.sent_at[first + onset]
        call = calls["CAbarge"]
        stop = next(e for e in events(call, "bot_speech_stop") if e.data["interrupted"])
        greeting = "Hello, this is the customer service assistant. How can I help you today?"
        assert greeting.startswith(stop.data["heard_text"]) and stop.data["heard_text"] != greeting  # only what was played
        # the caller finishes; the bot answers: first media after the caller's last voiced frame
        media_before = len(client.received.media)
        await client.wait_for(lambda: len(client.received.media) > media_before + 5 and first + last in caller.sent_at, timeout=60)
        end_of_speech = caller.sent_at[first + last] + 0.02
        reply_s = next(t for t in client.received.media_times[media_before:] if t > end_of_speech) - end_of_speech
        print(f"\nTWILIO FIGURES: onset->clear {barge_s * 1000:.0f} ms; end of speech->first media {reply_s * 1000:.0f} ms")
        assert 0 < barge_s <= BARGE_IN_BUDGET_S, barge_s
    finally:
        await caller.stop()
    await client.send_stop()
    await eventually(lambda: call.state.ended, timeout=15)
