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

# Per language, normalized (see _norm). Sources: common listener responses in each language;
# deliberately short — a word missing here only means the bot yields, never that it ignores.
BACKCHANNELS: dict[str, frozenset[str]] = {
    "en": frozenset("""uh huh uhhuh uhuh mhm mmhm mmhmm mhmm hmm hm mm mmm um uh ah oh yeah yea yep yes ok okay
        right sure alright gotcha i see cool great fine good wow really nice aha""".split()),
    "es": frozenset("sí si vale ajá aja ok okey claro bueno ya eh mm mhm ah oh entiendo perfecto exacto".split()),
    "de": frozenset("ja jaja jap okay ok genau mhm hm mm aha ach so gut klar richtig stimmt äh ähm".split()),
    "fr": frozenset("oui ouais d'accord dac ok okay mhm hm mm ah oh bon voilà exactement euh bien".split()),
    "it": frozenset("sì si ok okay certo va bene mhm hm mm ah eh già esatto perfetto".split()),
    "pt": frozenset("sim é isso ok tá ta certo claro mhm hm mm ah aham uhum pois".split()),
    "ru": frozenset("да ага угу ну так хорошо ладно понятно ясно ок мм хм".split()),
    "ar": frozenset("نعم اه آه ايوه أيوه طيب تمام ماشي اوكي".split()),
    "vi": frozenset("vâng dạ ừ ờ ok được rồi à".split()),
    "th": frozenset("ครับ ค่ะ คะ อือ อืม โอเค".split()),
    "ko": frozenset("네 예 응 어 음 아 그래 그래요 맞아요 맞아 오케이".split()),
    "ja": frozenset("はい うん ええ そう そうですね なるほど へえ ああ うんうん はいはい".split()),
    "zh": frozenset("嗯 嗯嗯 对 對 是 好 好的 哦 噢 啊 行 对对 是的 明白".split()),
}
# Scripts written without spaces: a transcript is one token; these are matched by prefix peeling.
UNSPACED = frozenset({"zh", "ja", "th"})

_PUNCT = re.compile(r"[^\w\s']+", re.UNICODE)


def _norm(text: str) -> str:
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


def first_content_word(text: str, language: str | None) -> str | None:
    """The first word of ``text`` that is not a backchannel in ``language`` (None: all backchannel)."""
    lex = lexicon(language)
    toks = _tokens(text, language)
    i = 0
    while i < len(toks):
        # two-word backchannels ("uh huh", "i see", "va bene", "ach so")
        if i + 1 < len(toks) and f"{toks[i]} {toks[i + 1]}" in lex | {"uh huh", "i see", "va bene", "ach so", "d accord"}:
            i += 2
            continue
        if toks[i] not in lex:
            return toks[i]
        i += 1
    return None


def is_backchannel(text: str, language: str | None) -> bool:
    """True when ``text`` has words and all of them are backchannels."""
    return bool(_tokens(text, language)) and first_content_word(text, language) is None
