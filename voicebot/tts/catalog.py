"""Voices per language from ``voices/catalog.yaml`` over the language packs' own (``voice:`` in a
pack.yaml, else espeak-ng's voice of its code), built once per process and shared.

Each language lists its neural voices best first (model folders under the models directory:
Piper, Kokoro, Coqui) and the espeak-ng voice that is always there. With ``prefer: best``
(the default) a call gets the first listed voice whose model is installed, real and loads;
``espeak`` forces espeak-ng; ``coqui`` also admits Coqui models, dev ones included (cost
measurements). A voice that fails to load is logged with the fix and espeak-ng speaks instead:
the caller always hears something.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from voicebot.logs import get_logger
from voicebot.models.registry import fix_command, read_model
from voicebot.tts.cache import SpeechCache
from voicebot.tts.espeak import EspeakVoice
from voicebot.tts.readers import READERS
from voicebot.tts.voice import Speech, Voice

log = get_logger(__name__)

PREFERENCES = ("best", "espeak", "coqui")


@dataclass(frozen=True)
class VoiceEntry:
    language: str
    espeak: str
    rate: int = 160
    reader: str | None = None  # "kana" | "pinyin": what the espeak-ng voice is given (voicebot.tts.readers)
    voices: tuple[str, ...] = field(default_factory=tuple)  # "model" or "model:voice", best first
    coqui: str | None = None  # model folder name under the models directory (prefer: coqui)


def pack_voices() -> dict[str, dict]:
    """Every language pack's own voice (``voice:`` in its pack.yaml, else espeak-ng's voice of its
    code): a language added as one folder speaks without an entry here. The catalog overrides it."""
    from voicebot.dialogue.languages import packs

    return {code: {"espeak": code, "rate": 130, **pack.voice} for code, pack in packs().items()}


class VoiceCatalog:
    def __init__(self, path: Path, models_dir: Path, prefer: str = "best", cache_dir: Path | None = None) -> None:
        if prefer not in PREFERENCES:
            raise ValueError(f"tts.prefer is {prefer!r}: use one of {', '.join(PREFERENCES)}")
        data = yaml.safe_load(Path(path).read_text()) or {}
        self.default_language: str = data.get("default_language", "en")
        self.entries = {}
        for lang, spec in {**pack_voices(), **(data.get("languages") or {})}.items():
            spec = dict(spec)
            spec["voices"] = tuple(spec.get("voices") or ())
            if spec.get("reader") and spec["reader"] not in READERS:
                raise ValueError(f"{path}: {lang}: unknown reader {spec['reader']!r}; known: {sorted(READERS)}")
            self.entries[lang] = VoiceEntry(language=lang, **spec)
        if self.default_language not in self.entries:
            raise ValueError(f"{path}: default_language {self.default_language!r} has no voice entry")
        self.models_dir = models_dir
        self.prefer = prefer
        self._voices: dict[str, Voice] = {}
        self._lock = threading.Lock()
        # cache_dir: the pre-rendered fixed phrases (voicebot.tts.warm); None = memory only
        self.cache = SpeechCache(directory=cache_dir)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def voice_for(self, language: str | None) -> Voice:
        lang = language if language in self.entries else self.default_language
        with self._lock:
            if lang not in self._voices:
                self._voices[lang] = self._build(self.entries[lang])
            return self._voices[lang]

    def speak(self, language: str | None, text: str) -> tuple[Speech, str]:
        """``text`` in ``language``'s voice, and that voice's name (blocking: call it from a worker thread).

        Sentences said before come from the cache. A voice that fails on a sentence is logged and
        espeak-ng says that sentence instead: the caller never waits in silence for a broken voice.
        """
        voice = self.voice_for(language)
        cached = self.cache.get(voice.name, text)
        if cached is not None:
            return cached, voice.name
        try:
            speech = voice.synthesize(text)
        except Exception as exc:
            if isinstance(voice, EspeakVoice):
                raise
            log.error("voice failed on a sentence; espeak-ng says it", extra={"voice": voice.name, "language": language, "error": str(exc)})
            fallback = self.espeak_for(language)
            return fallback.synthesize(text), fallback.name
        self.cache.put(voice.name, text, speech)
        return speech, voice.name

    def espeak_for(self, language: str | None) -> EspeakVoice:
        """The always-available voice of ``language`` (the fallback when a neural voice fails)."""
        entry = self.entries.get(language or "") or self.entries[self.default_language]
        return EspeakVoice(entry.espeak, entry.rate, reader=READERS.get(entry.reader or ""))

    def _build(self, entry: VoiceEntry) -> Voice:
        candidates = [] if self.prefer == "espeak" else list(entry.voices)
        if self.prefer == "coqui" and entry.coqui:
            candidates.insert(0, entry.coqui)
        for candidate in candidates:
            voice = self._load(candidate, entry.language)
            if voice is not None:
                return voice
        return self.espeak_for(entry.language)

    def _load(self, candidate: str, language: str) -> Voice | None:
        model, _, speaker = candidate.partition(":")
        info = read_model(self.models_dir / model)
        if info is None:
            log.info("voice model not installed; trying the next voice", extra={"language": language, "model": model, "fix": fix_command(model)})
            return None
        if info.dev and self.prefer != "coqui":
            return None  # a random-weight voice speaks noise: only for cost measurements
        try:
            if info.engine == "piper":
                from voicebot.tts.piper import PiperVoice

                return PiperVoice(info.path)
            if info.engine == "kokoro":
                from voicebot.tts.kokoro import KokoroVoice

                return KokoroVoice(info.path, language=language, voice=speaker or "jf_alpha", espeak_voice=self.entries[language].espeak)
            if info.engine == "coqui":
                from voicebot.tts.coqui import CoquiVoice

                return CoquiVoice(info.path, dev=info.dev)
            log.error("unknown voice engine in the voice catalog", extra={"language": language, "model": model, "engine": info.engine})
        except (RuntimeError, ValueError) as exc:
            log.error("voice failed to load; trying the next voice", extra={"language": language, "model": model, "error": str(exc), "fix": fix_command(model)})
        return None
