"""Spec + transport -> the per-call pipecat pipeline."""

from __future__ import annotations

from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.audio.vad_processor import VADProcessor

from voicebot.asr.processor import ASRProcessor, Transcriber
from voicebot.audio.vad_webrtc import WebRTCVADAnalyzer, WebRTCVADOptions
from voicebot.channels.base import CallTransport
from voicebot.dialogue.api import DialogueSession
from voicebot.dialogue.processor import DialogueProcessor
from voicebot.pipeline.spec import PipelineSpec
from voicebot.pipeline.state import CallState
from voicebot.runtime import Runtime
from voicebot.tts.processor import TTSProcessor
from voicebot.turns.processor import TurnTaker


def make_vad(spec: PipelineSpec):
    params = VADParams(start_secs=spec.vad.start_ms / 1000, stop_secs=spec.turns.end_of_turn.vad_stop_ms / 1000, min_volume=0.0,
                       confidence=0.5 if spec.vad.engine == "webrtcvad" else spec.vad.confidence)
    if spec.vad.engine == "webrtcvad":
        return WebRTCVADAnalyzer(params=params, options=WebRTCVADOptions(spec.vad.aggressiveness, spec.vad.frame_ms))
    if spec.vad.engine == "silero":
        from pipecat.audio.vad.silero import SileroVADAnalyzer

        return SileroVADAnalyzer(params=params)
    raise ValueError(f"unknown VAD engine {spec.vad.engine!r}; use webrtcvad or silero")


def partial_transcriber(asr: Transcriber, spec: PipelineSpec) -> Transcriber:
    """What transcribes barge-in confirmation partials: the call's ASR with the spec's shorter
    encoder window when it has one (a Whisper model), else the call's ASR itself. A window fitted
    to each utterance (``window_s: 0``) is at least ``fit_min_s``: partials still take the shorter one."""
    shorter = spec.asr.partial_window_s < (spec.asr.fit_min_s if spec.asr.window_s == 0 else spec.asr.window_s)
    if shorter and hasattr(asr, "windowed"):
        return asr.windowed(spec.asr.partial_window_s)
    return asr


def build_pipeline(runtime: Runtime, spec: PipelineSpec, state: CallState, transport: CallTransport, session: DialogueSession,
                   transcriber: Transcriber | None = None) -> Pipeline:
    catalog = runtime.voices(spec)
    asr = transcriber or runtime.asr(spec)
    if getattr(asr, "dev", False):
        state.dev_models.append(asr.path.name if hasattr(asr, "path") else "asr")
    vad = make_vad(spec)
    turns = spec.turns
    speculative = turns.barge_in.confirm_by_words or "text" in turns.end_of_turn.semantic
    smart_turn = None
    if "smart_turn" in turns.end_of_turn.semantic:
        from voicebot.turns.smart_turn import SmartTurn

        smart_turn = getattr(runtime, "smart_turn", None) or SmartTurn()
    stages = [transport.input()]
    echo = getattr(turns, "echo", None)
    if echo is not None and echo.enabled:
        from voicebot.audio.echo import EchoControl

        control = EchoControl(echo)
        transport.output().audio_taps.append(control.on_bot_audio)
        stages.append(control)
    return Pipeline([
        *stages,
        VADProcessor(vad_analyzer=vad, audio_idle_timeout=0),
        TurnTaker(state, turns, vad=vad, transcriber=asr if speculative else None, executor=runtime.asr_executor, smart_turn=smart_turn,
                  partial_transcriber=partial_transcriber(asr, spec) if speculative else None),
        ASRProcessor(state, asr, runtime.asr_executor, supported_languages=catalog.languages, default_language=catalog.default_language),
        DialogueProcessor(state, session, greet=spec.dialogue.greet),
        TTSProcessor(state, catalog, runtime.tts_executor),
        transport.output(),
    ])
