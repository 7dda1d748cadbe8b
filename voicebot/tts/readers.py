"""Text rewritten into what an espeak-ng voice can read correctly.

espeak-ng has no Japanese kanji dictionary (its ``ja`` voice says "Chinese letter" for every
kanji) and Debian's ``cmn`` voice reads Chinese characters as pinyin with English tone digits.
So Japanese goes to espeak-ng as kana (readings from OpenJTalk, ``pyopenjtalk-plus``) and
Mandarin as tone-numbered pinyin (``pypinyin``) to the ``cmn-latn-pinyin`` voice, which
speaks real Mandarin phonemes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

_PINYIN_DIGITS = dict(zip("0123456789", "ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3".split()))
_CJK_PUNCT = str.maketrans({"。": ". ", "！": "! ", "？": "? ", "，": ", ", "、": ", ", "；": "; ", "：": ": "})
_lock = threading.Lock()  # OpenJTalk keeps global state


def kana(text: str) -> str:
    """Japanese text as katakana readings (particles as pronounced: は -> ワ)."""
    import pyopenjtalk

    with _lock:
        return pyopenjtalk.g2p(text, kana=True)


def pinyin(text: str) -> str:
    """Mandarin text as tone-numbered pinyin; digits read one by one (order numbers, times)."""
    from pypinyin import Style, lazy_pinyin

    text = re.sub(r"\d", lambda m: f" {_PINYIN_DIGITS[m.group(0)]} ", text).translate(_CJK_PUNCT)
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors="default")
    return re.sub(r"\s+", " ", " ".join(syllables)).replace(" ,", ",").replace(" .", ".").strip()


READERS: dict[str, Callable[[str], str]] = {"kana": kana, "pinyin": pinyin}
