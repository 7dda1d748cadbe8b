"""Text to bias the recogniser toward what the bot just asked for (``DialogueReply.expect``).

Whisper continues the style of its initial prompt: a prompt that shows order numbers read digit
by digit ("4 5 7 1 2", "J D 4 5 1 9 3") makes it keep the digits apart instead of joining and
"normalising" them, and one with the language's yes/no words makes a short answer come out in
the caller's language (each language pack's ``asr_hints``). The pipeline passes
:func:`initial_prompt` to the ASR for the next turn.
"""

from __future__ import annotations

from .languages import find_pack, get_pack

_EMAIL = "anna.smith@example.com, john dot miller at gmail dot com"
_PHONE = "+44 7700 900123, 0 9 1 2 3 4 5 6 7 8"


def initial_prompt(expect: str | None, lang: str) -> str | None:
    """A short prompt in ``lang`` showing the expected answer's shape; None when nothing is expected."""
    if expect in ("order_id", "yes_no"):
        pack = find_pack(lang)
        return (pack.asr_hints.get(expect) if pack else None) or get_pack("en").asr_hints[expect]
    if expect == "email":
        return _EMAIL
    if expect == "phone":
        return _PHONE
    return None
