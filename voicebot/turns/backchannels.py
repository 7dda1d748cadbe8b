"""Backchannel lexicon: the short listener words that do *not* take the turn.

A caller saying "uh-huh", "ok", "sí", "ja", "嗯", "はい" or "네" while the bot talks is
listening, not interrupting. The barge-in confirmation stage asks :func:`first_content_word`
whether a partial transcript holds a word that is *not* one of these in the caller's
language; the first such word confirms the interruption.

Matching is on normalized tokens (lower case, punctuation and hyphens removed), so Whisper's
spellings "Uh-huh.", "uh huh", "Mm-hmm" all match. Languages without spaces between words
(zh, ja) are matched on the whole normalized phrase and on known backchannel prefixes.
"""

from __future__ import annotations

import re
import unicodedata

from voicebot.dialogue.languages import packs
from voicebot.dialogue.nlu.fuzzy import within
from voicebot.dialogue.nlu.text import strip_accents

# Per language, normalized (see _norm): each language pack's ``backchannels``. Deliberately
# short — a word missing there only means the bot yields, never that it ignores.
BACKCHANNELS: dict[str, frozenset[str]] = {code: p.backchannels for code, p in packs().items() if p.backchannels}
# Scripts written without spaces: a transcript is one token; these are matched by prefix peeling.
UNSPACED = frozenset(code for code, p in packs().items() if p.unspaced)
# Two-word backchannels ("uh huh", "va bene"), heard in any language: callers mix them.
PHRASES = frozenset(phrase for p in packs().values() for phrase in p.backchannel_phrases)

_PUNCT = re.compile(r"[^\w\s']+", re.UNICODE)


def _norm(text: str) -> str:
    """Lower case, NFKC, hyphens and punctuation as spaces: how Whisper's spellings are compared."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("-", " ")
    return _PUNCT.sub(" ", text).strip()


def lexicon(language: str | None) -> frozenset[str]:
    """The backchannel words for ``language`` (base code: "en-US" -> "en"); English when unknown."""
    base = (language or "en").split("-")[0].lower()
    return BACKCHANNELS.get(base, BACKCHANNELS["en"])


def _tokens(text: str, language: str | None) -> list[str]:
    norm = _norm(text)
    base = (language or "en").split("-")[0].lower()
    if base not in UNSPACED:
        return norm.split()
    # Peel known backchannels off the front; whatever is left is one content token.
    words = sorted(lexicon(base), key=len, reverse=True)
    out: list[str] = []
    for chunk in norm.split():
        while chunk:
            hit = next((w for w in words if chunk.startswith(w)), None)
            if hit is None:
                out.append(chunk)
                break
            out.append(hit)
            chunk = chunk[len(hit):]
    return out


def _is_backchannel_word(tok: str, lex: frozenset[str]) -> bool:
    """In the lexicon, accents aside, or one of its words said over again as one token
    (Whisper writes "sí, sí" as "Sisi", "yeah yeah" as "yeahyeah")."""
    if tok in lex:
        return True
    plain = strip_accents(tok)
    for w in lex:
        pw = strip_accents(w)
        if not pw or " " in pw:
            continue
        if len(plain) % len(pw) == 0 and plain == pw * (len(plain) // len(pw)):
            return True
        # a short word said twice, run together and one letter off ("Sísa." for "sí, sí"); only
        # doubled forms: one letter off a single word is too often another word (nice/nine, fine/five)
        if len(pw) <= 3 and len(plain) >= 4 and within(plain, pw * 2, 1):
            return True
    return False


def first_content_word(text: str, language: str | None) -> str | None:
    """The first word of ``text`` that is not a backchannel in ``language`` (None: all backchannel)."""
    lex = lexicon(language)
    toks = _tokens(text, language)
    i = 0
    while i < len(toks):
        # two-word backchannels ("uh huh", "i see", "va bene", "ach so")
        if i + 1 < len(toks) and f"{toks[i]} {toks[i + 1]}" in lex | PHRASES:
            i += 2
            continue
        if not _is_backchannel_word(toks[i], lex):
            return toks[i]
        i += 1
    return None


def is_backchannel(text: str, language: str | None) -> bool:
    """True when ``text`` has words and all of them are backchannels."""
    return bool(_tokens(text, language)) and first_content_word(text, language) is None


normalize_words = _norm  # shared with the turn-completeness rules
