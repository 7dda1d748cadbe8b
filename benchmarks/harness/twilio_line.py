"""The bench's Twilio mode: a scripted caller on a Media Stream against the real server.

The bot runs behind the routes ``voicebot serve`` mounts (uvicorn on loopback,
:func:`voicebot.channels.twilio.routes.make_router`, every request signed and verified with
a bench-only auth token). The caller is Twilio's side (:mod:`.twilio_peer`, written from
Twilio's published formats): it posts the signed ``/twilio/voice`` webhook, reads the
``<Connect><Stream>`` TwiML as Twilio would, opens that stream, sends the script's audio as
mu-law ``media`` every 20 ms against absolute deadlines, and plays the bot's media as
Twilio's player does (marks echo when played, ``clear`` cuts). Transfers reach the bench's
stand-in for Twilio's REST API (never the real one, whatever the settings say), after which
the peer ends the stream as Twilio does.

Figures are taken where the caller is: the bot's audio starts when its first ``media``
frame plays at the peer, stops when the last played frame ends (or ``clear`` cut it). The
server's own events say which stop is a pause, a cut or the end of a reply; each is
re-timed to the peer's player through the count of frames the server had sent when it
happened. Everything else (turns, transcripts, stages) keeps the server's caller-audio time,
which is the peer's timeline: the first frame sent is 0 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import secrets
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from benchmarks.harness.line import CallerScript, LineRun, Tail, place_audio
from benchmarks.harness.twilio_peer import TwilioStreamClient, sign
from voicebot.call import CallResult, CallSession
from voicebot.channels.base import CHUNK_MS
from voicebot.channels.replay import ReplayResult
from voicebot.channels.twilio.channel import TwilioCall
from voicebot.channels.twilio.rest import RestOptions, TwilioCallControl
from voicebot.channels.twilio.routes import make_router
from voicebot.events import CallEvent
from voicebot.logs import get_logger

log = get_logger(__name__)

RATE = 8000  # Twilio media: mu-law 8 kHz
BENCH_HOST = "bench.voicebot.invalid"  # the public host the bench's Twilio signs for (never resolved)
ACCOUNT_SID = "ACbench0000000000000000000000000"
HEARD_GAP_S = 0.1  # the caller's ear: bot audio stopped once nothing played for this long
LINE_KINDS = ("bot_speech_start", "bot_speech_stop", "bot_paused", "bot_resumed")


@dataclass
class _Pending:
    make_session: Callable[..., CallSession]
    created: asyncio.Event = field(default_factory=asyncio.Event)
    call: TwilioCall | None = None
    sent_at_event: list[tuple[CallEvent, int]] = field(default_factory=list)  # (event, media frames sent by then)
    redirected: asyncio.Event = field(default_factory=asyncio.Event)


class TwilioBench:
    """The bot's Twilio routes on a loopback port, plus a stand-in for Twilio's REST API."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.token = secrets.token_hex(16)
        settings = copy.deepcopy(runtime.settings)
        settings.server.public_host = BENCH_HOST
        settings.twilio.auth_token, settings.twilio.account_sid, settings.twilio.verify_signatures = self.token, ACCOUNT_SID, True
        self._router_runtime = SimpleNamespace(settings=settings)  # make_router reads only the settings
        self._pending: dict[str, _Pending] = {}
        self.base = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._control: TwilioCallControl | None = None

    async def __aenter__(self) -> TwilioBench:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"127.0.0.1:{sock.getsockname()[1]}"
        self._control = TwilioCallControl(RestOptions(ACCOUNT_SID, self.token, f"http://{self.base}"))
        app = FastAPI()
        app.include_router(make_router(self._router_runtime, call_factory=self._make_call))
        app.add_api_route("/2010-04-01/Accounts/{account}/Calls/{call_sid}.json", self._rest_update_call, methods=["POST"])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="bench-twilio-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why the server could not start
            await asyncio.sleep(0.01)  # uvicorn has no "started" event to await
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 15)

    def _make_call(self, info, sender) -> TwilioCall:
        pending = self._pending.get(info.call_sid)
        if pending is None:  # not a bench call: refuse loudly rather than guess its script
            raise RuntimeError(f"bench Twilio server: unexpected stream for call {info.call_sid}")

        def make_session(runtime, ctx, make_transport) -> CallSession:
            session = pending.make_session(runtime, ctx, make_transport)
            session.subscribe(lambda ev: pending.sent_at_event.append((ev, sender.frames_sent)))
            return session

        pending.call = TwilioCall(self.runtime, info, sender, self._control, session_factory=make_session, public_host=BENCH_HOST)
        pending.created.set()
        return pending.call

    async def _rest_update_call(self, account: str, call_sid: str, request: Request) -> JSONResponse:
        """Twilio's "update a call" (the handoff redirect): accepted; the stream then ends."""
        form = dict(await request.form())
        pending = self._pending.get(call_sid)
        if pending is None:
            return JSONResponse({"code": 20404, "message": "The requested resource was not found", "status": 404}, status_code=404)
        log.info("bench: Twilio REST redirect", extra={"call_id": call_sid, "twiml": str(form.get("Twiml", ""))[:200]})
        pending.redirected.set()
        return JSONResponse({"sid": call_sid, "account_sid": account, "status": "in-progress"})

    async def open_call(self, call_id: str, make_session: Callable[..., CallSession], *, caller: str = "+15550100",
                        called: str = "+15550199") -> tuple[TwilioStreamClient, _Pending]:
        """Do what Twilio does for an incoming call: fetch the TwiML, open the stream it names."""
        pending = self._pending[call_id] = _Pending(make_session)
        form = {"CallSid": call_id, "AccountSid": ACCOUNT_SID, "From": caller, "To": called, "CallStatus": "ringing", "Direction": "inbound"}
        voice_url = f"https://{BENCH_HOST}/twilio/voice"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://{self.base}/twilio/voice", data=form,
                                 headers={"X-Twilio-Signature": sign(self.token, voice_url, form)}) as resp:
                body = await resp.text()
                if resp.status != 200:
                    raise RuntimeError(f"POST /twilio/voice answered {resp.status}: {body[:200]}")
        stream = ET.fromstring(body).find("Connect/Stream")
        if stream is None:
            raise RuntimeError(f"the voice webhook's TwiML has no <Connect><Stream>: {body[:200]}")
        url = stream.get("url", "")
        params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        path = url.split(BENCH_HOST, 1)[1] if BENCH_HOST in url else "/twilio/stream"
        peer = TwilioStreamClient(f"ws://{self.base}{path}", call_sid=call_id, stream_sid="MZ" + call_id, account_sid=ACCOUNT_SID, player=True)
        await peer.connect({"X-Twilio-Signature": sign(self.token, url)})
        await peer.send_connected()
        await peer.send_start(params)
        await asyncio.wait_for(pending.created.wait(), 10)
        return peer, pending

    def forget(self, call_id: str) -> None:
        self._pending.pop(call_id, None)


