"""The in-app call: the shared call pipeline fed by a browser, over WebRTC or a WebSocket.

:class:`InappCall` is one call, whatever carries it: it builds the :class:`CallSession` with
the session token's customer and language in its :class:`CallContext`, turns the call's
events into captions and widget states (:func:`.protocol.event_messages`), injects typed
text as the caller's turn, and keeps the caller connected after a handoff (an agent's audio
can then be attached: :meth:`InappCall.play_agent_audio`, :attr:`InappCall.caller_audio_taps`).

Over WebRTC the bot's audio is a track that aiortc pulls every 20 ms and encodes with Opus;
each pull ticks the :class:`WebRTCOutput` (``pacing="external"``), so the media clock paces
playout and nothing is sent before the browser listens. Over the WebSocket fallback the
output paces itself and sends 16 kHz PCM frames; barge-in sends ``clear``.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from voicebot.audio.pcm import StreamResampler
from voicebot.channels.base import CHUNK_MS, PIPELINE_RATE, CallInput, CallOutput, CallTransport
from voicebot.core import CallContext, Transfer
from voicebot.events import CallEvent
from voicebot.logs import get_logger
from voicebot.pipeline.frames import CallerTextFrame
from voicebot.pipeline.state import CallState

from .protocol import event_messages
from .tokens import SessionClaims

log = get_logger(__name__)

WEBRTC_RATE = 48000  # Opus runs at 48 kHz: no resampling inside aiortc
WS_RATE = 16000
TYPED_TURN_BASE = 100_000  # typed turns get ids apart from the turn taker's spoken ones
EARLY_AUDIO_CHUNKS = 150

SendMessage = Callable[[dict[str, Any]], None]


class InappInput(CallInput):
    """Caller audio from the browser, and text the caller typed instead of speaking."""

    def __init__(self, state: CallState, **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self._typed = 0
        self._agent_resamplers: dict[int, StreamResampler] = {}
        self.to_agent_only = False  # after a handoff the bot stops listening; the taps (recorder, agent) still hear

    async def push_audio(self, pcm: bytes, sample_rate: int) -> None:
        if self.to_agent_only:
            if sample_rate not in self._agent_resamplers:
                self._agent_resamplers[sample_rate] = StreamResampler(sample_rate, PIPELINE_RATE)
            audio = self._agent_resamplers[sample_rate](pcm)
            for tap in self.audio_taps:
                tap(audio)
            return
        await super().push_audio(pcm, sample_rate)

    async def push_text(self, text: str) -> int:
        """The caller's typed turn, pushed past the ASR stage as a :class:`CallerTextFrame`."""
        self._typed += 1
        turn_id = TYPED_TURN_BASE + self._typed
        st = self.state
        lang = st.language or st.ctx.language or "en"
        st.activity.begin(turn_id)
        st.emit("turn_end", turn_id=turn_id, start_ms=st.audio_ms, end_ms=st.audio_ms, typed=True)
        st.emit("transcript", turn_id=turn_id, text=text, language=lang, typed=True, dev_model=False, asr_ms=0.0)
        await self.push_frame(CallerTextFrame(text=text, language=lang, turn_id=turn_id, end_ms=st.audio_ms))
        return turn_id


class InappOutput(CallOutput):
    """What a transfer does in the widget: the caller stays, waiting for an agent.

    With a hand-off (``handoff``, attached by the call from ``runtime.attach_handoff``) the
    transfer goes to the agent desk and the bot keeps listening (the caller's words are relayed);
    without one, ``on_transfer`` is told (the call then sends the caller's audio to an agent only).
    """

    waiting_for_agent: bool = False
    on_transfer: Callable[[Transfer], None] | None = None

    async def transfer(self, action: Transfer) -> None:
        self.waiting_for_agent = True
        self.state.emit_action("waiting_for_agent", queue=action.queue, reason=action.reason)
        log.info("in-app call waiting for an agent", extra={"call_id": self.state.ctx.call_id, "queue": action.queue})
        if self.handoff is not None:
            await self.handoff.transfer(action)
            return
        if self.on_transfer is not None:
            self.on_transfer(action)

    def play_agent_audio(self, pcm: bytes, sample_rate: int) -> None:
        """An agent's voice (16-bit mono, any rate), mixed into what the caller hears."""
        raise NotImplementedError


