"""Keyword patterns from the lexicon files, compiled once and matched against a transcript.

Word-mode pattern (languages written with spaces): words separated by spaces; each word may be
``stem*`` (prefix), ``*part*`` (infix), ``*end`` (suffix) or ``a/b`` (alternatives). Up to
``MAX_GAP`` other words may sit between two pattern words. ``^`` / ``$`` anchor the pattern to
the start / end of the utterance (fillers removed). Longer words tolerate small ASR errors
(edit distance, see :mod:`fuzzy`).

Char-mode pattern (Chinese, Japanese, Thai, Korean, Arabic): a substring; spaces in it are
optional in the text, ``~`` is a gap of up to 12 characters, ``|`` at an end is a word boundary.

Either may end with ``@weight`` (default 1.0): ``"charged twice @2"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .fuzzy import near
from .text import strip_accents

MAX_GAP = 3
Span = tuple[int, int]
Cells = frozenset[int]  # the token indices (word mode) or characters (char mode) a match used


@dataclass(frozen=True)
class WordAlt:
    text: str
    prefix: bool = False  # stem*
    suffix: bool = False  # *end
    infix: bool = False  # *part*

    def matches(self, token: str) -> bool:
        t = self.text
        if self.infix:
            return t in token
        if self.suffix:
            return token.endswith(t)
        if self.prefix:
            if token.startswith(t):
                return True
            # short stems ("retard") would match too much
            return len(t) >= 7 and any(near(t, token[:n]) for n in (len(t) - 1, len(t), len(t) + 1) if n <= len(token))
        return token == t or near(t, token)


@dataclass(frozen=True)
class Pattern:
    source: str
    weight: float
    words: tuple[tuple[WordAlt, ...], ...] = ()
    regex: re.Pattern[str] | None = None
    at_start: bool = False
    at_end: bool = False

    def find(self, tokens: list[str], text: str) -> Span | None:
        """Span of the first match: token indices (word mode) or character offsets (char mode)."""
        found = self.match(tokens, text)
        return found[0] if found else None

    def match(self, tokens: list[str], text: str) -> tuple[Span, Cells] | None:
        """Span of the first match and the cells it really used (the gaps excluded): two
        readings compete only for the words they both use ("tidak ... terima" vs "terima kasih")."""
        if self.regex is not None:
            m = self.regex.search(text)
            if not m:
                return None
            groups = [(m.start(g), m.end(g)) for g in range(1, (m.re.groups or 0) + 1) if m.start(g) >= 0]
            cells = frozenset(i for a, b in (groups or [m.span()]) for i in range(a, b))
            return (m.start(), m.end()), cells
        return _find_words(self, tokens)


@lru_cache(maxsize=65536)
def _hit(alts: tuple[WordAlt, ...], token: str) -> bool:
    """Cached: the same few hundred words meet the same keywords on every call."""
    return any(a.matches(token) for a in alts)


def _find_words(p: Pattern, tokens: list[str]) -> tuple[Span, Cells] | None:
    n = len(tokens)
    starts = [0] if p.at_start else range(n)
    for s in starts:
        if s >= n or not _hit(p.words[0], tokens[s]):
            continue
        used, ok = [s], True
        for spec in p.words[1:]:
            nxt = next((j for j in range(used[-1] + 1, min(n, used[-1] + 2 + MAX_GAP)) if _hit(spec, tokens[j])), None)
            if nxt is None:
                ok = False
                break
            used.append(nxt)
        if ok and (not p.at_end or used[-1] == n - 1):
            return (s, used[-1] + 1), frozenset(used)
    return None


def _split_weight(source: str) -> tuple[str, float]:
    body, sep, w = source.rpartition("@")
    if sep and body.strip():
        try:
            return body.strip(), float(w)
        except ValueError:
            pass
    return source.strip(), 1.0


def _word_alt(word: str, fold: bool) -> WordAlt:
    prefix, suffix = word.endswith("*"), word.startswith("*")
    core = word.strip("*")
    if fold:
        core = strip_accents(core)
    return WordAlt(core, prefix=prefix and not suffix, suffix=suffix and not prefix, infix=prefix and suffix)


def compile_pattern(source: str, *, chars: bool, fold: bool = False) -> Pattern:
    """Compile one lexicon line; ``fold`` makes word matching accent-insensitive."""
    body, weight = _split_weight(source)
    at_start, at_end = body.startswith("^"), body.endswith("$")
    body = body.strip("^$").strip()
    if not body:
        raise ValueError(f"empty pattern {source!r}")
    if chars:
        left, right = body.startswith("|"), body.endswith("|")
        core = body.strip("|")
        # each stretch between "~" gaps is a group, so the match knows which characters it used
        stretches = [[re.escape(ch) for ch in piece if ch != " "] for piece in core.split("~")]
        if not any(stretches):
            raise ValueError(f"pattern {source!r} has no characters besides '~'")
        rx = r"\s?.{0,12}?\s?".join("(" + r"\s?".join(st) + ")" for st in stretches if st)
        rx = ("^" if at_start else r"(?:^|(?<=\s))" if left else "") + rx + ("$" if at_end else r"(?=\s|$)" if right else "")
        return Pattern(source, weight, regex=re.compile(rx), at_start=at_start, at_end=at_end)
    words = tuple(tuple(_word_alt(a, fold) for a in w.split("/") if a) for w in body.split())
    return Pattern(source, weight, words=words, at_start=at_start, at_end=at_end)
