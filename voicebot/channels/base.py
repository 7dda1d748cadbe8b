"""What every channel plugs into: one input and one output around the same call pipeline.

A channel (Twilio, SIP, WebRTC, replay) subclasses :class:`CallOutput` and implements a
few hooks (``send_audio``, ``clear``, ...), and feeds :class:`CallInput`. A hand-off to a
person is one injected :class:`CallHandoff` on the output (``voicebot.handoff`` implements it;
channels never import it): the composition root gives the runtime an :data:`AttachHandoff`,
and each channel calls it once a call's output exists. Everything a
caller experiences — VAD, barge-in, ASR, dialogue, TTS pacing, what the caller heard,
hang-up after the last word — is this shared code.

The output paces 20 ms chunks against absolute deadlines of the call clock (no drift, no
bursts after a stall), or is ticked by the channel itself (a replay on a virtual clock).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    CancelFrame,
    CancelWorkerFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import BaseTransport

from voicebot.audio.pcm import StreamResampler, resample
from voicebot.core import HangUp, Transfer
from voicebot.logs import get_logger
from voicebot.pipeline.frames import BotSentenceAudioFrame, PlaybackControlFrame, PlaybackReportFrame
from voicebot.pipeline.state import CallState

log = get_logger(__name__)

PIPELINE_RATE = 16000  # the rate of caller audio inside the pipeline (VAD, ASR)
CHUNK_MS = 20


class CallHandoff(Protocol):
    """One call's way to a person (``voicebot.handoff``: queue, agent desk, relay), on its output."""

    def drops(self, frame: Frame, direction: FrameDirection) -> bool:
        """True for the dialogue's own audio while a person has the call: the output does not play it."""
        ...

    async def transfer(self, action: Transfer) -> None:
        """The dialogue hands the caller to a person."""
        ...

    async def call_ended(self) -> None:
        """The call is over (the channel's call has finished running): leave the queue, free the agent."""
        ...


# Given a channel's call object once its output exists (``call.output``; TwilioCall, SipCallBridge,
# InappCall), that call's hand-off, or None where there is none for this channel.
AttachHandoff = Callable[[Any], CallHandoff | None]


