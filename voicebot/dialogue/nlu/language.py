"""Language identification of one short transcript: script first, then function words.

What each language is written in and which characters point to it come from its language pack
(``script``, ``script_decides``, ``letter_hints``); the words from its lexicon. A script only one
pack uses decides by itself when it is at least 30 % of the letters; languages sharing a script
(Latin) are told apart by their function words, vocabulary and letter hints.
"""

from __future__ import annotations

from collections import Counter

from ..languages import LanguagePack, find_pack
from .lexicon import Lexicon
from .text import normalize, script_of, strip_accents

SCRIPT_SHARE = 0.3  # a single-language script decides when this share of the letters is in it
PREFER_SHARE = 0.5  # a preferred language wins when it scores at least this share of the best one


def _packs(lexicons: dict[str, Lexicon]) -> list[LanguagePack]:
    found = [find_pack(code) for code in lexicons]
    return sorted((p for p in found if p is not None), key=lambda p: (p.rank, p.code))


def detect_language(text: str, lexicons: dict[str, Lexicon], default: str = "en", prefer: tuple[str, ...] = ()) -> str:
    """ISO 639-1 code of ``text`` among ``lexicons``' languages; ``default`` when there is nothing to go on.

    ``prefer``: the languages the shop serves. Among languages that share a script, a preferred
    one wins ties and wins when it scores at least half of the best other one (a Spanish-only shop
    hears "sì" as Spanish, not Italian); a script only one language uses still decides.
    """
    scripts = Counter(script_of(c) for c in text if c.isalpha())
    if not scripts:
        return default
    packs = _packs(lexicons)
    for pack in packs:
        if pack.script_decides and scripts[pack.script]:
            return pack.code
    by_script: dict[str, list[str]] = {}
    for pack in packs:
        by_script.setdefault(pack.script, []).append(pack.code)
    single = {script: codes[0] for script, codes in by_script.items() if len(codes) == 1 and script != "latin"}
    owned = [(n, s) for s, n in scripts.items() if s in single]
    if owned:
        n, s = max(owned)
        if n >= SCRIPT_SHARE * sum(scripts.values()):
            return single[s]
    lower = text.lower()
    scores: dict[str, float] = {}
    words = normalize(text, apostrophe="split").split()
    folded = [strip_accents(w) for w in words]
    scored = [p for p in packs if p.script == "latin" or len(by_script.get(p.script, ())) > 1]
    for pack in scored:
        lex = lexicons[pack.code]
        fw = sum(w in lex.function_words for w in words)
        vocab = sum(f in lex.vocabulary or w in lex.vocabulary for w, f in zip(words, folded) if len(w) > 2)
        scores[pack.code] = 2.0 * fw + 1.0 * vocab
    for pack in scored:
        for letters, weight in pack.letter_hints.items():
            scores[pack.code] += weight * sum(c in letters for c in lower)
    if not scores:
        return default
    best = max(scores.items(), key=lambda kv: (kv[1], kv[0] == default))
    if prefer and best[0] not in prefer:
        served = [(code, s) for code, s in scores.items() if code in prefer]
        if served:
            top = max(served, key=lambda kv: (kv[1], kv[0] == default))
            if top[1] > 0 and top[1] >= PREFER_SHARE * best[1]:
                best = top
    return best[0] if best[1] > 0 else default
