"""Pre-render the shop's fixed phrases in every neural voice, into the disk cache.

Why: a neural voice on 2 CPU cores needs ~0.5-1 s for a first sentence (Kokoro), while a caller
expects an answer within half a second. Most first sentences are fixed text — "Sorry your parcel
is late.", "What is your order number?" — so, as IVRs play recorded prompts, the bot renders
them once (``voicebot voices warm``, or in the background when ``serve`` starts, at the lowest
CPU priority) and a call reads them from disk in a millisecond. Sentences with caller data are
never written (see :mod:`voicebot.tts.cache`). espeak-ng voices are fast enough to skip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from voicebot.logs import get_logger
from voicebot.tts.catalog import VoiceCatalog
from voicebot.tts.espeak import EspeakVoice

log = get_logger(__name__)


@dataclass
class WarmReport:
    rendered: int = 0
    already: int = 0
    failed: int = 0
    seconds: float = 0.0
    skipped_languages: list[str] = field(default_factory=list)  # espeak-ng or dev voices: nothing to gain

    def line(self) -> str:
        skipped = f"; skipped (espeak-ng, fast enough): {', '.join(self.skipped_languages)}" if self.skipped_languages else ""
        return f"{self.rendered} sentences rendered, {self.already} already cached, {self.failed} failed, in {self.seconds:.0f} s{skipped}"


def warm(catalog: VoiceCatalog, phrases: Mapping[str, Iterable[str]], *, stop: Callable[[], bool] | None = None,
         progress: Callable[[str, str], None] | None = None) -> WarmReport:
    """Render every phrase of every language (``{language: sentences}``) not yet on disk.

    Blocking and CPU-heavy: run it in its own process (``serve`` does, at nice 19) or a thread.
    ``stop()`` true ends it early; what was written stays written.
    """
    report = WarmReport()
    t0 = time.monotonic()
    if catalog.cache.directory is None:
        raise ValueError("the voice catalog has no cache folder: nothing would be kept")
    for lang, sentences in phrases.items():
        voice = catalog.voice_for(lang)
        if isinstance(voice, EspeakVoice) or getattr(voice, "dev", False):
            report.skipped_languages.append(lang)
            continue
        for text in sentences:
            if stop is not None and stop():
                report.seconds = time.monotonic() - t0
                return report
            if catalog.cache.has_file(voice.name, text):
                report.already += 1
                continue
            try:
                speech = voice.synthesize(text)
            except Exception as exc:  # one sentence a voice cannot say must not stop the rest
                report.failed += 1
                log.warning("voice could not pre-render a sentence", extra={"voice": voice.name, "language": lang, "error": str(exc)})
                continue
            catalog.cache.persist(voice.name, text, speech)
            report.rendered += 1
            if progress is not None:
                progress(lang, text)
    report.seconds = time.monotonic() - t0
    return report
