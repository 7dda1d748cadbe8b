"""Pure text normalisation for ASR transcripts: case, digits, punctuation, Arabic letter forms."""

from __future__ import annotations

import re
import unicodedata

_ARABIC_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")  # harakat, dagger alef, tatweel
_ARABIC_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي", "ё": "е"})  # + Russian yo -> ye
_APOSTROPHES = "'’`´ʼ"
_KEEP_INSIDE = "@._+"  # kept between letters/digits so literal e-mails survive ("john.smith@x.com")


def _to_ascii_digit(ch: str) -> str:
    """Arabic-Indic, Thai, full-width ... decimal digits -> ASCII (NFKC alone misses most)."""
    if ch.isdigit() and not ch.isascii():
        try:
            return str(unicodedata.decimal(ch))
        except ValueError:
            return ch
    return ch


def fold_chars(text: str) -> str:
    """Character-level folding shared by transcripts and lexicon entries: NFKC, lower case,
    Arabic hamza/ta-marbuta/diacritics, Russian yo."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FORMS)


def normalize(text: str, *, apostrophe: str = "drop") -> str:
    """Lower case, ASCII digits, no punctuation, single spaces.

    ``apostrophe``: "drop" joins the halves ("didn't" -> "didnt"), "split" separates them
    ("l'ordine" -> "l ordine"), as each language's lexicon says.
    """
    text = fold_chars(text)
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        ch = _to_ascii_digit(ch)
        if ch in _APOSTROPHES:
            out.append("" if apostrophe == "drop" else " ")
        elif ch in _KEEP_INSIDE:
            prev_ok = i > 0 and text[i - 1].isalnum()
            next_ok = i + 1 < n and (text[i + 1].isalnum() or (ch == "+" and text[i + 1].isdigit()))
            out.append(ch if (prev_ok and next_ok) or (ch == "+" and next_ok) else " ")
        elif ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append(ch)  # letters, digits and combining marks (Thai vowels, Vietnamese tones)
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def strip_accents(word: str) -> str:
    """"télé" -> "tele", used for accent-insensitive matching of Latin words."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d").replace("ß", "ss")


def script_of(ch: str) -> str:
    """Coarse script of one character: latin, cyrillic, arabic, thai, hangul, kana, han, digit, other."""
    o = ord(ch)
    if ch.isdigit():
        return "digit"
    if 0x0400 <= o <= 0x04FF:
        return "cyrillic"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFEFF:
        return "arabic"
    if 0x0E00 <= o <= 0x0E7F:
        return "thai"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF:
        return "kana"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or o == 0x3007:
        return "han"
    if ch.isalpha() and o < 0x0250 or 0x1E00 <= o <= 0x1EFF:
        return "latin"
    return "other"
