"""Turn taking and barge-in in the pipeline: pipecat frames <-> :class:`voicebot.turns.engine.TurnEngine`.

Why not pipecat's ``UserTurnProcessor`` and its strategies: they time out on wall-clock
timers (asyncio sleeps), so a replay on a virtual clock could not reproduce a timeline, and
their interruption is one-stage. This processor keeps pipecat's VAD frames and pipecat's
interruption machinery (``broadcast_interruption`` -> ``InterruptionFrame``: queued TTS
and output audio are dropped everywhere) and adds the two-stage policy of
:mod:`voicebot.turns.policy`. All durations are measured on the caller's audio, so the
same recording gives the same turns on any machine, at real-time pace or in ``--fast``.

Speculative work (partial transcripts while the bot is paused, the end-of-turn check in
the closing silence) runs in the ASR executor, never on the event loop; a result whose
request the engine has since discarded is ignored.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
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
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.logs import get_logger
from voicebot.pipeline.frames import CallerUtteranceFrame, TurnSettledFrame
from voicebot.pipeline.state import CallState
from voicebot.turns.engine import Action, TurnEngine
from voicebot.turns.policy import TurnPolicy

log = get_logger(__name__)


def level_dbfs(pcm: bytes) -> float:
    """16-bit PCM's level in dBFS (-120 for digital silence: audio echo control muted)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    p = float(np.mean(x**2)) if len(x) else 0.0
    return 10 * float(np.log10(p / 32768.0**2)) if p > 0 else -120.0


@dataclass
class SpeculativeUtteranceFrame(CallerUtteranceFrame):
    """A caller utterance whose transcript the closing-silence check already produced
    (``transcript``; None when it did not finish). The ASR stage may use it instead of decoding again."""

    transcript: str | None = None
    asr_result: object | None = None  # the full AsrResult (language, timing) behind ``transcript``
    # A transcription of this utterance's speech still running (started by the end-of-turn check
    # in the closing silence): the ASR stage awaits it instead of decoding the same audio again.
    asr_future: object | None = None


