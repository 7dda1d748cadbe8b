"""Personal data out of stored transcripts and logs: card numbers, emails, phone numbers.

Pure text functions plus a :class:`logging.Filter`. Card numbers are only redacted when
the digits pass the Luhn check (so order numbers and amounts survive); phone numbers need
``phone_min_digits`` digits (default 9) so five-digit order ids such as "45712" stay readable.
Also: which calls may be recorded at all (per channel, per caller-number prefix).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from voicebot.core import CallContext

CARD_MASK = "[card]"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

# Card numbers as speech recognition writes them: "4111 1111 1111 1111", "4111-1111-...",
# "4,111,111,111,111,111" (Whisper's thousands separators), "4111, 1111, ..." and digits spoken
# one by one ("four one one one ..."). A run of digit groups and digit words joined by
# separators is searched for 13-19 consecutive digits that pass the Luhn check.
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9",
    "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6", "siete": "7", "ocho": "8",
    "nueve": "9",
    "null": "0", "eins": "1", "zwei": "2", "drei": "3", "vier": "4", "fünf": "5", "sechs": "6", "sieben": "7", "acht": "8",
    "neun": "9",
    "zéro": "0", "un": "1", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "sept": "7", "huit": "8", "neuf": "9",
}  # fmt: skip
_TOKEN = r"(?:\d+|" + "|".join(sorted(map(re.escape, _DIGIT_WORDS), key=len, reverse=True)) + r")"
_CARD_RUN = re.compile(rf"(?<![\w]){_TOKEN}(?:[ \t,.\-/]{{1,3}}{_TOKEN})*(?![\w])", re.IGNORECASE)
_CARD_TOKEN = re.compile(_TOKEN, re.IGNORECASE)
# An email, but not a SIP/SIPS address (``sip:bot@10.0.0.5``, ``sip:es-agents@pbx``): those are
# where calls go, and logs that mask them cannot be debugged. The domain ends in a name, not a number.
_EMAIL = re.compile(r"(?<![\w.+-])(?<!sip:)(?<!sips:)[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_][\w-]*")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# "+34 612 345 678", "(555) 123-4567", "0049-30-1234567": digits with separators, optional "+".
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\d \-.()/]{3,22})\d(?![\w])")
_SENSITIVE_SLOTS = ("email", "phone", "card", "card_number")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class RedactionOptions:
    """What to redact. Defaults: everything on; turn a kind off only with the merchant's legal basis."""

    enabled: bool = True
    cards: bool = True
    emails: bool = True
    phones: bool = True
    phone_min_digits: int = 9


class Redactor:
    def __init__(self, options: RedactionOptions | None = None) -> None:
        self.options = options or RedactionOptions()

    def text(self, text: str | None) -> str | None:
        """``text`` with card numbers, emails and phone numbers replaced by ``[card]`` etc."""
        o = self.options
        if not text or not o.enabled:
            return text
        if o.cards:
            text = _CARD_RUN.sub(_card_sub, text)
        if o.emails:
            text = _EMAIL.sub(EMAIL_MASK, text)
        if o.phones:
            text = _PHONE.sub(lambda m: PHONE_MASK if _digit_count(m.group()) >= o.phone_min_digits and not _IPV4.fullmatch(m.group().strip())
                              else m.group(), text)
        return text

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value; slots named email/phone/card are masked whole."""
        if not self.options.enabled:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: (_mask_for(k) if k in _SENSITIVE_SLOTS and v else self.value(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def caller_identity(self, number: str | None) -> str | None:
        """A caller number kept recognisable for QA but not dialable: ``+3461*****78``."""
        if not number or not self.options.enabled or not self.options.phones:
            return number
        if _digit_count(number) < 6:
            return number
        return number[:5] + "*" * max(0, len(number) - 7) + number[-2:]


def _mask_for(key: str) -> str:
    return {"email": EMAIL_MASK, "phone": PHONE_MASK}.get(key, CARD_MASK)


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _card_sub(m: re.Match[str]) -> str:
    """Mask each stretch of 13-19 digits in this run that passes Luhn (longest first), keep the rest."""
    run = m.group()
    tokens = [(t.start(), t.end(), _DIGIT_WORDS.get(t.group().lower(), t.group())) for t in _CARD_TOKEN.finditer(run)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        best = None
        digits = ""
        for j in range(i, len(tokens)):
            digits += tokens[j][2]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_ok(digits):
                best = j
        if best is None:
            i += 1
            continue
        spans.append((tokens[i][0], tokens[best][1]))
        i = best + 1
    if not spans:
        return run
    out, last = [], 0
    for a, b in spans:
        out += [run[last:a], CARD_MASK]
        last = b
    return "".join(out) + run[last:]


class RedactingLogFilter(logging.Filter):
    """Redacts log messages and string ``extra`` fields in place; add it to the handlers.

    ``handler.addFilter(RedactingLogFilter())`` - a filter on a handler sees the records of
    every logger (a logger's own filter would not see its children's records).
    """

    _SKIP = {"call_id", "msg", "args", "name", "levelname", "pathname", "filename", "module", "funcName", "threadName",
             "processName", "taskName", "stack_info", "exc_text"}  # fmt: skip

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the logger's problem, not ours
            return True
        record.msg = self.redactor.text(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in self._SKIP and isinstance(value, (str, dict, list)):
                setattr(record, key, self.redactor.value(value))
        return True


@dataclass(frozen=True)
class RecordingPolicy:
    """Whether a call's audio may be recorded. Transcripts are stored either way (redacted).

    ``disabled_prefixes``: E.164 prefixes of caller numbers whose calls are never recorded
    (e.g. ``("+49",)`` where the merchant has no consent flow for Germany).
    """

    enabled: bool = True
    disabled_channels: tuple[str, ...] = ()
    disabled_prefixes: tuple[str, ...] = field(default_factory=tuple)

    def allows(self, ctx: CallContext) -> bool:
        if not self.enabled or ctx.channel in self.disabled_channels or ctx.extra.get("mode") == "text":
            return False  # a typed in-app session has no audio to record
        number = (ctx.caller_number or "").replace(" ", "")
        return not any(number.startswith(p.replace(" ", "")) for p in self.disabled_prefixes if p)