class WebRTCOutput(InappOutput):
    """Bot audio for :class:`BotAudioTrack`: one 20 ms chunk per pull, bot or agent, else silence."""

    def __init__(self, state: CallState, on_hang_up: Callable[[], None]) -> None:
        super().__init__(state, WEBRTC_RATE, pacing="external")
        self._out: collections.deque[bytes] = collections.deque()
        self._agent: collections.deque[bytes] = collections.deque(maxlen=10)  # <= 200 ms of agent voice waits; older is dropped
        self._agent_pending = b""
        self._agent_resamplers: dict[int, StreamResampler] = {}
        self._on_hang_up = on_hang_up

    async def send_audio(self, chunk: bytes) -> None:
        self._out.append(chunk)

    async def clear(self) -> None:
        self._out.clear()  # barge-in: nothing already handed over is played

    async def hang_up(self) -> None:
        self._on_hang_up()  # scheduled: we are inside the track's pull

    def play_agent_audio(self, pcm: bytes, sample_rate: int) -> None:
        if sample_rate not in self._agent_resamplers:
            self._agent_resamplers[sample_rate] = StreamResampler(sample_rate, WEBRTC_RATE)
        data = self._agent_pending + self._agent_resamplers[sample_rate](pcm)
        n = len(data) // self.chunk_bytes
        for i in range(n):
            self._agent.append(data[i * self.chunk_bytes : (i + 1) * self.chunk_bytes])
        self._agent_pending = data[n * self.chunk_bytes :]

    async def pull(self) -> bytes:
        """The next 20 ms for the browser (called by the track at the media clock)."""
        try:
            await self.tick()
        except Exception:  # a failing tick must not kill aiortc's sender: the caller would hear nothing more
            log.exception("webrtc playout tick failed", extra={"call_id": self.state.ctx.call_id})
        chunk = self._out.popleft() if self._out else None
        agent = self._agent.popleft() if self._agent else None
        if agent is not None:
            if chunk is None:
                return agent
            mix = np.frombuffer(chunk, "<i2").astype(np.int32) + np.frombuffer(agent, "<i2")
            return np.clip(mix, -32768, 32767).astype("<i2").tobytes()
        return chunk if chunk is not None else bytes(self.chunk_bytes)


