"""Language identification of one short transcript: script first, then function words."""

from __future__ import annotations

from collections import Counter

from .lexicon import Lexicon
from .text import normalize, script_of, strip_accents

_SCRIPT_LANG = {"hangul": "ko", "thai": "th", "arabic": "ar", "cyrillic": "ru", "han": "zh"}
_VI_MARKS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
_LETTER_HINTS = {"es": set("ñ¿¡"), "pt": set("ãõ"), "de": set("ßäö"), "fr": set("èëîïœ"), "it": set("ìò")}
LATIN = ("en", "es", "pt", "de", "fr", "it", "id", "vi")


def detect_language(text: str, lexicons: dict[str, Lexicon], default: str = "en") -> str:
    """ISO 639-1 code of ``text``; ``default`` when there is nothing to go on."""
    scripts = Counter(script_of(c) for c in text if c.isalpha())
    if not scripts:
        return default
    if scripts["kana"]:
        return "ja"
    non_latin = [(n, s) for s, n in scripts.items() if s in _SCRIPT_LANG]
    if non_latin:
        n, s = max(non_latin)
        if n >= 0.3 * sum(scripts.values()):
            return _SCRIPT_LANG[s]
    lower = text.lower()
    scores: dict[str, float] = {}
    words = normalize(text, apostrophe="split").split()
    folded = [strip_accents(w) for w in words]
    for code in LATIN:
        lex = lexicons.get(code)
        if lex is None:
            continue
        fw = sum(w in lex.function_words for w in words)
        vocab = sum(f in lex.vocabulary or w in lex.vocabulary for w, f in zip(words, folded) if len(w) > 2)
        scores[code] = 2.0 * fw + 1.0 * vocab
    scores["vi"] = scores.get("vi", 0.0) + 3.0 * sum(c in _VI_MARKS for c in lower)
    for code, letters in _LETTER_HINTS.items():
        scores[code] = scores.get(code, 0.0) + 3.0 * sum(c in letters for c in lower)
    if "ç" in lower:
        scores["pt"] = scores.get("pt", 0.0) + 1.5
        scores["fr"] = scores.get("fr", 0.0) + 1.5
    best = max(scores.items(), key=lambda kv: (kv[1], kv[0] == default))
    return best[0] if best[1] > 0 else default
