"""``--baseline stock``: pipecat's own configuration on the same line, for ours/stock ratios.

The stock pipeline, built from pipecat 1.14 classes, replaces our VAD, turn taking and ASR:

    CallInput -> VADProcessor(SileroVADAnalyzer(), pipecat's default VADParams)
              -> WhisperSTTService (SegmentedSTTService: transcribes each VAD segment)
              -> UserTurnProcessor(UserTurnStrategies())   # defaults: VAD + transcription start,
                                                            # LocalSmartTurnAnalyzerV3 stop
              -> StockTurnAdapter -> our DialogueProcessor -> our TTSProcessor -> CallOutput

What is not stock, and why:
- Decoding limits: ``WhisperSTTService`` calls ``transcribe`` with beam 5, temperature
  fallback and no token cap. On a random-weight dev model that decodes ~224 garbage
  tokens per segment (28 s v2v), measuring garbage decoding, not the pipeline. Both sides
  therefore get OUR limits (beam, max_new_tokens, temperature 0, no timestamps); see
  ``_LimitedWhisper``. The language is auto-detected (``language=None``), as ours does.
- No LLM context: pipecat's ``LLMUserAggregator`` turns transcripts into an LLM context
  on the user's turn end. Our dialogue is not an LLM, so ``StockTurnAdapter`` does the
  aggregator's part (collect the turn's transcripts, hand them over on
  ``UserStoppedSpeakingFrame``, or when a late transcript arrives) and emits the call
  events the benchmark measures from.
- Interruptions are pipecat's: ``UserTurnProcessor`` broadcasts an ``InterruptionFrame``
  when a user turn starts; our output drops the queued audio on it (one stage, no pause).
- The stock strategies time out on wall-clock sleeps, so the baseline runs at real-time
  pace only (``--fast`` refuses it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from voicebot.call import CallResult, CallSession
from voicebot.channels.base import PIPELINE_RATE
from voicebot.dialogue.processor import DialogueProcessor
from voicebot.logs import get_logger
from voicebot.pipeline.frames import CallerTextFrame, TurnSettledFrame
from voicebot.pipeline.state import CallState
from voicebot.tts.processor import TTSProcessor

log = get_logger(__name__)

NOTES = [
    "VAD: pipecat SileroVADAnalyzer with pipecat's default VADParams (stock).",
    "Turns: pipecat UserTurnProcessor with default UserTurnStrategies (VAD + transcription start; LocalSmartTurnAnalyzerV3 stop) (stock).",
    "ASR: pipecat WhisperSTTService on the same model, decoding limited to ours (beam, max_new_tokens, temperature 0) - "
    "stock decoding on a dev model measures ~224 garbage tokens per turn, not the pipeline.",
    "No LLM context: a small adapter does LLMUserAggregator's part (transcripts -> the dialogue on the user's turn end).",
    "Same dialogue, same TTS, same output and line as ours.",
    "Stage attribution: stock's turn end (UserStoppedSpeakingFrame) comes after the smart-turn stop strategy has waited for the "
    "transcript, so its 'vad_end_of_turn' stage includes ASR; compare v2v, not that stage alone.",
]


class _LimitedWhisper:
    """faster-whisper's model with our decoding limits forced onto every ``transcribe`` call."""

    def __init__(self, model: Any, limits: dict[str, Any]) -> None:
        self._model = model
        self._limits = limits

    def transcribe(self, audio, **kwargs):
        return self._model.transcribe(audio, **{**kwargs, **self._limits})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def make_stock_stt(model_path: str, compute_type: str, beam_size: int, max_new_tokens: int):
    """pipecat's WhisperSTTService on a local model folder, with our decoding limits."""
    from pipecat.services.whisper.stt import WhisperSTTService

    svc = WhisperSTTService(device="cpu", compute_type=compute_type, settings=WhisperSTTService.Settings(model=model_path, language=None))
    svc._model = _LimitedWhisper(svc._model, {"beam_size": beam_size, "max_new_tokens": max_new_tokens, "temperature": 0.0,
                                               "condition_on_previous_text": False, "without_timestamps": True})
    return svc


