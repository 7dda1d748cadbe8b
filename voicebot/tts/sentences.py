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
