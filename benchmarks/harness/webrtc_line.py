"""The bench's WebRTC mode: a scripted caller on the in-app voice button's real media path.

The caller is an aiortc peer doing what the widget does (an audio track from its microphone,
the ``voicebot`` data channel, an SDP offer with host candidates on 127.0.0.1); the bot side is
the in-app channel's :class:`~voicebot.channels.webrtc.links.WebRTCLink` answering it, so the
audio goes through ICE, DTLS-SRTP, Opus at 48 kHz and aiortc's jitter buffer both ways. The
signalling is handed over in-process (the HTTP route in front of ``WebRTCLink.answer`` only
admits the token and origin, which tests/webrtc covers), so each call can carry the bench's
session variant and oracle.

Figures are taken at the caller: each server line event is re-timed to the frame the caller's
peer received for it. The bot's track counts the frames it produced; a received frame's RTP
timestamp says which one it is (960 ticks a frame at 48 kHz, counted from the first frame
received), so a reply starts when its first frame arrives and stops after the last frame
produced before the pause, cut or end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from voicebot.audio.pcm import resample
from benchmarks.harness.line import CallerScript, LineRun, Tail, place_audio
from voicebot.call import CallResult, CallSession
from voicebot.channels.base import CHUNK_MS
from voicebot.channels.replay import ReplayResult
from voicebot.channels.webrtc.links import WebRTCLink, restrict_host_candidates
from voicebot.channels.webrtc.service import InappCalls, InappOptions
from voicebot.channels.webrtc.tokens import SessionClaims
from voicebot.events import CallEvent
from voicebot.logs import get_logger

log = get_logger(__name__)

ORIGIN = "http://bench.voicebot.invalid"
OPUS_RATE = 48000
FRAME_TICKS = OPUS_RATE * CHUNK_MS // 1000  # RTP timestamp ticks per 20 ms frame


class ScriptMicrophone(MediaStreamTrack):
    """The caller's microphone: the script's 20 ms chunks against absolute deadlines from ``go``."""

    kind = "audio"

    def __init__(self, script: CallerScript) -> None:
        super().__init__()
        self.script = script
        self.go = asyncio.Event()  # the pipeline is up: caller audio 0 ms is the next frame
        self.t0 = 0.0
        self.tick = 0
        self.late_ms: list[float] = []
        self.chunks: list[bytes] = []
        self.on_tick: Callable[[float], None] | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self.go.wait()
        loop = asyncio.get_running_loop()
        deadline = self.t0 + self.tick * CHUNK_MS / 1000
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        self.late_ms.append(max(0.0, (loop.time() - deadline) * 1000))
        if self.on_tick is not None:
            self.on_tick(loop.time())
        pcm = self.script.chunk(self.tick).astype("<i2")
        self.chunks.append(pcm.tobytes())
        n = len(pcm)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = self.script.rate, self.tick * n, fractions.Fraction(1, self.script.rate)
        self.tick += 1
        return frame


@dataclass
class _Received:
    at: float  # loop time the frame came out of the caller's jitter buffer
    index: int  # which frame of the bot's track it is
    pcm: np.ndarray  # mono int16 at 48 kHz


@dataclass
class _Call:
    link: WebRTCLink | None = None
    emitted: list[tuple[CallEvent, float, int]] = field(default_factory=list)  # (event, loop time, bot frames produced by then)


class WebRTCBench:
    """Runs each WebRTC scenario as a real peer connection to the in-app channel."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.options = InappOptions(allowed_origins=(ORIGIN,), ice_addresses=("127.0.0.1",), max_calls=1000)
        self.live = InappCalls()

    async def __aenter__(self) -> WebRTCBench:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def claims(self, language: str | None) -> SessionClaims:
        now = int(time.time())
        return SessionClaims(customer_id=None, customer_name=None, language=language, origin=ORIGIN, issued_at=now, expires_at=now + 3600,
                             token_id="bench")


def line_events(emitted: list[tuple[CallEvent, float, int]], received: list[_Received], t0: float) -> list[CallEvent]:
    """The server's events with the line events re-timed to the frames the caller received."""
    ms = lambda t: round((t - t0) * 1000, 1)  # noqa: E731
    by_index = sorted(received, key=lambda r: r.index)
    indices = [r.index for r in by_index]
    out: list[CallEvent] = []
    for ev, _at, k in emitted:
        t = None
        if ev.kind in ("bot_speech_start", "bot_resumed"):
            i = int(np.searchsorted(indices, k))  # the first received frame produced at or after the event
            t = ms(by_index[i].at) if i < len(by_index) else None
        elif ev.kind in ("bot_speech_stop", "bot_paused"):
            i = int(np.searchsorted(indices, k)) - 1  # the last received frame produced before it
            t = ms(by_index[i].at) + CHUNK_MS if i >= 0 else None
        out.append(CallEvent(ev.t_ms, ev.kind, ev.data) if t is None else CallEvent(t, ev.kind, {**ev.data, "server_t_ms": ev.t_ms}))
    return out