class HeardBot:
    """What the caller hears, as bot speech start/stop events for the :class:`CallerScript`."""

    def __init__(self, peer: TwilioStreamClient, t0: float, on_event: Callable[[CallEvent], None]) -> None:
        self.peer, self.t0, self.on_event = peer, t0, on_event
        self.speaking = False
        self._seen = 0  # frames whose playing time has come

    def _heard_until(self) -> float:
        frames = self.peer.played
        for i in range(self._seen - 1, -1, -1):
            if frames[i].end > frames[i].start:  # a frame `clear` dropped before it played has end == start
                return frames[i].end
        return self.t0

    def update(self, now: float) -> None:
        frames = self.peer.played
        while self._seen < len(frames) and frames[self._seen].start <= now:
            f = frames[self._seen]
            self._seen += 1
            if f.end > f.start and not self.speaking:
                self.speaking = True
                self.on_event(CallEvent(round((f.start - self.t0) * 1000, 1), "bot_speech_start", {}))
        if self.speaking and now - self._heard_until() >= HEARD_GAP_S:
            self.speaking = False
            self.on_event(CallEvent(round((self._heard_until() - self.t0) * 1000, 1), "bot_speech_stop", {}))


def line_events(sent_at_event: list[tuple[CallEvent, int]], peer: TwilioStreamClient, t0: float) -> list[CallEvent]:
    """The server's events with its line events re-timed to the peer's player (see the module doc)."""
    frames = peer.played
    ms = lambda t: round((t - t0) * 1000, 1)  # noqa: E731

    def first_played(k: int) -> float | None:
        return next((ms(f.start) for f in frames[k:] if f.end > f.start), None)

    def heard_until(k: int) -> float | None:
        return next((ms(f.end) for f in reversed(frames[:k]) if f.end > f.start), None)

    out: list[CallEvent] = []
    for ev, k in sent_at_event:
        t = None
        if ev.kind in ("bot_speech_start", "bot_resumed"):
            t = first_played(k)
        elif ev.kind in ("bot_speech_stop", "bot_paused"):
            t = heard_until(k)
        out.append(CallEvent(ev.t_ms if t is None else t, ev.kind, {**ev.data, "server_t_ms": ev.t_ms} if t is not None else ev.data))
    return out


