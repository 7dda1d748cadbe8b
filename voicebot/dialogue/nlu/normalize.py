"""What a speech recogniser writes -> what the NLU reads.

Whisper and its kin write the same words in many shapes: traditional characters for a
Mandarin caller ("訂單號碼"), full-width forms ("ＪＤ４５１９３"), digit groups with a thousands
separator ("553,208", "47.215", "47 215"), dotted initials ("J.D. 45193"), letter names in the
caller's script ("ジェーピー", "케이알", "ทีเอช", "jota de", "джей ди"). :func:`asr_to_text`
rewrites the text once, before language detection, rules and classifier see it; the number and
letter words themselves are read by :mod:`numbers` and :func:`spelled_prefix` from each
language's lexicon (``numbers`` and ``letters`` keys), so a merchant extends them in YAML.

Traditional -> simplified Chinese uses OpenCC (Apache-2.0, the converter most Chinese software
uses; its PyPI wheels carry the dictionaries), never a hand-made character table: phrase-level
conversion matters ("頭髮" -> "头发", "乾淨" -> "干净").
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

from ..languages import find_pack
from .lexicon import Lexicon

MAX_PREFIX_LETTERS = 3  # order-id prefixes are short ("JD", "TH", "A"); more is a sentence

# 1-3 digits, a thousands separator, then groups of exactly three digits ("553,208", "1.234.567")
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:[,.\u00a0\u202f ]\d{3})+)(?![\d]|[.,]\d)")
_DOTTED_INITIALS = re.compile(r"(?<![\w.@])((?:[A-Za-z]\.){2,})(?![\w@])")
_ACRONYM = re.compile(r"(?<![A-Za-z'’])[A-Z]{1,3}(?![A-Za-z'’])")
_SENTENCE_START = re.compile(r"(?:^|[.!?。！？]\s*)$")
_HAN = re.compile(r"[\u3400-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")

_opencc_lock = threading.Lock()
_opencc: Any = None


def _t2s(text: str) -> str:
    """Traditional -> simplified Chinese with OpenCC (loaded once, on first use)."""
    global _opencc
    if _opencc is None:
        with _opencc_lock:
            if _opencc is None:
                try:
                    import opencc
                except ImportError as exc:  # a dependency of the package: say how to get it back
                    raise RuntimeError("the `opencc` package is missing; install it (pip install opencc), it reads traditional Chinese transcripts") from exc
                _opencc = opencc.OpenCC("t2s")
    return str(_opencc.convert(text))


def _join_thousands(m: re.Match[str]) -> str:
    return m.group(1) + re.sub(r"\D", "", m.group(2))


def _simplifies(lang: str | None) -> bool:
    """The language pack reads traditional characters as simplified (``simplify_han``: zh)."""
    pack = find_pack(lang)
    return pack is not None and pack.simplify_han


def asr_to_text(text: str, lang: str | None = None) -> str:
    """The transcript with the ASR's formatting undone: NFKC (full-width letters and digits),
    simplified Chinese (``lang``'s pack says ``simplify_han``: zh; or unknown with Han characters and no kana), thousands
    separators removed from digit groups, dotted initials spelled out ("J.D." -> "J D")."""
    if not text:
        return text
    text = unicodedata.normalize("NFKC", text)
    if (_simplifies(lang) or (lang is None and not _KANA.search(text))) and _HAN.search(text):
        text = _t2s(text)
    text = _THOUSANDS.sub(_join_thousands, text)
    return _DOTTED_INITIALS.sub(lambda m: " ".join(m.group(1).replace(".", "")) + " ", text)


def acronyms(text: str) -> frozenset[str]:
    """Capitalised letter groups the ASR wrote ("JD", "KR", a lone "R" inside a sentence): in a
    transcript these are spelled letters, not words, so one beside a number is part of an order
    id. A lone capital that starts a sentence, and "I", are ordinary words."""
    text = unicodedata.normalize("NFKC", text)
    text = _DOTTED_INITIALS.sub(lambda m: " ".join(m.group(1).replace(".", "")) + " ", text)  # "J.D." is no sentence end
    out = set()
    for m in _ACRONYM.finditer(text):
        tok = m.group(0)
        if len(tok) == 1 and (tok == "I" or _SENTENCE_START.search(text[: m.start()])):
            continue
        out.add(tok.lower())
    return frozenset(out)


def _is_word(token: str, lex: Lexicon) -> bool:
    return token in lex.function_words or token in lex.vocabulary


# -- spelled letters ---------------------------------------------------------------------------


_LATIN = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=64)
def _letter_vocab(lex: Lexicon) -> tuple[tuple[str, str], ...]:
    """(name, letter), longest name first; single Latin letters name themselves."""
    names = dict(lex.letters)
    names.update({c: c for c in _LATIN})
    return tuple(sorted(names.items(), key=lambda kv: -len(kv[0])))


def _split_letters(chunk: str, lex: Lexicon) -> list[str] | None:
    """A glued run of letter names ("ジェーピー", "케이알", "ทีเอช") -> their names, or None.
    Latin words are never split into letters ("is" is not "I S"): capitals mark those."""
    if chunk.isascii():
        return None
    vocab = [(n, c) for n, c in _letter_vocab(lex) if not (len(n) == 1 and n in _LATIN)]
    best: dict[int, list[str]] = {0: []}
    for i in range(len(chunk)):
        if i not in best:
            continue
        for name, _ in vocab:
            j = i + len(name)
            if chunk.startswith(name, i) and j not in best:
                best[j] = best[i] + [name]
    return best.get(len(chunk))


def _trailing_names(before: str, lex: Lexicon) -> list[str]:
    """The letter names that end ``before`` (the text just ahead of a number), nearest last.
    Spaced words are taken whole; a word of glued names is split; fillers are skipped."""
    names: list[str] = []
    for word in reversed(before.split()):
        if word in lex.fillers and not names:
            continue
        parts = [word] if word in lex.letters or (len(word) == 1 and word.isascii() and word.isalpha()) else None
        if parts is None and lex.chars:
            parts = _longest_letter_suffix(word, lex)
            if parts:
                names[:0] = parts
                break  # letters glued to a word end that word: nothing before them counts
        if parts is None:
            parts = _split_letters(word, lex)
        if not parts:
            break
        names[:0] = parts
        if len(names) > MAX_PREFIX_LETTERS:
            break
    return names


def _longest_letter_suffix(word: str, lex: Lexicon) -> list[str] | None:
    """Unspaced scripts glue letters to the word before ("番号はジェーピー"): the longest
    stretch at the end of ``word`` that splits into letter names."""
    for i in range(len(word)):
        parts = _split_letters(word[i:], lex)
        if parts:
            return parts
    return None


def _trailing_capitals(words: list[str], lex: Lexicon, caps: frozenset[str]) -> str:
    """Letters the ASR wrote in capitals right before the number ("T H 6 2", "JD 45193")."""
    got = ""
    for w in reversed(words):
        if w not in caps or (len(w) > 1 and _is_word(w, lex)) or len(got) + len(w) > MAX_PREFIX_LETTERS:
            break
        got = w + got
    return got


def spelled_prefix(before: str, lex: Lexicon, caps: frozenset[str] = frozenset()) -> str:
    """Upper-case letters spelled right before an order number, or "".

    ``before``: the normalised text ahead of the number; ``caps``: :func:`acronyms` of the raw
    transcript ("JD 45193"). Letter names that are also everyday words ("de", "ha", "ดี") are
    ``weak_letters`` in the lexicon: they count only next to a letter that is not ("jota de").
    """
    capitals = _trailing_capitals(before.split(), lex, caps)
    if capitals:
        return capitals.upper()
    names = _trailing_names(before, lex)[-MAX_PREFIX_LETTERS:]
    weak = lex.weak_letters | lex.single_letter_words

    def is_weak(name: str) -> bool:
        return name in weak or name in lex.function_words

    while len(names) > 2 and is_weak(names[0]):
        names = names[1:]
    if not names or all(is_weak(n) for n in names):
        return ""
    vocab = dict(_letter_vocab(lex))
    return "".join(vocab[n] for n in names).upper()


def spelled_letter(word: str, lex: Lexicon, caps: frozenset[str] = frozenset()) -> tuple[str, bool] | None:
    """One spelled letter ("M" written as a capital, "em", "إم", "เอ็ม") as (upper-case letter,
    weak), or None. Weak: also an everyday word ("إم" or, "em" in): it needs support."""
    if len(word) == 1 and word in caps and word not in ("i", "a"):
        return word.upper(), False
    if word in lex.letters:
        return lex.letters[word].upper(), word in lex.weak_letters or word in lex.function_words
    return None


def letter_before(before: str, lex: Lexicon, caps: frozenset[str] = frozenset()) -> tuple[str, bool] | None:
    """The one spelled letter right before the number, weak or not (see :func:`spelled_letter`)."""
    words = before.split()
    if not words:
        return None
    w = words[-1]
    if len(w) == 1 and w.isascii() and w.isalpha():
        return w.upper(), w not in caps
    return spelled_letter(w, lex, caps)

