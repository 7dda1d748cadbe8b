"""Compliance guard: checked on everything the bot is about to say, template or LLM.

Three rules, in every language (each language pack's ``guard:`` holds its phrases):

* ``off_platform_payment`` — no steering the caller to pay outside the shop (bank transfer,
  gift cards, crypto, payment apps, links to other sites);
* ``promise_outside_policy`` — no compensation/voucher/discount offers, and every
  "N days/hours" must be a number the knowledge base actually states;
* ``foreign_data`` — no email, phone number, order id, tracking number or case reference that
  the verified caller is not entitled to hear.

What is blocked is replaced by a safe line, logged, and reported as ``Note("guard_blocked")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .languages import packs
from .orders.models import same_phone


def _table(kind: str) -> dict[str, str]:
    return {code: getattr(pack.guard, kind) for code, pack in packs().items() if getattr(pack.guard, kind)}


# Per language, from each pack's ``guard:`` (pack order: English first, the list that applies everywhere).
_OFF_PLATFORM = _table("off_platform")
_PROMISE = _table("promise")
# Words for a span of time, after which a number is a commitment the KB must back.
_DURATION_UNITS = "|".join(_table("duration_units").values())
# Dates are not durations: 6月12日, 12월 3일.
_DATES = re.compile("|".join(dict.fromkeys(_table("dates").values())) or r"(?!)")
_RANGE_WORDS = dict.fromkeys(w for pack in packs().values() for w in pack.guard.range_words)
_RANGE = r"\s*(?:" + "|".join([*map(re.escape, _RANGE_WORDS), "–", "-", "~"]) + r")\s*"
_NUM_BEFORE_UNIT = re.compile(r"(?<![\d.,])(\d{1,3}(?:" + _RANGE + r"\d{1,3})?)\s*(?:" + _DURATION_UNITS + r")", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+?\d[\d \-]{6,}\d")
# Order ids, tracking numbers and case references: a token with at least 4 digits and 5+ chars.
_IDENT = re.compile(r"(?<![A-Za-z0-9-])(?=[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{4,}(?![A-Za-z0-9-])")
_URL = re.compile(r"\b(?:https?://|www\.)([\w.-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class GuardContext:
    """What the caller may hear in this call."""

    allowed: frozenset[str] = frozenset()  # identifiers (order ids, tracking, refs, emails, phones)
    policy_numbers: frozenset[int] = frozenset()  # every number the knowledge base states
    allowed_domains: tuple[str, ...] = ()  # the shop's own web domains


@dataclass(frozen=True)
class GuardVerdict:
    text: str
    blocked: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.blocked


@dataclass
class Guard:
    fallback: dict[str, str] = field(default_factory=dict)  # lang -> safe line (templates' guard_fallback)

    def findings(self, text: str, lang: str, ctx: GuardContext) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        low = text.lower()
        for rule, table in (("off_platform_payment", _OFF_PLATFORM), ("promise_outside_policy", _PROMISE)):
            # The English list applies everywhere: LLMs and code-switching callers mix languages.
            for pattern in {table.get(lang, ""), table.get("en", "")} - {""}:
                if m := re.search(pattern, low, re.IGNORECASE):
                    found.append({"rule": rule, "match": m.group(0)})
        for m in _URL.finditer(text):
            host = m.group(1).lower().rstrip(".")
            if not any(host == d or host.endswith("." + d) for d in ctx.allowed_domains):
                found.append({"rule": "off_platform_payment", "match": m.group(0)})
        stripped = _DATES.sub(" ", _EMAIL.sub(" ", text))
        stripped_ids = _IDENT.sub(" ", stripped)
        for m in _NUM_BEFORE_UNIT.finditer(stripped_ids):
            for n in re.findall(r"\d+", m.group(1)):
                if int(n) not in ctx.policy_numbers:
                    found.append({"rule": "promise_outside_policy", "match": m.group(0).strip()})
        allowed_low = {a.lower() for a in ctx.allowed}
        for m in _EMAIL.finditer(text):
            if m.group(0).lower() not in allowed_low:
                found.append({"rule": "foreign_data", "match": _mask(m.group(0))})
        for m in _PHONE.finditer(_EMAIL.sub(" ", text)):
            digits = re.sub(r"\D", "", m.group(0))
            if len(digits) >= 8 and not any(same_phone(m.group(0), a) for a in ctx.allowed if sum(c.isdigit() for c in a) >= 8):
                if not any(digits == re.sub(r"\D", "", a) for a in ctx.allowed):
                    found.append({"rule": "foreign_data", "match": _mask(m.group(0))})
        for m in _IDENT.finditer(_EMAIL.sub(" ", text)):
            token = m.group(0)
            if token.lower() not in allowed_low and not _PHONE.fullmatch(token):
                found.append({"rule": "foreign_data", "match": _mask(token)})
        return found

    def check(self, text: str, lang: str, ctx: GuardContext) -> GuardVerdict:
        found = self.findings(text, lang, ctx)
        if not found:
            return GuardVerdict(text)
        return GuardVerdict(self.fallback.get(lang) or self.fallback.get("en") or "", tuple(found))


def _mask(value: str) -> str:
    """Enough to find the problem in a log, not enough to leak it again."""
    return value[:2] + "…" + value[-2:] if len(value) > 4 else "…"