async def run_webrtc_line(bench: WebRTCBench, script: CallerScript, *, call_id: str, make_session: Callable[..., CallSession],
                          transcriber: Any = None, tail_s: float = 3.0, max_tail_s: float = 12.0, max_call_s: float = 600.0,
                          language: str | None = None) -> LineRun:
    """One scripted in-app call over a real WebRTC peer connection, at real-time pace."""
    t_wall = time.perf_counter()
    loop = asyncio.get_running_loop()
    call = _Call()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("voicebot", ordered=True)  # as the widget: captions and states come on it
    mic = ScriptMicrophone(script)
    pc.addTrack(mic)
    restrict_host_candidates(pc, ("127.0.0.1",))  # aioice never offers loopback
    received: list[_Received] = []
    readers: list[asyncio.Task] = []

    async def hear(track: Any) -> None:
        first_pts: int | None = None
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                first_pts = frame.pts if first_pts is None else first_pts
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0] if frame.format.is_packed else frame.to_ndarray()[0]
                if pcm.dtype != np.int16:
                    pcm = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
                received.append(_Received(loop.time(), round((frame.pts - first_pts) / FRAME_TICKS), pcm))

    pc.on("track", lambda track: readers.append(asyncio.ensure_future(hear(track))))

    def make(runtime, ctx, make_transport, **kw) -> CallSession:
        session = make_session(runtime, ctx, make_transport)
        session.subscribe(lambda ev: call.emitted.append((ev, loop.time(), call.link.track.frames_sent if call.link and getattr(call.link, "track", None) else 0)))
        return session

    await pc.setLocalDescription(await pc.createOffer())
    link = call.link = WebRTCLink(bench.runtime, bench.options, bench.live, bench.claims(language), ORIGIN, transcriber=transcriber, session_factory=make)
    answer = await link.answer(pc.localDescription.sdp, "offer")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    inapp = link.call
    if hasattr(transcriber, "bind"):
        transcriber.bind(inapp.state)
    started = asyncio.create_task(inapp.session.started.wait())
    done = asyncio.create_task(inapp.done.wait())
    await asyncio.wait({started, done}, timeout=120, return_when=asyncio.FIRST_COMPLETED)  # the first call loads the models
    started.cancel()
    mic.t0 = loop.time()
    t0 = mic.t0
    mic.go.set()
    seen = 0
    state = inapp.state
    tail = Tail(tail_s, max_tail_s)
    finished = asyncio.Event()

    def on_tick(now: float) -> None:
        nonlocal seen
        for ev, at, _k in call.emitted[seen:]:  # the caller reacts to the bot as the server reported it
            if ev.kind in ("bot_speech_start", "bot_speech_stop"):
                script.on_event(CallEvent(round((at - t0) * 1000, 1), ev.kind, ev.data))
        seen = len(call.emitted)
        if script.finished(mic.tick) and tail.done(not state.activity.busy and not state.bot_speaking):
            finished.set()
        if mic.tick * CHUNK_MS >= max_call_s * 1000:
            finished.set()

    mic.on_tick = on_tick
    try:
        ended = asyncio.create_task(finished.wait())
        await asyncio.wait({ended, done}, return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        if not inapp.done.is_set():
            await inapp.end("caller_hung_up")  # the widget's hang-up
        await asyncio.wait_for(done, 30)
    finally:
        mic.stop()
        await pc.close()
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    result = inapp.result or CallResult(inapp.call_id, [e for e, _, _ in call.emitted], state.outcome or "ended", state.end_reason or "")
    events = line_events(call.emitted, received, t0)
    result = CallResult(result.call_id, events, result.outcome, result.end_reason, result.dev_models)
    caller_pcm = np.frombuffer(b"".join(mic.chunks), dtype="<i2")
    bot = place_audio([((r.at - t0) * 1000, resample(r.pcm, OPUS_RATE, script.rate)) for r in received], len(caller_pcm), script.rate)
    replay = ReplayResult(call=result, caller=caller_pcm, bot=bot, sample_rate=script.rate)
    return LineRun(replay=replay, turns=script.turns, wall_s=time.perf_counter() - t_wall, late_ms=mic.late_ms)
