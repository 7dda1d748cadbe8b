"""The declarative pipeline definition (``pipelines/*.yaml``), validated into dataclasses.

A channel supplies only its transport; what runs between input and output — VAD, turn
taking and barge-in, ASR, dialogue, TTS — is described here, so a QA team can compare
configurations by pointing ``--pipeline`` at another file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicebot.turns.policy import BargeInPolicy, EchoPolicy, EndOfTurnPolicy, TurnPolicy


@dataclass(frozen=True)
class VADSpec:
    engine: str = "webrtcvad"  # webrtcvad | silero (pipecat's bundled model)
    aggressiveness: int = 2  # webrtcvad 0..3
    frame_ms: int = 10  # webrtcvad frame: 10, 20 or 30
    confidence: float = 0.5  # silero threshold
    start_ms: int = 90  # voiced audio needed before "caller started speaking"


@dataclass(frozen=True)
class ASRSpec:
    model: str = ""  # models-folder name; empty = settings.models.asr
    beam_size: int = 1
    max_new_tokens: int = 64
    allow_dev: bool = True  # fall back to a random-weight dev model when the real one is missing
    # Encoder windows (voicebot.asr.whisper.WhisperOptions.window_s): 30 = Whisper's own. The
    # caller's turns use ``window_s``; barge-in confirmation partials (is it a word, or only
    # "uh-huh"?) use ``partial_window_s``, where ~150 ms instead of ~700 ms on 2 cores decides
    # whether a real interruption is confirmed within 600 ms of its onset.
    window_s: float = 30.0  # 0 = fitted to each utterance (its length + fit_pad_s, at least fit_min_s)
    partial_window_s: float = 30.0
    fit_pad_s: float = 1.0
    fit_min_s: float = 0.0


@dataclass(frozen=True)
class DialogueSpec:
    engine: str = "builtin"  # builtin (voicebot.dialogue.engine) | minimal
    greet: bool = True
    greetings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TTSSpec:
    prefer: str = "best"  # best (the first installed neural voice, else espeak-ng) | espeak | coqui (dev Coqui models too)


@dataclass(frozen=True)
class PipelineSpec:
    name: str = "phone"
    vad: VADSpec = VADSpec()
    turns: TurnPolicy = TurnPolicy()
    asr: ASRSpec = ASRSpec()
    dialogue: DialogueSpec = DialogueSpec()
    tts: TTSSpec = TTSSpec()
    source: str = ""


def _build(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        default = fields[name].default
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def load_spec(path: str | Path) -> PipelineSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read pipeline definition {path}: {exc}") from exc
    turns = data.pop("turns", None) or {}
    spec = _build(PipelineSpec, {k: v for k, v in data.items()}, path.name)
    policy = TurnPolicy(
        barge_in=_build(BargeInPolicy, turns.get("barge_in"), f"{path.name}.turns.barge_in"),
        end_of_turn=_build(EndOfTurnPolicy, turns.get("end_of_turn"), f"{path.name}.turns.end_of_turn"),
        echo=_build(EchoPolicy, turns.get("echo"), f"{path.name}.turns.echo"),
    )
    known = {"barge_in", "end_of_turn", "echo"}
    if set(turns) - known:
        raise ValueError(f"{path.name}.turns: unknown key(s) {sorted(set(turns) - known)}; known: {sorted(known)}")
    return dataclasses.replace(spec, turns=policy, source=str(path))