class TurnTaker(FrameProcessor):
    def __init__(self, state: CallState, policy: TurnPolicy | None = None, vad: VADAnalyzer | None = None, *,
                 transcriber=None, executor: Executor | None = None, smart_turn=None, partial_transcriber=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        # The call's VAD analyzer: its per-frame state says whether the newest audio was voiced
        # (the VAD's start/stop frames alone cannot: "stopped" comes a silence timeout late).
        self.vad = vad
        self.policy = policy or TurnPolicy()
        self.engine = TurnEngine(self.policy)
        self.transcriber = transcriber
        # barge-in confirmation partials (a word or a backchannel?) may use a faster view of the model
        self.partial_transcriber = partial_transcriber or transcriber
        self._spec_results: dict[str, object] = {}
        self._spec_busy: set[str] = set()
        self._spec_deferred: dict[str, tuple] = {}  # the newest request of a kind that was busy (action, transcriber)
        self._check_asr: asyncio.Future | None = None
        self.executor = executor
        self.smart_turn = smart_turn
        self._turn_seq = 0
        self._tasks: set[asyncio.Task] = set()

    # ---- frames ----------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.UPSTREAM:
            await self.push_frame(frame, direction)
            return
        eng = self.engine
        eng.bot_active = self.state.bot_speaking
        eng.reply_pending = self._turn_seq > 0 and self.state.activity.pending(self._turn_seq)
        eng.language = self.state.language or self.state.ctx.language
        if isinstance(frame, InputAudioRawFrame):
            eng.rate = frame.sample_rate
            if frame.pts is not None:
                self.state.advance_audio(frame.pts / 1e6 + len(frame.audio) / 2 / frame.sample_rate * 1000)
            # The utterance keeps the echo canceller's ungated residual when there is one (the VAD saw the gated audio).
            meta = getattr(frame, "metadata", None) or {}
            audio = meta.get("voicebot.echo.residual", frame.audio)
            # The early pause looks at the level the VAD saw (echo frames muted) and whether echo control
            # muted the newest 10 ms as the bot's own echo.
            await self._apply(eng.audio(self.state.audio_ms, audio, self._frame_voiced(), level_dbfs(frame.audio),
                                        bool(meta.get("voicebot.echo.masked", False))))
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._apply(eng.vad_start(float(getattr(frame, "start_secs", 0.0) or 0.0) * 1000))
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._apply(eng.vad_stop(float(getattr(frame, "stop_secs", 0.0) or 0.0) * 1000))
        elif isinstance(frame, InputDTMFFrame):
            await self._apply(eng.dtmf(getattr(frame.button, "value", str(frame.button))))
        elif isinstance(frame, InterruptionFrame):
            eng.output_flushed()
            await self.push_frame(frame, direction)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._apply(eng.end())
            for task in list(self._tasks):
                task.cancel()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    def _frame_voiced(self) -> bool:
        if self.vad is None:
            return True
        return getattr(self.vad, "_vad_state", VADState.SPEAKING) in (VADState.SPEAKING, VADState.STARTING)

    # ---- actions ---------------------------------------------------------------------------
    async def _apply(self, actions: list[Action]) -> None:
        st = self.state
        for a in actions:
            if a.kind == "emit":
                data = dict(a.data)
                kind = data.pop("kind")
                if kind in ("turn_continues", "early_check_dropped"):  # the caller went on: a running check transcribed too little
                    self._check_asr = None
                st.emit(kind, **data)
            elif a.kind == "pause":
                st.playback_gate = "paused"
                st.emit("bot_paused", onset_ms=a.data["onset_ms"])
            elif a.kind == "resume":
                st.playback_gate = "open"
                st.emit("bot_resumed", reason=a.data["reason"])
            elif a.kind == "interrupt":
                self._check_asr = None
                if a.data.get("continues") and self._turn_seq:
                    st.superseded.add(self._turn_seq)  # its reply is withdrawn; the dialogue answers it with what follows
                st.playback_gate = "cut"
                st.emit("interruption", **a.data)
                await self.broadcast_interruption()
            elif a.kind == "utterance":
                await self._push_utterance(a.data["utterance"], a.data["reason"])
            elif a.kind in ("partial", "check"):
                self._speculate(a)

    async def _push_utterance(self, utt, reason: str) -> None:
        self._turn_seq += 1
        turn_id = self._turn_seq
        self.state.activity.begin(turn_id)
        if utt.audio:
            self.state.emit("turn_end", turn_id=turn_id, start_ms=round(utt.start_ms, 1), end_ms=round(utt.end_ms, 1), reason=reason)
        else:
            self.state.emit("turn_end", turn_id=turn_id, start_ms=utt.start_ms, end_ms=utt.end_ms, dtmf=utt.dtmf)
        pending, self._check_asr = self._check_asr, None
        # a transcript job still waiting behind a stale one would decode this turn a second time
        self._spec_deferred.pop("transcript", None)
        done = pending.result() if pending is not None and pending.done() and not pending.cancelled() else None
        if utt.transcript is not None and utt.transcript in self._spec_results:  # the check's words, in the turns' window
            cls, kwargs = SpeculativeUtteranceFrame, {"transcript": utt.transcript, "asr_result": self._spec_results[utt.transcript]}
        elif done is not None and utt.audio:  # the turn's transcript, decoded alongside the check, is ready
            cls, kwargs = SpeculativeUtteranceFrame, {"transcript": done.text, "asr_result": done}
        elif pending is not None and not pending.done() and utt.audio:
            cls, kwargs = SpeculativeUtteranceFrame, {"asr_future": pending}
        else:
            cls, kwargs = CallerUtteranceFrame, {}
        self._spec_results.clear()
        continues = turn_id - 1 if utt.continues and turn_id - 1 in self.state.superseded else None
        await self.push_frame(cls(audio=utt.audio, sample_rate=self.engine.rate, turn_id=turn_id, start_ms=utt.start_ms,
                                  end_ms=utt.end_ms, dtmf=utt.dtmf, continues=continues, **kwargs))

    def _speculate(self, action: Action) -> None:
        """Run an engine request off the event loop: a barge-in ``partial`` or an end-of-turn ``check``.

        With a shorter partial window (``asr.partial_window_s``) the check's words come from it
        (~0.2 s instead of ~1 s on 2 cores): they only decide "finished or not", and must come
        before the caller's pause ends. The turn's own transcript is then decoded alongside in
        the turns' window (job kind ``transcript``), and the ASR stage reuses that one.
        """
        if action.kind == "check" and action.data.get("text") and self._short_check(action):
            self._run_job("transcript", action)
            self._run_job("check", action)
        elif action.kind == "check":
            self._run_job("check", action, asr=self.transcriber)  # its words are the turn's transcript too
        else:
            self._run_job(action.kind, action)

    def _short_check(self, action: Action) -> bool:
        """The check's words can come from the short window: there is one and the turn so far fits it
        (a longer turn would be decoded twice in the 30 s window, both slowed by the other)."""
        short = self.partial_transcriber
        if short is self.transcriber or self.transcriber is None:
            return False
        seconds = len(action.data["audio"]) / 2 / self.engine.rate
        fits = getattr(short, "fits_window", None)
        if fits is not None and not fits(seconds):
            return False
        # a turns' window fitted to the utterance is about as short already: one decode, not two
        window_of = getattr(self.transcriber, "window_for", None)
        short_window = getattr(short, "window_for", None)
        if window_of is not None and short_window is not None:
            return window_of(seconds) >= 2 * short_window(seconds)
        return True

    def _run_job(self, kind: str, action: Action, asr=None) -> None:  # type: ignore[no-untyped-def]
        seq = action.data["seq"]
        want_text = kind in ("partial", "transcript") or bool(action.data.get("text"))
        want_st = kind == "check" and action.data.get("smart_turn") and self.smart_turn is not None
        if (want_text and self.transcriber is None) and not want_st:
            return
        # At most one speculative job of each kind per call: on a slow CPU (or a dev model that
        # decodes to its cap) requests every 150 ms would queue up and delay the real final
        # transcript behind stale partials. A skipped request is simply not answered; the engine
        # asks again on its next step or falls back to its timeouts.
        if kind in self._spec_busy:
            # ... but the newest request is kept and runs as soon as the running job is done:
            # with a partial taking longer than the request cadence, waiting for the next
            # request after the skip would add up to one cadence step to every confirmation.
            self._spec_deferred[kind] = (action, asr)
            return
        self._spec_busy.add(kind)
        pcm = np.frombuffer(action.data["audio"], dtype="<i2")
        if self.engine.rate != 16000:
            from voicebot.audio.pcm import resample

            pcm = resample(pcm, self.engine.rate, 16000)
        lang = self.state.language or self.state.ctx.language
        prompt = self.state.asr_prompt(lang) if kind != "partial" else None  # a barge-in partial interrupts an answer: no bias
        activity_id = -((3 if kind == "transcript" else 1) * 10**6 + seq)  # a --fast replay waits for speculative work like any other
        self.state.activity.begin(activity_id)
        asr = asr or (self.transcriber if kind == "transcript" else self.partial_transcriber)

        loop = asyncio.get_running_loop()
        asr_future: asyncio.Future = loop.create_future()
        if want_text and self.transcriber is not None and asr is self.transcriber and kind != "partial":
            self._check_asr = asr_future  # the turn's transcript on its way: the ASR stage awaits it
        split = kind == "check" and want_st and want_text and self.transcriber is not None

        parts_left = [2 if split else 1]  # a check in two parts: whichever answers first says "more follows"

        async def check_part(text: str | None = None, prob: float | None = None) -> None:
            parts_left[0] -= 1
            self.engine.bot_active = self.state.bot_speaking
            await self._apply(self.engine.check_result(seq, text=text, smart_turn_prob=prob, more=parts_left[0] > 0))

        def predict() -> float:
            return self.smart_turn.predict(pcm)

        def decode():  # -> AsrResult
            res = asr.transcribe(pcm, lang, prompt)
            if asr is self.transcriber:  # a shorter window's words are not kept as the turn's transcript
                self._spec_results[res.text] = res  # kept so the ASR stage need not decode it again
            return res

        async def smart_turn_job() -> float | None:
            try:
                return await loop.run_in_executor(self.executor, predict)
            except Exception as exc:  # speculation is an optimisation: on failure the timeouts decide
                log.warning("speculative turn work failed", extra={"call_id": self.state.ctx.call_id, "error": str(exc), "job": "smart_turn"})
                return None

        async def words_job():  # -> AsrResult | None
            try:
                return await loop.run_in_executor(self.executor, decode)
            except Exception as exc:
                log.warning("speculative turn work failed", extra={"call_id": self.state.ctx.call_id, "error": str(exc), "job": kind})
                return None

        async def run():
            res = None
            try:
                if split:
                    # smart-turn (~0.1 s) and the transcript (~0.2-0.3 s) side by side on the two cores:
                    # the check answers after the slower of the two, not after both in a row.
                    async def st_then_tell() -> None:
                        await check_part(prob=await smart_turn_job())

                    async def words_then_tell() -> None:
                        nonlocal res
                        res = await words_job()
                        if not asr_future.done():  # the ASR stage may go on while smart-turn finishes
                            asr_future.set_result(res)
                        await check_part(text=res.text if res is not None else None)

                    await asyncio.gather(st_then_tell(), words_then_tell())
                elif want_st:
                    await check_part(prob=await smart_turn_job())
                else:
                    res = await words_job()
                    text = res.text if res is not None else None
                    if kind == "partial":
                        self.engine.bot_active = self.state.bot_speaking
                        await self._apply(self.engine.partial_result(seq, text or ""))
                    elif kind == "check":
                        await check_part(text=text)
            finally:
                if not asr_future.done():
                    asr_future.set_result(res)
                self._spec_busy.discard(kind)
                self.state.activity.end(activity_id)
                deferred = self._spec_deferred.pop(kind, None)
                if deferred is not None and not self.state.ended:
                    self._run_job(kind, *deferred)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, turn_id: int, reason: str) -> None:
        await self.push_frame(TurnSettledFrame(turn_id=turn_id, reason=reason))
