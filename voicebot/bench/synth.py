"""The caller's audio for each scenario turn: a recording (cut, trimmed, gain) or, when a turn
has only text, espeak-ng speaking it in the turn's language with a voice unlike the bot's.

Also finds where speech begins and ends inside each clip, from its energy alone: these are
the ground-truth instants the benchmark measures from (the VAD under test must not be its
own judge).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.pcm import load_audio, resample
from voicebot.bench.scenario import Scenario, Turn

FRAME_MS = 10
# espeak-ng voices for the caller: a different variant from the bot's (voices/catalog.yaml).
CALLER_VOICES = {"en": "en-gb+m3", "zh": "cmn+f2", "es": "es+m3", "pt": "pt+m3", "de": "de+m3", "fr": "fr-fr+m3", "it": "it+m3",
                 "ru": "ru+m3", "ja": "ja+m3", "ko": "ko+m3", "ar": "ar+m3", "th": "th+m3", "id": "id+m3", "vi": "vi+m3"}


@dataclass(frozen=True)
class Clip:
    pcm: np.ndarray  # int16 at the line rate
    rate: int
    onset_ms: float  # first voiced audio in the clip
    end_ms: float  # last voiced audio in the clip
    source: str  # the recording or "espeak-ng:<voice>"

    @property
    def duration_ms(self) -> float:
        return len(self.pcm) * 1000 / self.rate


def speech_bounds(pcm: np.ndarray, rate: int, rel_threshold: float = 0.1, floor: float = 150.0) -> tuple[float, float]:
    """(onset_ms, end_ms) of the loud part of a clip: 10 ms frames whose RMS exceeds
    ``rel_threshold`` of the clip's 95th-percentile frame RMS (and an absolute floor)."""
    n = rate * FRAME_MS // 1000
    frames = len(pcm) // n
    if frames == 0:
        return 0.0, 0.0
    x = pcm[: frames * n].astype(np.float64).reshape(frames, n)
    rms = np.sqrt(np.mean(x**2, axis=1))
    thr = max(floor, rel_threshold * float(np.percentile(rms, 95)))
    loud = np.nonzero(rms > thr)[0]
    if len(loud) == 0:
        return 0.0, 0.0
    return float(loud[0] * FRAME_MS), float((loud[-1] + 1) * FRAME_MS)


def trim(pcm: np.ndarray, rate: int, pad_ms: float = 100.0) -> np.ndarray:
    """Drop leading/trailing quiet, keeping ``pad_ms`` around the speech."""
    onset, end = speech_bounds(pcm, rate)
    if end <= onset:
        return pcm
    a = max(0, int((onset - pad_ms) * rate / 1000))
    b = min(len(pcm), int((end + pad_ms) * rate / 1000))
    return pcm[a:b]


class Synthesizer:
    """espeak-ng for text-only turns, cached by (language, text)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, int], np.ndarray] = {}

    def speak(self, text: str, language: str, rate: int) -> tuple[np.ndarray, str]:
        from voicebot.tts.espeak import EspeakVoice

        voice = CALLER_VOICES.get(language, language)
        key = (voice, text, rate)
        if key not in self._cache:
            speech = EspeakVoice(voice, rate=150).synthesize(text)
            self._cache[key] = resample(speech.pcm, speech.sample_rate, rate)
        return self._cache[key], f"espeak-ng:{voice}"


def turn_clip(turn: Turn, scenario: Scenario, synth: Synthesizer, rate: int) -> Clip:
    """The audio the caller plays for one turn, at the line rate."""
    if turn.audio is not None:
        pcm = load_audio(turn.audio, rate)
        if turn.start_s is not None or turn.end_s is not None:
            a = int((turn.start_s or 0.0) * rate)
            b = int(turn.end_s * rate) if turn.end_s is not None else len(pcm)
            pcm = pcm[a:b]
        pcm = trim(pcm, rate)
        source = str(turn.audio)
    else:
        assert turn.text is not None
        pcm, source = synth.speak(turn.text, turn.language or scenario.language, rate)
        pcm = trim(pcm, rate)
    if turn.gain_db:
        pcm = np.clip(pcm.astype(np.float64) * 10 ** (turn.gain_db / 20), -32768, 32767).astype(np.int16)
    onset, end = speech_bounds(pcm, rate)
    return Clip(pcm=pcm, rate=rate, onset_ms=onset, end_ms=end, source=source)


def load_noise(path: Path, rate: int) -> np.ndarray:
    noise = load_audio(path, rate)
    if len(noise) == 0:
        raise ValueError(f"noise file {path} is empty")
    return noise


def noise_gain(noise: np.ndarray, clips: list[Clip], snr_db: float) -> float:
    """Scale for the noise so that speech RMS / noise RMS = snr_db."""
    speech = np.concatenate([c.pcm[int(c.onset_ms * c.rate / 1000) : int(c.end_ms * c.rate / 1000)] for c in clips] or [np.zeros(1)])
    s = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) or 1.0
    n = float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))) or 1.0
    return s / n / 10 ** (snr_db / 20)
