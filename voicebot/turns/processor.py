"""Turn taking and barge-in, driven by the VAD's decisions and counted in audio time.

Why not pipecat's ``UserTurnProcessor`` and its strategies: they time out on wall-clock
timers (asyncio sleeps), so a replay on a virtual clock could not reproduce a timeline, and
their interruption is one-stage. This processor keeps pipecat's VAD frames and pipecat's
interruption machinery (``broadcast_interruption`` -> ``InterruptionFrame``: queued TTS
and output audio are dropped everywhere) and adds the two-stage policy of
:mod:`voicebot.turns.policy`. All durations are measured on the caller's audio, so the
same recording gives the same turns on any machine, at real-time pace or in ``--fast``.
"""

from __future__ import annotations

import collections

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.pipeline.frames import CallerUtteranceFrame, TurnSettledFrame
from voicebot.pipeline.state import CallState
from voicebot.turns.policy import TurnPolicy


class TurnTaker(FrameProcessor):
    def __init__(self, state: CallState, policy: TurnPolicy | None = None, vad: VADAnalyzer | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        # The call's VAD analyzer: its per-frame state says whether the newest audio was voiced
        # (the VAD's start/stop frames alone cannot: "stopped" comes a silence timeout late).
        self.vad = vad
        self._voiced_ms = 0.0
        self.policy = policy or TurnPolicy()
        self._rate = 16000
        self._preroll: collections.deque[bytes] = collections.deque()
        self._preroll_bytes = 0
        self._utterance: list[bytes] = []
        self._speaking = False
        self._onset_ms = 0.0
        self._last_voiced_ms = 0.0
        self._paused = False
        self._paused_at_ms = 0.0
        self._turn_seq = 0
        self._dtmf = ""
        self._last_dtmf_ms = 0.0
        self._interrupted = False

    # -- helpers -------------------------------------------------------------------------
    def _next_turn(self) -> int:
        self._turn_seq += 1
        return self._turn_seq

    @property
    def _bot_active(self) -> bool:
        return self.state.bot_speaking or self._paused

    def _keep_preroll(self, audio: bytes) -> None:
        self._preroll.append(audio)
        self._preroll_bytes += len(audio)
        limit = int(self._rate * 2 * self.policy.end_of_turn.preroll_ms / 1000)
        while self._preroll and self._preroll_bytes - len(self._preroll[0]) >= limit:
            self._preroll_bytes -= len(self._preroll.popleft())

    async def _pause_bot(self) -> None:
        if self._paused or not self.policy.barge_in.pause_on_speech:
            return
        self._paused = True
        self._paused_at_ms = self.state.audio_ms
        self.state.playback_gate = "paused"
        self.state.emit("bot_paused", onset_ms=self._onset_ms)

    async def _resume_bot(self, why: str) -> None:
        if not self._paused:
            return
        self._paused = False
        self.state.playback_gate = "open"
        self.state.emit("bot_resumed", reason=why)

    async def _interrupt(self, why: str) -> None:
        self._paused = False
        self._interrupted = True  # once per caller utterance, until the output has caught up
        self.state.playback_gate = "cut"
        self.state.emit("interruption", reason=why, onset_ms=self._onset_ms)
        await self.broadcast_interruption()

    # -- frames --------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.UPSTREAM:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, InputAudioRawFrame):
            await self._on_audio(frame)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._on_speech_start(frame)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._on_speech_stop(frame)
        elif isinstance(frame, InputDTMFFrame):
            await self._on_dtmf(frame)
        elif isinstance(frame, InterruptionFrame):
            self._paused = False
            await self.push_frame(frame, direction)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._flush_dtmf()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _on_audio(self, frame: InputAudioRawFrame) -> None:
        self._rate = frame.sample_rate
        if frame.pts is not None:
            self.state.advance_audio(frame.pts / 1e6 + len(frame.audio) / 2 / self._rate * 1000)
        if self._speaking:
            self._utterance.append(frame.audio)
            eot = self.policy.end_of_turn
            if len(self._utterance) * len(frame.audio) / (self._rate * 2) * 1000 > eot.max_utterance_ms:
                await self._finish_utterance(self.state.audio_ms)
        else:
            self._keep_preroll(frame.audio)
        if self._speaking and self._frame_voiced():
            self._voiced_ms += len(frame.audio) / 2 / self._rate * 1000
        bi = self.policy.barge_in
        if self._speaking and self._bot_active and bi.enabled and not self._interrupted:
            if self._voiced_ms >= bi.confirm_ms:
                await self._interrupt("speech_confirmed")
        elif self._paused and self.state.audio_ms - self._paused_at_ms >= bi.resume_after_ms:
            await self._resume_bot("not_confirmed")
        if self._dtmf and self.state.audio_ms - self._last_dtmf_ms >= self.policy.end_of_turn.dtmf_timeout_ms:
            await self._flush_dtmf()

    def _frame_voiced(self) -> bool:
        if self.vad is None:
            return True
        return getattr(self.vad, "_vad_state", VADState.SPEAKING) in (VADState.SPEAKING, VADState.STARTING)

    async def _on_speech_start(self, frame: VADUserStartedSpeakingFrame) -> None:
        start_ms = float(getattr(frame, "start_secs", 0.0) or 0.0) * 1000
        self._speaking = True
        self._voiced_ms = start_ms
        self._interrupted = False
        self._onset_ms = max(0.0, self.state.audio_ms - start_ms - 10.0)
        self._utterance = list(self._preroll)
        self._preroll.clear()
        self._preroll_bytes = 0
        self.state.emit("vad_start", onset_ms=round(self._onset_ms, 1))
        if self._bot_active and self.policy.barge_in.enabled:
            await self._pause_bot()

    async def _on_speech_stop(self, frame: VADUserStoppedSpeakingFrame) -> None:
        if not self._speaking:
            return
        stop_ms = float(getattr(frame, "stop_secs", 0.0) or 0.0) * 1000
        end_ms = max(self._onset_ms, self.state.audio_ms - stop_ms)
        self.state.emit("vad_stop", end_ms=round(end_ms, 1))
        if self._paused:  # speech ended before it was confirmed: a backchannel, a cough, noise
            self._speaking = False
            self._utterance = []
            await self._resume_bot("speech_too_short")
            return
        await self._finish_utterance(end_ms)

    async def _finish_utterance(self, end_ms: float) -> None:
        self._speaking = False
        audio = b"".join(self._utterance)
        self._utterance = []
        # The VAD decides "stopped" only after the silence timeout: keep 200 ms of that silence.
        trailing_ms = self.state.audio_ms - end_ms - 200
        if trailing_ms > 0:
            cut = int(trailing_ms * self._rate / 1000) * 2
            audio = audio[: max(0, len(audio) - cut)]
        if end_ms - self._onset_ms < self.policy.end_of_turn.min_speech_ms:
            self.state.emit("turn_end", ignored="too_short", start_ms=round(self._onset_ms, 1), end_ms=round(end_ms, 1))
            return
        turn_id = self._next_turn()
        self.state.activity.begin(turn_id)
        self.state.emit("turn_end", turn_id=turn_id, start_ms=round(self._onset_ms, 1), end_ms=round(end_ms, 1))
        await self.push_frame(
            CallerUtteranceFrame(audio=audio, sample_rate=self._rate, turn_id=turn_id, start_ms=self._onset_ms, end_ms=end_ms, dtmf=self._take_dtmf())
        )

    async def _on_dtmf(self, frame: InputDTMFFrame) -> None:
        digit = getattr(frame.button, "value", str(frame.button))
        self.state.emit("dtmf", digit=digit)
        if self._bot_active and self.policy.barge_in.dtmf_interrupts:
            await self._interrupt("dtmf")
        self._last_dtmf_ms = self.state.audio_ms
        if digit == "#":
            await self._flush_dtmf()
        else:
            self._dtmf += digit
            if digit == "0" and len(self._dtmf) == 1:  # "press 0 for an agent" ends the entry at once
                await self._flush_dtmf()

    def _take_dtmf(self) -> str:
        digits, self._dtmf = self._dtmf, ""
        return digits

    async def _flush_dtmf(self) -> None:
        if not self._dtmf or self._speaking:
            return
        turn_id = self._next_turn()
        self.state.activity.begin(turn_id)
        now = self.state.audio_ms
        self.state.emit("turn_end", turn_id=turn_id, start_ms=now, end_ms=now, dtmf=self._dtmf)
        await self.push_frame(CallerUtteranceFrame(audio=b"", sample_rate=self._rate, turn_id=turn_id, start_ms=now, end_ms=now, dtmf=self._take_dtmf()))

    async def settle(self, turn_id: int, reason: str) -> None:
        await self.push_frame(TurnSettledFrame(turn_id=turn_id, reason=reason))
