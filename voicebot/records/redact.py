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

from voicebot.dialogue.api import CallContext

CARD_MASK = "[card]"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

# 13-19 digits, optionally grouped by single spaces or dashes ("4111 1111 1111 1111").
_CARD = re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
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
            text = _CARD.sub(_card_sub, text)
        if o.emails:
            text = _EMAIL.sub(EMAIL_MASK, text)
        if o.phones:
            text = _PHONE.sub(lambda m: PHONE_MASK if _digit_count(m.group()) >= o.phone_min_digits else m.group(), text)
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
    digits = re.sub(r"\D", "", m.group())
    return CARD_MASK if 13 <= len(digits) <= 19 and luhn_ok(digits) else m.group()


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
        if not self.enabled or ctx.channel in self.disabled_channels:
            return False
        number = (ctx.caller_number or "").replace(" ", "")
        return not any(number.startswith(p.replace(" ", "")) for p in self.disabled_prefixes if p)
