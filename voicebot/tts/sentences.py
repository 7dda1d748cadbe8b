"""Split a reply into sentences so the first one plays while the rest is synthesized."""

from __future__ import annotations

import re

# Sentence ends in Latin, CJK, Arabic, Thai-less scripts (Thai has no sentence punctuation:
# long Thai text is split on spaces, which Thai uses between sentences/clauses).
_END = re.compile(r"(?<=[.!?。！？؟])\s+|(?<=[。！？])")


def split_sentences(text: str, max_chars: int = 220) -> list[str]:
    parts = [p.strip() for p in _END.split(text.strip()) if p and p.strip()]
    out: list[str] = []
    for p in parts:
        while len(p) > max_chars:  # very long sentence: cut at the last comma/space before the limit
            cut = max(p.rfind(",", 0, max_chars), p.rfind("、", 0, max_chars), p.rfind(" ", 0, max_chars))
            cut = cut if cut > 0 else max_chars
            out.append(p[: cut + 1].strip())
            p = p[cut + 1 :].strip()
        if p:
            out.append(p)
    return out


_CLAUSE = re.compile(r"(?<=[,;:、，；])\s*")


def split_for_speech(text: str, first_max_chars: int = 48, min_clause_chars: int = 12) -> list[str]:
    """Sentences, with a long first sentence cut after its first clause (a comma, 、, ;).

    The caller hears the first piece as soon as it is synthesized and the rest plays on while
    the next piece is made: a short first piece is what makes the bot answer at once.
    """
    parts = split_sentences(text)
    if parts and len(parts[0]) > first_max_chars:
        pieces = [p for p in _CLAUSE.split(parts[0]) if p.strip()]
        if len(pieces) > 1 and len(pieces[0]) >= min_clause_chars:
            parts = [pieces[0].strip(), parts[0][len(pieces[0]):].strip(), *parts[1:]]
            parts[1] = parts[1].lstrip()
    return [p for p in parts if p]