def make_oracle_stt(oracle):
    """A pipecat SegmentedSTTService answering from the scenario text (``--asr oracle``)."""
    from pipecat.services.stt_service import SegmentedSTTService
    from pipecat.utils.time import time_now_iso8601

    class OracleSTTService(SegmentedSTTService):
        @property
        def wants_wav_segments(self) -> bool:
            return False

        def can_generate_metrics(self) -> bool:
            return False

        async def run_stt(self, audio: bytes):
            res = oracle.transcribe(np.frombuffer(audio, dtype="<i2"), None)
            if res.text:
                yield TranscriptionFrame(text=res.text, user_id="", timestamp=time_now_iso8601(), language=res.language)

    from pipecat.services.settings import STTSettings

    return OracleSTTService(settings=STTSettings(model="scenario-oracle", language=None))


class StockTurnAdapter(FrameProcessor):
    """Stands where pipecat's LLMUserAggregator would: hands each user turn's transcript to
    our dialogue, and emits the call events (vad_start/stop, turn_end, transcript)."""

    def __init__(self, state: CallState, late_transcript_s: float = 3.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.late_transcript_s = late_transcript_s
        self._texts: list[str] = []
        self._language: str | None = None
        self._onset_ms = 0.0
        self._end_ms = 0.0
        self._stop_wall = 0.0
        self._turn_seq = 0
        self._waiting: int | None = None  # turn ended before its transcript arrived
        self._wait_task: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        st = self.state
        if isinstance(frame, InputAudioRawFrame):
            if frame.pts is not None:
                st.advance_audio(frame.pts / 1e6 + len(frame.audio) / 2 / frame.sample_rate * 1000)
            return  # nothing downstream needs caller audio
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._onset_ms = max(0.0, st.audio_ms - float(getattr(frame, "start_secs", 0.0) or 0.0) * 1000)
            st.emit("vad_start", onset_ms=round(self._onset_ms, 1))
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._end_ms = max(self._onset_ms, st.audio_ms - float(getattr(frame, "stop_secs", 0.0) or 0.0) * 1000)
            self._stop_wall = time.perf_counter()
            st.emit("vad_stop", end_ms=round(self._end_ms, 1))
        elif isinstance(frame, UserStartedSpeakingFrame):
            if self._waiting is None:
                self._texts = []
        elif isinstance(frame, InterruptionFrame):
            if st.bot_speaking:
                st.emit("interruption", reason="stock_user_turn_started", onset_ms=round(self._onset_ms, 1))
        elif isinstance(frame, TranscriptionFrame):
            asr_ms = (time.perf_counter() - self._stop_wall) * 1000 if self._stop_wall else None
            self._texts.append(frame.text)
            self._language = str(frame.language) if frame.language else None
            st.emit("transcript", turn_id=self._waiting if self._waiting is not None else self._turn_seq + 1, text=frame.text,
                    language=self._language, asr_ms=None if asr_ms is None else round(asr_ms, 1), dev_model=False, stock=True)
            if self._waiting is not None:
                await self._hand_over(self._waiting)
            return
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._turn_seq += 1
            turn_id = self._turn_seq
            st.activity.begin(turn_id)
            st.emit("turn_end", turn_id=turn_id, start_ms=round(self._onset_ms, 1), end_ms=round(self._end_ms, 1))
            if self._texts:
                await self._hand_over(turn_id)
            else:
                self._waiting = turn_id
                self._wait_task = self.create_task(self._give_up(turn_id), name="late_transcript")
        elif isinstance(frame, (EndFrame, CancelFrame)) and self._wait_task is not None:
            await self.cancel_task(self._wait_task)
            self._wait_task = None
        await self.push_frame(frame, direction)

    async def _hand_over(self, turn_id: int) -> None:
        text = " ".join(t.strip() for t in self._texts if t.strip())
        self._texts, self._waiting = [], None
        if self._wait_task is not None:
            await self.cancel_task(self._wait_task)
            self._wait_task = None
        lang = self._language or self.state.language or self.state.ctx.language or "en"
        if lang and len(lang) > 2:
            lang = lang.split("-")[0].lower()
        self.state.language = lang
        if not text:
            self.state.activity.end(turn_id)
            await self.push_frame(TurnSettledFrame(turn_id=turn_id, reason="empty"))
            return
        await self.push_frame(CallerTextFrame(text=text, language=lang, turn_id=turn_id, end_ms=self._end_ms))

    async def _give_up(self, turn_id: int) -> None:
        await asyncio.sleep(self.late_transcript_s)
        if self._waiting == turn_id:
            self._wait_task = None
            await self._hand_over(turn_id)


class StockCallSession(CallSession):
    """A call whose pipeline is pipecat's stock configuration (see the module docstring).

    ``CallSession.run`` builds our pipeline with no hook to swap it, so this repeats its
    few lines with :meth:`build` in its place (a ``build=`` hook in the core would remove this).
    """

    async def build(self, state: CallState, session) -> Pipeline:
        from pipecat.audio.vad.silero import SileroVADAnalyzer
        from pipecat.processors.audio.vad_processor import VADProcessor
        from pipecat.turns.user_turn_processor import UserTurnProcessor
        from pipecat.turns.user_turn_strategies import UserTurnStrategies

        assert self.transport is not None
        if self._transcriber is not None:
            stt = make_oracle_stt(self._transcriber)
        else:
            info = self.runtime.asr_model_info(self.spec)
            if info.dev:
                state.dev_models.append(info.name)
            m = self.runtime.settings.models
            # the stock service loads its model per pipeline (per call): keep that, off the loop
            stt = await asyncio.to_thread(make_stock_stt, str(info.path), m.compute_type, self.spec.asr.beam_size, self.spec.asr.max_new_tokens)
        catalog = self.runtime.voices(self.spec)
        strategies = await asyncio.to_thread(UserTurnStrategies)  # loads the smart-turn ONNX model
        return Pipeline([
            self.transport.input(),
            VADProcessor(vad_analyzer=SileroVADAnalyzer()),
            stt,
            UserTurnProcessor(user_turn_strategies=strategies),
            StockTurnAdapter(state),
            DialogueProcessor(state, session, greet=self.spec.dialogue.greet),
            TTSProcessor(state, catalog, self.runtime.tts_executor),
            self.transport.output(),
        ])

    async def run(self) -> CallResult:
        state = self.prepare()
        assert self.transport is not None
        await asyncio.to_thread(self.runtime.warm_up, self.spec, False)
        session = self.runtime.dialogue(self.spec).new_session(self.ctx)
        pipeline = await self.build(state, session)
        self._worker = PipelineWorker(
            pipeline, params=PipelineParams(audio_in_sample_rate=PIPELINE_RATE, audio_out_sample_rate=self.transport.output().sample_rate),
            idle_timeout_secs=None, cancel_on_idle_timeout=False, enable_rtvi=False, enable_turn_tracking=False,
        )

        @self._worker.event_handler("on_pipeline_started")
        async def _started(_worker, _frame) -> None:
            self.started.set()

        state.emit("call_start", t_ms=0.0, call_id=self.ctx.call_id, channel=self.ctx.channel, caller=self.ctx.caller_number,
                   pipeline="pipecat-stock", dev_models=sorted(state.dev_models), wall_time=time.time())
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(self._worker)
        try:
            await runner.run()
        except Exception as exc:
            log.exception("stock pipeline failed", extra={"call_id": self.ctx.call_id})
            state.emit("error", where="pipeline", message=str(exc))
            state.end_reason = state.end_reason or "error"
            state.outcome = "error"
        finally:
            state.ended = True
            outcome = state.outcome or "ended"
            state.emit("call_end", reason=state.end_reason or "ended", outcome=outcome)
        return CallResult(self.ctx.call_id, list(state.events.events), outcome, state.end_reason, sorted(set(state.dev_models)))
