"""Live translation between a caller and an agent who do not share a language — and its limits.

What is used, honestly:
- caller speech -> English: Whisper's own ``task="translate"`` (faster-whisper) on the caller's
  audio. It only translates *into English*, and only a real model can do it (whisper-base from
  ``voicebot models install``): a random-weight dev model gives noise, so :class:`TextTranslator`
  refuses with a notice instead of showing made-up text.
- text in any other direction (caller's transcript -> agent's language, agent's typed reply ->
  caller's language): no machine-translation model is shipped. The bot's own lines come from
  templates written in every language, so a phrasebook (:class:`Phrasebook`) maps those exactly;
  anything else is passed through unchanged with a notice telling the agent it was *not*
  translated (and that they should type in the caller's language, or use canned replies).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Translation:
    text: str | None  # None = no translation could be made
    notice: str | None = None  # shown to the agent: why not, or how it was made
    method: str = ""  # "same_language" | "phrasebook" | "whisper_translate" | "none"


class Translator(Protocol):
    @property
    def notice(self) -> str | None:
        """A standing notice for the desk (None when translation is complete)."""

    async def text(self, text: str, src: str, dst: str) -> Translation: ...
    async def speech_to_english(self, pcm16k: np.ndarray, src: str) -> Translation: ...


NO_MT = ("Translation on this bot runs offline and is partial: the bot's own lines and the canned replies are translated "
         "(a phrasebook); free text in other directions is shown as said, marked 'not translated' — it would need a "
         "machine-translation model, which is not installed. Type to the caller in their language where you can.")
WHISPER_NOTE = " The caller's speech is also translated into English by Whisper (whisper-base, on this machine)."
DEV_MODEL = ("Speech translation needs a real Whisper model; this bot runs a random-weight DEV model, "
             "so the caller's speech cannot be translated. Run `voicebot models install` (whisper-base).")

# Canned agent replies, written in each language (a phrasebook, not a model).
CANNED: dict[str, dict[str, str]] = {
    "hello": {"en": "Hello, I am here to help you.", "es": "Hola, estoy aquí para ayudarle.",
              "de": "Hallo, ich bin hier, um Ihnen zu helfen.", "fr": "Bonjour, je suis là pour vous aider."},
    "checking": {"en": "One moment please, I am checking your order.", "es": "Un momento por favor, estoy revisando su pedido.",
                 "de": "Einen Moment bitte, ich prüfe Ihre Bestellung.", "fr": "Un instant s'il vous plaît, je vérifie votre commande."},
    "refund": {"en": "I have started your refund.", "es": "He iniciado su reembolso.",
               "de": "Ich habe Ihre Erstattung veranlasst.", "fr": "J'ai lancé votre remboursement."},
    "anything_else": {"en": "Is there anything else I can do for you?", "es": "¿Puedo ayudarle en algo más?",
                      "de": "Kann ich sonst noch etwas für Sie tun?", "fr": "Puis-je faire autre chose pour vous ?"},
    "goodbye": {"en": "Thank you for calling, goodbye.", "es": "Gracias por llamar, adiós.",
                "de": "Danke für Ihren Anruf, auf Wiederhören.", "fr": "Merci de votre appel, au revoir."},
}


def _norm(s: str) -> str:
    return " ".join(s.lower().replace("¿", "").replace("¡", "").split()).strip(" .!?")


class Phrasebook:
    """Exact sentence -> sentence tables (the bot's templates and the canned replies)."""

    def __init__(self, tables: list[dict[str, str]]) -> None:
        self._index: dict[tuple[str, str], dict[str, str]] = {}
        for row in tables:
            for lang, text in row.items():
                self._index[(lang, _norm(text))] = row

    def lookup(self, text: str, src: str, dst: str) -> str | None:
        row = self._index.get((src, _norm(text)))
        return row.get(dst) if row else None


def default_phrasebook() -> Phrasebook:
    rows: list[dict[str, str]] = list(CANNED.values())
    try:  # the minimal dialogue's lines; the builtin dialogue's templates when present
        from voicebot.dialogue import minimal

        for table in (minimal.GREETINGS, minimal.HEARD, minimal.BYE, minimal.AGENT):
            rows.append(dict(table))
    except Exception:  # noqa: BLE001 - a phrasebook without them still works
        pass
    rows.extend(_template_rows())
    rows.extend(_handoff_rows())
    return Phrasebook(rows)


def _handoff_rows() -> list[dict[str, str]]:
    """The hand-off's lines to callers (no placeholders), one row per line, from every pack's ``handoff.yaml``."""
    from voicebot.dialogue.languages import pack_codes
    from voicebot.dialogue.languages.handoff_lines import table

    rows: dict[str, dict[str, str]] = {}
    for code in pack_codes():
        for section in ("routing", "voicemail"):
            for key, text in (table(code).get(section) or {}).items():
                if "{" not in str(text):
                    rows.setdefault(f"{section}.{key}", {})[code] = str(text)
    return list(rows.values())


def _template_rows() -> list[dict[str, str]]:
    """The bot's fixed replies (no placeholders) in every language pack, one row per template."""
    try:
        from voicebot.dialogue.templates import builtin_table

        table = builtin_table()
    except Exception:  # noqa: BLE001 - a malformed pack is reported at start; the phrasebook still works
        return []
    return [{lang: text for lang, text in texts.items() if "{" not in text} for texts in table.values()]


class TextTranslator:
    """Phrasebook first; otherwise honest pass-through. ``speech_to_english`` via Whisper when real.

    ``whisper_provider`` gives the process's Whisper model when first needed (the call pipeline's,
    already loaded), so a desk that never translates speech never loads one."""

    def __init__(self, phrasebook: Phrasebook | None = None, whisper: Any = None, whisper_provider: Any = None) -> None:
        self.phrasebook = phrasebook or default_phrasebook()
        self._whisper = whisper  # voicebot.asr.whisper.WhisperASR or None
        self._provider = whisper_provider

    @property
    def whisper(self) -> Any:
        if self._whisper is None and self._provider is not None:
            provider, self._provider = self._provider, None
            try:
                self._whisper = provider()
            except Exception:  # noqa: BLE001 - no model: speech is not translated, and the notice says so
                self._whisper = None
        return self._whisper

    @property
    def notice(self) -> str:
        """What the desk shows on a call whose caller and agent do not share a language."""
        w = self.whisper
        return NO_MT + (WHISPER_NOTE if w is not None and not getattr(w, "dev", False) else "")

    async def text(self, text: str, src: str, dst: str) -> Translation:
        if src == dst:
            return Translation(text, None, "same_language")
        found = self.phrasebook.lookup(text, src, dst)
        if found:
            return Translation(found, None, "phrasebook")
        return Translation(None, f"not translated ({src}→{dst}): no translation model", "none")

    async def speech_to_english(self, pcm16k: np.ndarray, src: str) -> Translation:
        if self.whisper is None:
            return Translation(None, "no Whisper model loaded", "none")
        if getattr(self.whisper, "dev", False):
            return Translation(None, DEV_MODEL, "none")
        model = self.whisper.model
        # the call pipeline decodes on the same model: take its lock where it has one (one decode at a time)
        lock = getattr(self.whisper, "_lock", None) or contextlib.nullcontext()
        audio = pcm16k.astype(np.float32) / 32768.0

        def run() -> str:  # CPU work: off the event loop
            with lock:
                segments, _ = model.transcribe(audio, language=src, task="translate", beam_size=1)
                return " ".join(s.text.strip() for s in segments).strip()

        return Translation(await asyncio.to_thread(run), "translated by Whisper (into English only)", "whisper_translate")
