"""Word (or character) error rate as the benchmark reports it.

Lower case, Unicode NFKC, punctuation dropped; character error rate for languages written
without spaces (zh, ja, th; ko too, whose spaces follow different rules in transcripts);
Chinese compared in simplified characters (the NLU normalizes transcripts the same way, so
the script Whisper chose is not counted as an error).
"""

from __future__ import annotations

from benchmarks.harness.metrics import edit_distance, words

CHAR_LANGS = ("zh", "ja", "th", "ko")


def tokens(text: str, language: str) -> list[str]:
    if language == "zh":
        from voicebot.dialogue.nlu.normalize import _t2s

        text = _t2s(text)
    return words(text, language)


def errors(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(edits, reference length) in words, or characters for CHAR_LANGS."""
    ref, hyp = tokens(reference, language), tokens(hypothesis, language)
    return edit_distance(ref, hyp), len(ref)


def unit(language: str) -> str:
    return "CER" if language in CHAR_LANGS else "WER"
