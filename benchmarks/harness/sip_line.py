"""The bench's SIP mode: a scripted caller phones the bot over SIP/RTP on loopback.

The bot side is the SIP channel ``voicebot serve`` starts (:class:`~voicebot.channels.sip.channel.SipChannel`
with its user agent on a free UDP/TCP port). The caller is a second user agent of this
package placing a real call (INVITE/200/ACK, SDP offer/answer, G.711 RTP, BYE): it sends the
script's audio as one RTP packet every 20 ms against absolute deadlines and hears the bot's
RTP as its jitter buffer plays it out. sipp and baresip cannot react to the bot's audio
(a scenario's caller answers "400 ms after the bot's reply ends"), which is why the caller is
this UA; the SIP tests run the real phones against the same channel.

Figures are taken at the caller: the bot's audio starts with the first frame the phone
receives after the server started a reply (or resumed it), and stops after the last frame it
received before the server paused, cut or finished it (RTP has no far-end buffer to flush:
what was sent before a stop has already arrived on loopback). Other events keep the
server's caller-audio time, which is the phone's timeline: its first frame sent is 0 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.harness.line import CallerScript, LineRun, Tail, place_audio
from voicebot.call import CallResult, CallSession
from voicebot.channels.base import CHUNK_MS
from voicebot.channels.replay import ReplayResult
from voicebot.channels.sip.channel import SipCallBridge, SipChannel
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.sip_call import SipCall
from voicebot.channels.sip.ua import SipOptions, SipUserAgent
from voicebot.events import CallEvent
from voicebot.logs import get_logger

log = get_logger(__name__)

RATE = 8000
FRAME_BYTES = RATE * CHUNK_MS // 1000 * 2  # 20 ms of PCM16
BOT_RTP = (32000, 32998)  # RTP port ranges of the bench's bot and phone (even ports, pairs)
PHONE_RTP = (33000, 33998)
STOP_SLACK_S = 0.005  # a frame sent just before the server's stop event arrives this much later at most (loopback)


@dataclass
class _Pending:
    make_session: Callable[..., CallSession]
    bridge: SipCallBridge | None = None
    created: asyncio.Event = field(default_factory=asyncio.Event)
    emitted: list[tuple[CallEvent, float]] = field(default_factory=list)  # (event, loop time emitted)


class _BenchChannel(SipChannel):
    """The bot's SIP channel, building each call's session with the bench's variant."""

    def __init__(self, runtime: Any, pending: dict[str, _Pending]) -> None:
        super().__init__(runtime, SipOptions(port=0, rtp=RtpOptions(port_min=BOT_RTP[0], port_max=BOT_RTP[1]), answer_delay_s=0.0))
        self._bench_pending = pending

    def make_bridge(self, call: SipCall) -> SipCallBridge:
        pending = self._bench_pending.get(call.caller_number or "")
        if pending is None:
            raise RuntimeError(f"bench SIP channel: unexpected call from {call.caller_uri}")

        def make_session(runtime, ctx, make_transport) -> CallSession:
            session = pending.make_session(runtime, ctx, make_transport)
            loop = asyncio.get_running_loop()
            session.subscribe(lambda ev: pending.emitted.append((ev, loop.time())))
            return session

        pending.bridge = SipCallBridge(self.runtime, call, self.channel_options, session_factory=make_session)
        pending.created.set()
        return pending.bridge


class SipBench:
    """The bot's SIP channel and a phone on loopback, for every SIP scenario of a run."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._pending: dict[str, _Pending] = {}
        self._numbers = itertools.count(1)
        self.bot = _BenchChannel(runtime, self._pending)
        self.phone = SipUserAgent(SipOptions(port=0, user="bench-caller", rtp=RtpOptions(port_min=PHONE_RTP[0], port_max=PHONE_RTP[1])),
                                  self._refuse)

    @staticmethod
    async def _refuse(call: SipCall) -> None:
        await call.hangup("bench_phone_takes_no_calls")

    async def __aenter__(self) -> SipBench:
        await self.bot.start()
        await self.phone.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.phone.stop()
        await self.bot.stop()

    async def dial(self, make_session: Callable[..., CallSession]) -> tuple[SipCall, _Pending, str]:
        number = f"+1555{next(self._numbers):07d}"  # the From user tells the bot's channel which script this is
        pending = self._pending[number] = _Pending(make_session)
        leg = await self.phone.dial(f"sip:bot@127.0.0.1:{self.bot.ua.port}", from_user=number)
        await asyncio.wait_for(pending.created.wait(), 10)
        return leg, pending, number

    def forget(self, number: str) -> None:
        self._pending.pop(number, None)


def line_events(emitted: list[tuple[CallEvent, float]], arrivals: list[float], t0: float) -> list[CallEvent]:
    """The server's events with the line events re-timed to the frames the phone received."""
    ms = lambda t: round((t - t0) * 1000, 1)  # noqa: E731
    out: list[CallEvent] = []
    for ev, at in emitted:
        t = None
        if ev.kind in ("bot_speech_start", "bot_resumed"):
            t = next((ms(a) for a in arrivals if a >= at), None)
        elif ev.kind in ("bot_speech_stop", "bot_paused"):
            last = next((a for a in reversed(arrivals) if a <= at + STOP_SLACK_S), None)
            t = None if last is None else ms(last) + CHUNK_MS
        out.append(CallEvent(ev.t_ms, ev.kind, ev.data) if t is None else CallEvent(t, ev.kind, {**ev.data, "server_t_ms": ev.t_ms}))
    return out