class CallInput(FrameProcessor):
    """The channel pushes caller audio (any rate), DTMF and far-end hang-up here."""

    def __init__(self, state: CallState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self._resamplers: dict[int, StreamResampler] = {}
        self._samples = 0  # caller audio received, at PIPELINE_RATE
        self.audio_taps: list = []  # callables(pcm16k: bytes) — the call recorder

    @property
    def received_ms(self) -> float:
        return self._samples * 1000 / PIPELINE_RATE

    async def push_audio(self, pcm: bytes, sample_rate: int) -> None:
        if sample_rate not in self._resamplers:
            self._resamplers[sample_rate] = StreamResampler(sample_rate, PIPELINE_RATE)
        audio = self._resamplers[sample_rate](pcm)
        if not audio:
            return
        frame = InputAudioRawFrame(audio=audio, sample_rate=PIPELINE_RATE, num_channels=1)
        frame.pts = int(self._samples * 1e9 / PIPELINE_RATE)
        self._samples += len(audio) // 2
        for tap in self.audio_taps:
            tap(audio)
        await self.push_frame(frame)

    async def push_dtmf(self, digit: str) -> None:
        try:
            entry = KeypadEntry(digit)
        except ValueError:
            log.warning("ignoring unknown DTMF digit", extra={"call_id": self.state.ctx.call_id, "digit": digit})
            return
        await self.push_frame(InputDTMFFrame(button=entry))

    async def far_end_hung_up(self, reason: str = "caller_hung_up") -> None:
        """The caller (or the network) ended the call: stop everything now."""
        if not self.state.end_reason:
            self.state.end_reason = reason
        await self.push_frame(CancelWorkerFrame(reason=reason), FrameDirection.UPSTREAM)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


@dataclass
class _Chunk:
    pcm: bytes
    turn_id: int
    sentence: int


@dataclass
class _Marker:
    frame: BotSentenceAudioFrame
    sentence: int
    chunks: int


@dataclass
class _Playback:
    """What the caller has heard of the reply being played."""

    turn_id: int
    heard: list[str]
    sentence_text: dict[int, str]
    sentence_chunks: dict[int, int]
    played_in_sentence: int = 0
    current_sentence: int = 0
    started: bool = False
    tts_ms: float | None = None

    def heard_text(self, partial: bool) -> str:
        text = " ".join(self.heard)
        if partial and self.played_in_sentence and self.current_sentence in self.sentence_text:
            words = self.sentence_text[self.current_sentence].split()
            total = max(1, self.sentence_chunks.get(self.current_sentence, 1))
            n = int(len(words) * min(1.0, self.played_in_sentence / total))
            if n:
                text = (text + " " + " ".join(words[:n])).strip()
        return text


class CallOutput(FrameProcessor):
    """Plays the bot's audio to the caller in 20 ms chunks and knows what was heard.

    Channel hooks (override): ``send_audio`` (required), ``send_idle``, ``clear``,
    ``send_mark`` (with ``uses_marks = True``: audio counts as heard only once the far end
    confirms it with :meth:`mark_played`), ``hang_up``, ``transfer``. ``handoff`` is the
    call's :class:`CallHandoff` when there is one: it mutes the dialogue while a person has the
    call, and ``transfer`` goes to it.
    """

    uses_marks = False

    # Ticks owed after a late wake-up are played at once up to this much audio (the same bound
    # as RtpOptions.pause_after_s: within it the frames stay one contiguous talkspurt).
    max_catchup_s = 0.5

    def __init__(self, state: CallState, sample_rate: int, pacing: Literal["realtime", "external"] = "realtime", **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.sample_rate = sample_rate
        self.pacing = pacing
        self.stalls = 0  # wake-ups later than max_catchup_s (their audio was dropped)
        self.chunk_bytes = sample_rate * CHUNK_MS // 1000 * 2
        self._queue: collections.deque[_Chunk | _Marker] = collections.deque()
        self._pending = b""
        self._sentence_seq = 0
        self._sentence_chunks = 0
        self._playback: _Playback | None = None
        self._paused = False
        self._task: asyncio.Task | None = None
        self._pending_marks: dict[str, _Marker] = {}
        self._mark_seq = 0
        self._ending = False
        self.audio_taps: list = []  # callables(pcm: bytes, rate: int) — the call recorder
        self.handoff: CallHandoff | None = None  # set by the channel right after it makes the output
        self.call_input: CallInput | None = None  # the same call's input, set by its CallTransport

    # ---- channel hooks -----------------------------------------------------------------
    async def send_audio(self, chunk: bytes) -> None:
        raise NotImplementedError

    async def send_idle(self) -> None:
        """Called on each tick with nothing to play (a replay writes silence; RTP may send comfort noise)."""

    async def clear(self) -> None:
        """Barge-in confirmed: drop whatever the far end has buffered (Twilio `clear`)."""

    async def send_mark(self, name: str) -> None:
        """Ask the far end to confirm when playback reaches this point (Twilio `mark`)."""

    async def hang_up(self) -> None:
        """End the call on the channel (after the last word has been heard)."""

    async def transfer(self, action: Transfer) -> None:
        """Hand the caller to a human: through the hand-off when there is one (a channel may
        override this, e.g. to transfer to a fixed target itself)."""
        if self.handoff is not None:
            await self.handoff.transfer(action)
            return
        log.warning("this channel cannot transfer; ending the call", extra={"call_id": self.state.ctx.call_id})

    async def call_ended(self) -> None:
        """The channel's call has finished: its hand-off lets go of it. Never raises (the call is over anyway)."""
        if self.handoff is None:
            return
        try:
            await self.handoff.call_ended()
        except Exception:
            log.exception("hand-off not told that the call ended", extra={"call_id": self.state.ctx.call_id})

    # ---- pipeline ------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if self.handoff is not None and self.handoff.drops(frame, direction):
            return
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self.pacing == "realtime":
                self._task = self.create_task(self._pace(), name="playout")
        elif isinstance(frame, OutputAudioRawFrame):
            self._enqueue_audio(frame)
        elif isinstance(frame, BotSentenceAudioFrame):
            self._enqueue_marker(frame)
        elif isinstance(frame, PlaybackControlFrame):
            self._paused = frame.action == "pause"
        elif isinstance(frame, InterruptionFrame):
            await self._interrupt()
            await self.push_frame(frame, direction)
        elif isinstance(frame, EndFrame):
            await self._drain()
            await self._stop_task()
            await self.push_frame(frame, direction)
        elif isinstance(frame, CancelFrame):
            await self._stop_task()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    def _enqueue_audio(self, frame: OutputAudioRawFrame) -> None:
        pcm = frame.audio
        if frame.sample_rate != self.sample_rate:
            pcm = resample(np.frombuffer(pcm, dtype="<i2"), frame.sample_rate, self.sample_rate).tobytes()
        turn_id = int(frame.metadata.get("turn_id", 0))
        if frame.metadata.get("tts_ms") is not None and (self._playback is None or self._playback.turn_id != turn_id):
            self._first_tts_ms = frame.metadata["tts_ms"]
        data = self._pending + pcm
        n = len(data) // self.chunk_bytes
        for i in range(n):
            self._queue.append(_Chunk(data[i * self.chunk_bytes : (i + 1) * self.chunk_bytes], turn_id, self._sentence_seq))
            self._sentence_chunks += 1
        self._pending = data[n * self.chunk_bytes :]

    def _enqueue_marker(self, frame: BotSentenceAudioFrame) -> None:
        if self._pending:  # the sentence's tail, padded with silence to a whole chunk
            self._queue.append(_Chunk(self._pending.ljust(self.chunk_bytes, b"\0"), frame.turn_id, self._sentence_seq))
            self._sentence_chunks += 1
            self._pending = b""
        self._queue.append(_Marker(frame, self._sentence_seq, self._sentence_chunks))
        self._sentence_seq += 1
        self._sentence_chunks = 0
        if frame.last:  # the whole reply is queued: its turn needs no more compute
            self.state.activity.end(frame.turn_id)

    # ---- playout -------------------------------------------------------------------------
    async def _pace(self) -> None:
        clock = self.state.clock
        deadline = clock.now()
        step = CHUNK_MS / 1000
        while True:
            await clock.sleep_until(deadline)
            try:
                await self.tick()
            except Exception:
                log.exception("playout tick failed", extra={"call_id": self.state.ctx.call_id})
            deadline += step
            # A busy loop (many calls, CPU work) wakes us late: the ticks owed are played at once,
            # so the far end still gets one frame per 20 ms of call (its jitter buffer absorbs the
            # burst). Only a stall longer than that is given up as lost, and said so.
            behind = clock.now() - deadline
            if behind > self.max_catchup_s:
                self.stalls += 1
                if self.stalls <= 3 or self.stalls % 100 == 0:
                    log.warning("playout stalled; audio lost", extra={"call_id": self.state.ctx.call_id,
                                                                     "stalled_ms": round(behind * 1000), "stalls": self.stalls})
                deadline = clock.now()

    async def tick(self) -> None:
        """Play the next 20 ms (or nothing, when paused or idle)."""
        if self._paused or self.state.playback_gate != "open":
            await self.send_idle()
            return
        await self._take_markers()
        if self._queue and isinstance(self._queue[0], _Chunk):
            chunk = self._queue.popleft()
            assert isinstance(chunk, _Chunk)
            pb = self._playback_for(chunk.turn_id)
            if not pb.started:
                pb.started = True
                self.state.bot_speaking = True
                self.state.emit("bot_speech_start", turn_id=chunk.turn_id, tts_first_audio_ms=getattr(self, "_first_tts_ms", None))
            if chunk.sentence != pb.current_sentence:
                pb.current_sentence, pb.played_in_sentence = chunk.sentence, 0
            pb.played_in_sentence += 1
            await self.send_audio(chunk.pcm)
            for tap in self.audio_taps:
                tap(chunk.pcm, self.sample_rate)
            await self._take_markers()
        else:
            await self.send_idle()

    def _playback_for(self, turn_id: int) -> _Playback:
        if self._playback is None or self._playback.turn_id != turn_id:
            self._playback = _Playback(turn_id=turn_id, heard=[], sentence_text={}, sentence_chunks={})
        return self._playback

    async def _take_markers(self) -> None:
        while self._queue and isinstance(self._queue[0], _Marker):
            marker = self._queue.popleft()
            assert isinstance(marker, _Marker)
            pb = self._playback_for(marker.frame.turn_id)
            pb.sentence_text[marker.sentence] = marker.frame.text
            pb.sentence_chunks[marker.sentence] = marker.chunks
            if self.uses_marks:
                self._mark_seq += 1
                name = f"t{marker.frame.turn_id}s{marker.sentence}m{self._mark_seq}"
                self._pending_marks[name] = marker
                await self.send_mark(name)
            else:
                await self._sentence_heard(marker)

    async def mark_played(self, name: str) -> None:
        """The far end confirmed playback up to mark ``name`` (Twilio echoes our marks)."""
        marker = self._pending_marks.pop(name, None)
        if marker is not None:
            await self._sentence_heard(marker)

    async def _sentence_heard(self, marker: _Marker) -> None:
        pb = self._playback_for(marker.frame.turn_id)
        if marker.frame.text:
            pb.heard.append(marker.frame.text)
        pb.played_in_sentence = 0
        pb.current_sentence = marker.sentence + 1
        if not marker.frame.last:
            return
        heard = pb.heard_text(partial=False)
        self.state.bot_speaking = False
        if pb.started:
            self.state.emit("bot_speech_stop", turn_id=pb.turn_id, heard_text=heard, interrupted=False)
        await self.push_frame(PlaybackReportFrame(turn_id=pb.turn_id, heard_text=heard, interrupted=False, finished=True), FrameDirection.UPSTREAM)
        self._playback = None
        if marker.frame.reply is not None:
            await self._run_actions(marker.frame.reply.actions)

    async def _run_actions(self, actions) -> None:
        for action in actions:
            if isinstance(action, Transfer):
                self.state.emit_action("transfer", reason=action.reason, queue=action.queue, target=action.target)
                self.state.outcome = "handed_off"
                try:
                    await self.transfer(action)
                except Exception as exc:
                    log.exception("transfer failed", extra={"call_id": self.state.ctx.call_id})
                    self.state.emit("error", where="transfer", message=str(exc))
            elif isinstance(action, HangUp):
                self.state.emit_action("hangup", reason=action.reason)
                self.state.outcome = self.state.outcome or "resolved_by_bot"
                self.state.end_reason = self.state.end_reason or "bot_hung_up"
                await self.hang_up()
                await self.push_frame(EndWorkerFrame(reason="bot_hung_up"), FrameDirection.UPSTREAM)

    async def _interrupt(self) -> None:
        pb = self._playback
        if pb is not None:  # the playing sentence's marker is still queued: learn its text first
            for item in self._queue:
                if isinstance(item, _Marker) and item.frame.turn_id == pb.turn_id:
                    pb.sentence_text.setdefault(item.sentence, item.frame.text)
                    pb.sentence_chunks.setdefault(item.sentence, item.chunks)
        had_audio = bool(self._queue) or (pb is not None and pb.started)
        self._queue.clear()
        self._pending = b""
        self._sentence_chunks = 0
        self._pending_marks.clear()
        self._paused = False
        self.state.playback_gate = "open"
        self.state.bot_speaking = False
        if pb is not None:
            heard = pb.heard_text(partial=True)
            if pb.started:
                self.state.emit("bot_speech_stop", turn_id=pb.turn_id, heard_text=heard, interrupted=True)
            await self.push_frame(PlaybackReportFrame(turn_id=pb.turn_id, heard_text=heard, interrupted=True, finished=False), FrameDirection.UPSTREAM)
            self._playback = None
        if had_audio:
            await self.clear()

    async def _drain(self, timeout_s: float = 60.0) -> None:
        """Graceful end: let the caller hear what is queued (bounded)."""
        if self.pacing != "realtime":
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout_s
        while (self._queue or self._pending_marks) and loop.time() < until:
            await asyncio.sleep(CHUNK_MS / 1000)

    async def _stop_task(self) -> None:
        if self._task is not None:
            await self.cancel_task(self._task)
            self._task = None

    @property
    def queued_ms(self) -> float:
        return sum(1 for q in self._queue if isinstance(q, _Chunk)) * CHUNK_MS


class CallTransport(BaseTransport):
    """One input and one output: what a channel hands to :class:`voicebot.call.CallSession`."""

    def __init__(self, input: CallInput, output: CallOutput, **kwargs) -> None:
        super().__init__(**kwargs)
        self._input = input
        self._output = output
        output.call_input = input  # who holds the output (a hand-off, a voicemail) reaches the caller's audio

    def input(self) -> CallInput:
        return self._input

    def output(self) -> CallOutput:
        return self._output