def bot_track(peer: TwilioStreamClient, t0: float, n_samples: int) -> np.ndarray:
    """The bot's audio as the caller heard it, on the caller's timeline (int16, 8 kHz)."""
    frames = [((f.start - t0) * 1000, np.frombuffer(ulaw_decode(f.mulaw), dtype="<i2")[: int(round((f.end - f.start) * RATE))])
              for f in peer.played if f.end > f.start]
    return place_audio(frames, n_samples, RATE)


async def run_twilio_line(bench: TwilioBench, script: CallerScript, *, call_id: str, make_session: Callable[..., CallSession],
                          transcriber: Any = None, tail_s: float = 3.0, max_tail_s: float = 12.0, max_call_s: float = 600.0) -> LineRun:
    """One scripted call over a real Twilio Media Stream, at real-time pace."""
    if script.rate != RATE:
        raise ValueError(f"a Twilio caller script must be {RATE} Hz, got {script.rate}")
    t_wall = time.perf_counter()
    peer, pending = await bench.open_call(call_id, make_session)
    call = pending.call
    assert call is not None
    if hasattr(transcriber, "bind"):
        transcriber.bind(call.state)
    loop = asyncio.get_running_loop()
    waits = {asyncio.create_task(call.session.started.wait()), asyncio.create_task(peer.closed.wait())}
    await asyncio.wait(waits, timeout=120, return_when=asyncio.FIRST_COMPLETED)  # the first call loads the models
    for w in waits:
        w.cancel()
    t0 = loop.time()  # caller audio 0 ms: the pipeline is up, the first media goes now
    heard = HeardBot(peer, t0, script.on_event)
    caller_chunks: list[bytes] = []
    late: list[float] = []
    tick = 0
    tail = Tail(tail_s, max_tail_s)
    ended_by = "script"
    try:
        while tick < int(max_call_s * 1000 / CHUNK_MS):
            deadline = t0 + tick * CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            now = loop.time()
            late.append(max(0.0, (now - deadline) * 1000))
            if peer.closed.is_set():
                ended_by = "bot"  # the bot hung up (or the server went away)
                break
            if pending.redirected.is_set():
                ended_by = "transfer"
                break
            await peer.advance(now)
            heard.update(now)
            data = script.chunk(tick).astype("<i2").tobytes()
            caller_chunks.append(data)
            await peer.send_media(ulaw_encode(data))
            tick += 1
            state = call.state
            if script.finished(tick) and tail.done(not state.activity.busy and not state.bot_speaking and peer.play_end <= now):
                break
        if pending.redirected.is_set() and not peer.closed.is_set():
            await peer.advance(loop.time() + 60)  # Twilio moves the call on; its marks are done
        if not peer.closed.is_set():
            with contextlib.suppress(Exception):
                await peer.send_stop()
        await asyncio.wait_for(call.wait_ended(), 30)
    finally:
        with contextlib.suppress(Exception):
            await peer.close()
        bench.forget(call_id)
    log.info("bench twilio call ended", extra={"call_id": call_id, "ended_by": ended_by, "ticks": tick})
    result = call.result or CallResult(call_id, [], "error", "no_result")
    events = line_events(pending.sent_at_event, peer, t0)
    result = CallResult(result.call_id, events, result.outcome, result.end_reason, result.dev_models)
    caller_pcm = np.frombuffer(b"".join(caller_chunks), dtype="<i2")
    replay = ReplayResult(call=result, caller=caller_pcm, bot=bot_track(peer, t0, len(caller_pcm)), sample_rate=RATE)
    return LineRun(replay=replay, turns=script.turns, wall_s=time.perf_counter() - t_wall, late_ms=late,
                   clear_ms=[round((t - t0) * 1000, 1) for t in peer.received.clear_times])