class BotAudioTrack(MediaStreamTrack):
    """An aiortc audio track paced at 20 ms frames (like aiortc's ``AudioStreamTrack``), each pulled from the output.

    pipecat's ``RawAudioTrack`` queues what it is given and pads with silence; here the track
    asks the output for each frame, so what counts as "played" is what left for the browser.
    """

    kind = "audio"

    def __init__(self, output: WebRTCOutput) -> None:
        super().__init__()
        self.output = output
        self.samples = WEBRTC_RATE * 20 // 1000
        self._timestamp = 0
        self._start: float | None = None
        self.frames_sent = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += self.samples
            wait = self._start + self._timestamp / WEBRTC_RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.2:  # the loop stalled: resync rather than burst
                self._start = time.time() - self._timestamp / WEBRTC_RATE
        pcm = await self.output.pull()
        frame = AudioFrame.from_ndarray(np.frombuffer(pcm, "<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = WEBRTC_RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, WEBRTC_RATE)
        self.frames_sent += 1
        return frame


class WebSocketOutput(InappOutput):
    """Bot audio as binary 16 kHz PCM frames on the fallback WebSocket, paced on the call clock."""

    def __init__(self, state: CallState, send_bytes: Callable[[bytes], Any], send: SendMessage, on_hang_up: Callable[[], None]) -> None:
        super().__init__(state, WS_RATE, pacing="realtime")
        self._send_bytes = send_bytes
        self._send = send
        self._on_hang_up = on_hang_up
        self._agent_resamplers: dict[int, StreamResampler] = {}

    async def send_audio(self, chunk: bytes) -> None:
        await self._send_bytes(chunk)

    async def clear(self) -> None:
        self._send({"type": "clear"})

    async def hang_up(self) -> None:
        self._on_hang_up()

    def play_agent_audio(self, pcm: bytes, sample_rate: int) -> None:
        if sample_rate not in self._agent_resamplers:
            self._agent_resamplers[sample_rate] = StreamResampler(sample_rate, WS_RATE)
        audio = self._agent_resamplers[sample_rate](pcm)
        if audio:
            asyncio.ensure_future(self._send_bytes(audio))


class TypedOutput(WebSocketOutput):
    """A typed session's output: no audio leaves, and a reply counts as heard once it is ready.

    The caller reads the caption the moment it arrives; pacing the reply at speaking speed
    would only delay what follows it (a hand-off waits until the reply is "heard")."""

    def __init__(self, state: CallState, send: SendMessage) -> None:
        super().__init__(state, self._nowhere, send, lambda: None)

    @staticmethod
    async def _nowhere(pcm: bytes) -> None:
        """The bot's audio has no listener here."""

    async def _pace(self) -> None:
        clock = self.state.clock
        while True:
            await clock.sleep_until(clock.now() + CHUNK_MS / 1000)
            try:
                while self._queue and not self._paused:
                    await self.tick()
            except Exception:
                log.exception("typed-session tick failed", extra={"call_id": self.state.ctx.call_id})


def call_context(call_id: str, claims: SessionClaims, kind: Literal["webrtc", "websocket"], origin: str | None,
                 mode: Literal["voice", "text"] = "voice") -> CallContext:
    """The token's customer and language go to the dialogue (greet by name, orders without asking)."""
    return CallContext(call_id=call_id, channel=kind, customer_id=claims.customer_id, customer_name=claims.customer_name,
                       language=claims.language, extra={"origin": origin, "token_id": claims.token_id, "mode": mode})


class InappCall:
    """One in-app call. ``make_output(state)`` gives the channel's output (WebRTC or WebSocket)."""

    def __init__(self, runtime: Any, ctx: CallContext, send: SendMessage, make_output: Callable[[CallState, InappCall], InappOutput],
                 *, spec: Any = None, transcriber: Any = None, session_factory: Callable[..., Any] | None = None) -> None:
        """``session_factory(runtime, ctx, make_transport, spec=, transcriber=)`` builds the
        session (default :class:`~voicebot.call.CallSession`; the bench passes its variants).
        The runtime's hand-off (``runtime.attach_handoff``), when it has one, takes transfers."""
        from voicebot.call import (
            CallSession,  # the pipeline: imported only when a call runs
        )

        self.runtime = runtime
        self.ctx = ctx
        self.call_id = ctx.call_id
        self.send = send
        self._make_output = make_output
        self.session = (session_factory or CallSession)(runtime, ctx, self._make_transport, spec=spec, transcriber=transcriber)
        self.session.subscribe(self._on_event)
        self.state = self.session.prepare()
        self.result: Any = None
        self.done = asyncio.Event()
        self._early: list[bytes] = []
        self.caller_audio_taps: list[Callable[[bytes], None]] = []  # 16 kHz caller audio, for an agent's desk
        self.state_name = "connecting"
        self.text_only = ctx.extra.get("mode") == "text"  # typed session: no microphone, no audio either way
        self._held: str | None = None  # a hand-off state the bot's own states must not replace (see _follow)

    def _make_transport(self, state: CallState) -> CallTransport:
        self.input = InappInput(state)
        self.input.audio_taps.append(self._tap_caller)
        self.output = self._make_output(state, self)
        self.output.on_transfer = self._on_transfer
        attach = getattr(self.runtime, "attach_handoff", None)
        if attach is not None:  # transfers go to the agent desk
            self.output.handoff = attach(self)
        return CallTransport(self.input, self.output)

    def _tap_caller(self, pcm16k: bytes) -> None:
        for tap in self.caller_audio_taps:
            tap(pcm16k)

    def _on_event(self, ev: CallEvent) -> None:
        for msg in event_messages(ev):
            if msg["type"] == "state":
                if not self._follow(msg):
                    continue
                self.state_name = msg["state"]
            try:
                self.send(msg)
            except Exception:  # noqa: BLE001 - the page is gone: the call ends through its own path
                log.debug("in-app message not sent", extra={"call_id": self.call_id, "kind": msg["type"]})

    def _follow(self, msg: dict[str, Any]) -> bool:
        """Does the widget's state follow this state message? While a person has (or is about to
        have) the caller, or a voicemail is being taken, the bot's own listening/speaking states
        would hide that; a hand-off step that gives the caller back to the bot lifts the hold."""
        state = msg["state"]
        if msg.get("back_to_bot"):
            self._held = None
        elif state in ("transferred", "agent"):
            self._held = state
        elif state == "no_agent":
            self._held = state if msg.get("instead") == "voicemail" else None
        elif state in ("listening", "bot_speaking") and self._held:
            return False
        return True

    async def run_text_clock(self, step_s: float = 0.1) -> None:
        """A typed session has no caller audio to time the call by: its clock is the time since it began."""
        started = time.monotonic()
        while not self.done.is_set():
            self.state.advance_audio((time.monotonic() - started) * 1000)
            await asyncio.sleep(step_s)

    def _on_transfer(self, action: Transfer) -> None:
        self.input.to_agent_only = True

    @property
    def waiting_for_agent(self) -> bool:
        return self.output.waiting_for_agent

    def play_agent_audio(self, pcm: bytes, sample_rate: int) -> None:
        """The agent desk attaches here: the agent's voice (16-bit mono) goes to the caller."""
        self.output.play_agent_audio(pcm, sample_rate)

    async def push_audio(self, pcm: bytes, sample_rate: int) -> None:
        if not self.session.started.is_set():  # frames before StartFrame would be dropped
            if len(self._early) < EARLY_AUDIO_CHUNKS and sample_rate == PIPELINE_RATE:
                self._early.append(pcm)
            return
        if self._early:
            early, self._early = self._early, []
            for chunk in early:
                await self.input.push_audio(chunk, PIPELINE_RATE)
        await self.input.push_audio(pcm, sample_rate)

    async def push_text(self, text: str) -> None:
        if self.waiting_for_agent:
            self.state.emit("transcript", text=text, language=self.state.language or "en", typed=True, to_agent=True)
            return
        if not await self._wait_started():
            return
        await self.input.push_text(text)

    async def _wait_started(self, timeout_s: float = 10.0) -> bool:
        if self.session.started.is_set():
            return True
        started = asyncio.ensure_future(self.session.started.wait())
        done = asyncio.ensure_future(self.done.wait())
        await asyncio.wait({started, done}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        done.cancel()
        return self.session.started.is_set() and not self.done.is_set()

    async def end(self, reason: str) -> None:
        """The caller hung up or the network dropped: end the call now (its record is kept)."""
        if self.done.is_set():
            return
        if await self._wait_started(5.0) and not self.done.is_set():
            await self.input.far_end_hung_up(reason)
        else:
            await self.session.end(reason)

    async def run(self) -> Any:
        try:
            self.result = await self.session.run()  # CallSession.run records the call (one recorder per call)
            return self.result
        finally:
            self.done.set()
            await self.output.call_ended()  # out of the hand-off's queue, or the agent's call ends


async def read_track(track: Any, call: InappCall, media_timeout_s: float, first_timeout_s: float,
                     on_silent: Callable[[str], Any]) -> None:
    """Feed the browser's decoded audio track (48 kHz, often stereo) into the call until it ends;
    no audio for ``media_timeout_s`` (``first_timeout_s`` before the first frame) ends the call."""
    got_audio = False
    while not call.done.is_set():
        try:
            frame = await asyncio.wait_for(track.recv(), media_timeout_s if got_audio else first_timeout_s)
            got_audio = True
        except TimeoutError:
            await on_silent("media_timeout")
            return
        except MediaStreamError:
            await on_silent("media_ended")
            return
        if frame is None:
            continue
        pcm = frame.to_ndarray()
        channels = len(frame.layout.channels)
        if pcm.dtype != np.int16:  # planar float (fltp) from some decoders
            pcm = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
        mono = pcm.reshape(-1, channels)[:, 0] if frame.format.is_packed else pcm[0]
        try:
            await call.push_audio(np.ascontiguousarray(mono, dtype="<i2").tobytes(), frame.sample_rate)
        except Exception:  # one bad frame must not end the call
            log.exception("caller audio frame dropped", extra={"call_id": call.call_id})