async def run_sip_line(bench: SipBench, script: CallerScript, *, call_id: str, make_session: Callable[..., CallSession],
                       transcriber: Any = None, tail_s: float = 3.0, max_tail_s: float = 12.0, max_call_s: float = 600.0) -> LineRun:
    """One scripted call over SIP/RTP at real-time pace."""
    if script.rate != RATE:
        raise ValueError(f"a SIP caller script must be {RATE} Hz, got {script.rate}")
    t_wall = time.perf_counter()
    leg, pending, number = await bench.dial(make_session)
    bridge = pending.bridge
    assert bridge is not None
    if hasattr(transcriber, "bind"):
        transcriber.bind(bridge.state)
    loop = asyncio.get_running_loop()
    started = asyncio.create_task(bridge.session.started.wait())
    await asyncio.wait({started, leg.ended}, timeout=120, return_when=asyncio.FIRST_COMPLETED)  # the first call loads the models
    started.cancel()
    t0 = loop.time()
    arrivals: list[float] = []
    heard: list[tuple[float, bytes]] = []
    seen = 0

    async def listen() -> None:
        async for frame in leg.frames():
            now = loop.time()
            arrivals.append(now)
            heard.append((now, frame))

    listener = asyncio.create_task(listen(), name=f"bench-sip-listen-{call_id}")
    caller_chunks: list[bytes] = []
    late: list[float] = []
    tick = 0
    tail = Tail(tail_s, max_tail_s)
    try:
        while tick < int(max_call_s * 1000 / CHUNK_MS) and not leg.ended.done():
            deadline = t0 + tick * CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            late.append(max(0.0, (loop.time() - deadline) * 1000))
            # the caller reacts to the bot as the server reported it, on the phone's timeline
            for ev, at in pending.emitted[seen:]:
                if ev.kind in ("bot_speech_start", "bot_speech_stop"):
                    script.on_event(CallEvent(round((at - t0) * 1000, 1), ev.kind, ev.data))
            seen = len(pending.emitted)
            data = script.chunk(tick).astype("<i2").tobytes()
            caller_chunks.append(data)
            leg.send_frame(data)
            tick += 1
            state = bridge.state
            if script.finished(tick) and tail.done(not state.activity.busy and not state.bot_speaking):
                break
        if not leg.ended.done():
            await leg.hangup("caller_done")
        try:  # the bot's side ends on our BYE (or ended the call itself)
            await asyncio.wait_for(bridge.done.wait(), 30)
        except TimeoutError:
            raise TimeoutError(f"bench SIP call {call_id}: the bot's call did not end within 30 s of the caller hanging up") from None
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        bench.forget(number)
    result = bridge.result or CallResult(call_id, [e for e, _ in pending.emitted], bridge.state.outcome or "ended",
                                                         bridge.state.end_reason or "")
    events = line_events(pending.emitted, arrivals, t0)
    result = CallResult(result.call_id, events, result.outcome, result.end_reason, result.dev_models)
    caller_pcm = np.frombuffer(b"".join(caller_chunks), dtype="<i2")
    bot = place_audio([((at - t0) * 1000, np.frombuffer(frame, dtype="<i2")) for at, frame in heard], len(caller_pcm), RATE)
    replay = ReplayResult(call=result, caller=caller_pcm, bot=bot, sample_rate=RATE)
    return LineRun(replay=replay, turns=script.turns, wall_s=time.perf_counter() - t_wall, late_ms=late)
