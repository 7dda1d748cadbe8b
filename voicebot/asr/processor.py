"""The ASR stage: a finished caller utterance in, the caller's words (and language) out."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import numpy as np
from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.asr.whisper import AsrResult, WhisperASR
from voicebot.audio.pcm import resample
from voicebot.logs import get_logger
from voicebot.pipeline.frames import CallerTextFrame, CallerUtteranceFrame, TurnSettledFrame
from voicebot.pipeline.state import CallState

log = get_logger(__name__)


class Transcriber:
    """What the ASR stage calls; :class:`WhisperASR` or an oracle (benchmarks: scenario text)."""

    dev = False

    def transcribe(self, pcm16k: np.ndarray, language: str | None, prompt: str | None = None) -> AsrResult:  # pragma: no cover - protocol
        raise NotImplementedError


class ASRProcessor(FrameProcessor):
    def __init__(self, state: CallState, asr: WhisperASR | Transcriber, executor: Executor | None, supported_languages: tuple[str, ...], default_language: str = "en", **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.asr = asr
        self.executor = executor
        self.supported = supported_languages
        self.default_language = default_language

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallerUtteranceFrame):
            await self._transcribe(frame)
        else:
            await self.push_frame(frame, direction)

    def _settle_language(self, result: AsrResult) -> str:
        """The call's language: kept unless the ASR confidently heard another supported one."""
        current = self.state.language or self.state.ctx.language
        detected = result.language if result.language in self.supported else None
        if self.asr.dev:  # a random-weight model's language guess means nothing
            detected = None
        lang = detected or current or self.default_language
        if lang != self.state.language:
            self.state.emit("language", language=lang, previous=self.state.language, detected_prob=round(result.language_prob, 3))
            self.state.language = lang
        return lang

    async def _transcribe(self, frame: CallerUtteranceFrame) -> None:
        st = self.state
        if not frame.audio:
            lang = st.language or st.ctx.language or self.default_language
            await self.push_frame(CallerTextFrame(text="", language=lang, turn_id=frame.turn_id, end_ms=frame.end_ms, dtmf=frame.dtmf,
                                                  continues=frame.continues))
            return
        speculative = getattr(frame, "asr_result", None)  # the turn taker already transcribed it during the closing silence
        pending = getattr(frame, "asr_future", None)  # ... or is transcribing it right now
        if speculative is None and pending is not None:
            try:
                speculative = await pending
            except Exception:  # the speculative job failed: decode here
                speculative = None
        if isinstance(speculative, AsrResult):
            await self._publish(frame, speculative)
            return
        pcm = np.frombuffer(frame.audio, dtype="<i2")
        if frame.sample_rate != 16000:
            pcm = resample(pcm, frame.sample_rate, 16000)
        locked = st.language if (st.language and not self.asr.dev) else None
        loop = asyncio.get_running_loop()
        try:
            result: AsrResult = await loop.run_in_executor(self.executor, self.asr.transcribe, pcm, locked, st.asr_prompt(locked))
        except Exception as exc:  # a failing model must not kill the call: tell the dialogue nothing was heard
            log.exception("asr failed", extra={"call_id": st.ctx.call_id})
            st.emit("error", where="asr", message=str(exc), turn_id=frame.turn_id)
            result = AsrResult("", locked or "", 0.0, len(pcm) / 16000, 0.0, dropped="error")
        await self._publish(frame, result)

    async def _publish(self, frame: CallerUtteranceFrame, result: AsrResult) -> None:
        st = self.state
        lang = self._settle_language(result)
        st.emit("transcript", turn_id=frame.turn_id, text=result.text, language=lang, detected=result.language,
                language_prob=round(result.language_prob, 3), asr_ms=round(result.compute_s * 1000, 1),
                audio_ms=round(result.audio_s * 1000), dropped=result.dropped, dev_model=self.asr.dev, dtmf=frame.dtmf)
        if not result.text and not frame.dtmf and frame.continues is None:
            st.activity.end(frame.turn_id)
            await self.push_frame(TurnSettledFrame(turn_id=frame.turn_id, reason=result.dropped or "empty"))
            return
        await self.push_frame(CallerTextFrame(text=result.text, language=lang, turn_id=frame.turn_id, end_ms=frame.end_ms,
                                              dtmf=frame.dtmf, asr_confidence=result.confidence, dev_asr=self.asr.dev, continues=frame.continues))
