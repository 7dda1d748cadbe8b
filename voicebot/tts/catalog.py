"""Voices per language from ``voices/catalog.yaml``, built once per process and shared."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from voicebot.logs import get_logger
from voicebot.models.registry import read_model
from voicebot.tts.espeak import EspeakVoice
from voicebot.tts.voice import Voice

log = get_logger(__name__)


@dataclass(frozen=True)
class VoiceEntry:
    language: str
    espeak: str
    rate: int = 160
    coqui: str | None = None  # model folder name under the models directory


class VoiceCatalog:
    def __init__(self, path: Path, models_dir: Path, prefer: str = "espeak") -> None:
        data = yaml.safe_load(Path(path).read_text()) or {}
        self.default_language: str = data.get("default_language", "en")
        self.entries = {lang: VoiceEntry(language=lang, **spec) for lang, spec in (data.get("languages") or {}).items()}
        if self.default_language not in self.entries:
            raise ValueError(f"{path}: default_language {self.default_language!r} has no voice entry")
        self.models_dir = models_dir
        self.prefer = prefer  # "espeak" | "coqui"
        self._voices: dict[str, Voice] = {}
        self._lock = threading.Lock()

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def voice_for(self, language: str | None) -> Voice:
        lang = language if language in self.entries else self.default_language
        with self._lock:
            if lang not in self._voices:
                self._voices[lang] = self._build(self.entries[lang])
            return self._voices[lang]

    def _build(self, entry: VoiceEntry) -> Voice:
        if self.prefer == "coqui" and entry.coqui:
            info = read_model(self.models_dir / entry.coqui)
            if info is None:
                log.warning("coqui voice missing; using espeak-ng", extra={"language": entry.language, "model": entry.coqui})
            else:
                from voicebot.tts.coqui import CoquiVoice

                try:
                    return CoquiVoice(info.path, dev=info.dev)
                except RuntimeError as exc:
                    log.error("coqui voice failed to load; using espeak-ng", extra={"language": entry.language, "error": str(exc)})
        return EspeakVoice(entry.espeak, entry.rate)
