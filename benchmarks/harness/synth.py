"""The caller's audio for each scenario turn: a recording (cut, trimmed, gain) or, when a turn
has only text, the best real voice installed for the turn's language (Piper for English,
Kokoro for ja, zh, es, fr, it, pt, de), else espeak-ng. The report names the voice of each turn.

Also finds where speech begins and ends inside each clip, from its energy alone: these are
the ground-truth instants the benchmark measures from (the VAD under test must not be its
own judge).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.pcm import load_audio, resample
from benchmarks.harness.scenario import Scenario, Turn

FRAME_MS = 10
# Neural voices for callers: (model folder, speaker, speed). The bot speaks English with the same
# Piper voice (the only English one offline) and es/fr/it/pt/de with the same Kokoro speaker;
# the caller's is a little slower (speed 0.9) so the two are not sample-identical.
NEURAL_CALLERS = {"en": ("piper-en_US-joe-medium", "", 0.9), "ja": ("kokoro-82m", "jm_kumo", 1.0), "zh": ("kokoro-82m", "jf_nezumi", 1.0),
                  **{lang: ("kokoro-82m", "jm_kumo", 0.9) for lang in ("es", "fr", "it", "pt", "de")}}
ESPEAK_FOR_PHONEMES = {"es": "es", "fr": "fr-fr", "it": "it", "pt": "pt-br", "de": "de"}
# espeak-ng voices for the caller where no neural voice is installed: a variant unlike the bot's.
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
    """The caller's voice for text-only turns, cached by (voice, text, rate)."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir
        self._cache: dict[tuple[str, str, int], np.ndarray] = {}
        self._voices: dict[str, object] = {}

    def voice(self, language: str):  # type: ignore[no-untyped-def]
        if language not in self._voices:
            self._voices[language] = self._neural(language) or self._espeak(language)
        return self._voices[language]

    def _neural(self, language: str):  # type: ignore[no-untyped-def]
        from voicebot.models.registry import read_model

        if self.models_dir is None or language not in NEURAL_CALLERS:
            return None
        model, speaker, speed = NEURAL_CALLERS[language]
        info = read_model(self.models_dir / model)
        if info is None or info.dev:
            return None
        if info.engine == "piper":
            from voicebot.tts.piper import PiperVoice

            return PiperVoice(info.path, speed=speed)
        from voicebot.tts.kokoro import KokoroVoice

        return KokoroVoice(info.path, language=language, voice=speaker, speed=speed, espeak_voice=ESPEAK_FOR_PHONEMES.get(language), threads=2)

    @staticmethod
    def _espeak(language: str):  # type: ignore[no-untyped-def]
        from voicebot.tts.espeak import EspeakVoice

        return EspeakVoice(CALLER_VOICES.get(language, language), rate=150)

    def speak(self, text: str, language: str, rate: int) -> tuple[np.ndarray, str]:
        voice = self.voice(language)
        key = (voice.name, text, rate)
        if key not in self._cache:
            speech = voice.synthesize(text)
            self._cache[key] = resample(speech.pcm, speech.sample_rate, rate)
        return self._cache[key], voice.name


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
