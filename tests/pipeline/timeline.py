"""Scripted caller timelines for virtual-clock tests: real speech placed at chosen times."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.conftest import shared_audio
from voicebot.asr.processor import Transcriber
from voicebot.asr.whisper import AsrResult
from voicebot.audio.pcm import load_audio

RATE = 16000


def speech(rel: str, seconds: float | None = None) -> np.ndarray:
    """A real recording from ../shared/audio, trimmed of leading/trailing quiet, optionally cut."""
    x = load_audio(shared_audio(rel), RATE)
    env = np.abs(x.astype(np.int32))
    loud = np.nonzero(env > 0.1 * env.max())[0]
    x = x[max(0, loud[0] - 800) : loud[-1] + 800]
    return x[: int(seconds * RATE)] if seconds else x


def timeline(total_s: float, *parts: tuple[float, np.ndarray]) -> np.ndarray:
    """Silence of ``total_s`` with each clip mixed in at its start time (seconds)."""
    out = np.zeros(int(total_s * RATE), dtype=np.int32)
    for at, clip in parts:
        i = int(at * RATE)
        out[i : i + len(clip)] += clip[: len(out) - i]
    return np.clip(out, -32768, 32767).astype(np.int16)


@dataclass
class OracleTranscriber(Transcriber):
    """Returns scripted text per caller turn: an oracle, never presented as recognition."""

    texts: list[str]
    language: str = "en"
    calls: list[float] = field(default_factory=list)
    dev = False

    def transcribe(self, pcm16k: np.ndarray, language: str | None, prompt: str | None = None) -> AsrResult:
        self.calls.append(len(pcm16k) / RATE)
        text = self.texts[len(self.calls) - 1] if len(self.calls) <= len(self.texts) else ""
        return AsrResult(text=text, language=self.language, language_prob=1.0, audio_s=len(pcm16k) / RATE, compute_s=0.0)
