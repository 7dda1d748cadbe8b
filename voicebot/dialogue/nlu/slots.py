"""Slot extraction: order id, phone, e-mail and product hints from a normalised transcript."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .lexicon import Lexicon
from .normalize import letter_before, spelled_letter, spelled_prefix
from .numbers import NumberRun, number_runs

MIN_ORDER_DIGITS = 4  # shorter numbers are quantities, days, times ("ten days", "2 pairs")
MIN_ORDER_DIGITS_ASKED = 3  # when the bot just asked for the order number
MIN_PHONE_DIGITS = 7
_EMAIL_RE = re.compile(r"[a-z0-9][a-z0-9._+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)+")


def _letters_around(normalized: str, run: NumberRun, lex: Lexicon, caps: frozenset[str]) -> tuple[str, str]:
    """Letters spelled right before the number ("j d 4 5 1 9 3", "ジェーピー 7 3 0 5 9") and a
    capital letter right after it ("A 4 4 1 7 R"): the parts of an alphanumeric order id."""
    if lex.numbers.scan:
        before, after = normalized[: run.first], normalized[run.end :]
    else:
        words = normalized.split()
        before, after = " ".join(words[: run.first]), " ".join(words[run.end :])
    prefix = spelled_prefix(before, lex, caps)
    nxt = after.split()[:1]
    after_letter = spelled_letter(nxt[0], lex, caps) if nxt else None
    if after_letter is None:
        return prefix, ""
    suffix, weak = after_letter
    if prefix:
        return prefix, suffix
    # letter, digits, letter ("إيه 6172 إم", "a 4417 r"): each letter vouches for the other,
    # so one of the two may be an everyday word; both weak is a sentence, not an id
    first = letter_before(before, lex, caps)
    if first is not None and not (first[1] and weak):
        return first[0], suffix
    return "", ""


def _has(patterns: Iterable[Any], tokens: list[str], text: str) -> bool:
    return any(p.find(tokens, text) is not None for p in patterns)


def _phone(run: NumberRun) -> str:
    d = run.digits
    if run.plus:
        return "+" + d
    if d.startswith("00") and len(d) > 9:
        return "+" + d[2:]
    return d


def _join_email_words(words: list[str], at: int, lex_words: dict[str, frozenset[str]]) -> str | None:
    """ "john dot smith at gmail dot com" -> "john.smith@gmail.com" (``at`` is the index of "at")."""
    joiners = {".": lex_words["dot"], "_": lex_words["underscore"], "-": lex_words["dash"]}

    def joiner(w: str) -> str | None:
        return next((sym for sym, ws in joiners.items() if w in ws), None)

    def plain(w: str) -> bool:
        return w.isascii() and w.replace(".", "").isalnum()

    # domain: word (dot word)+
    dom: list[str] = []
    j = at + 1
    while j < len(words) and plain(words[j]) and joiner(words[j]) is None:
        dom.append(words[j])
        if j + 2 < len(words) and joiner(words[j + 1]) == "." or (j + 2 < len(words) and joiner(words[j + 1]) == "-"):
            dom.append(joiner(words[j + 1]) or ".")
            j += 2
            continue
        break
    domain = "".join(dom)
    if "." not in domain or domain.endswith((".", "-")):
        return None
    # local part, read backwards: word (joiner word)* ; single spelled letters glue together
    loc: list[str] = []
    i = at - 1
    while i >= 0 and plain(words[i]) and joiner(words[i]) is None:
        loc.append(words[i])
        if len(words[i]) == 1:
            k = i - 1
            while k >= 0 and len(words[k]) == 1 and words[k].isascii() and words[k].isalnum():
                loc.append(words[k])
                k -= 1
            i = k + 1
        if i - 2 >= 0 and joiner(words[i - 1]) and plain(words[i - 2]):
            loc.append(joiner(words[i - 1]) or ".")
            i -= 2
            continue
        break
    if not loc:
        return None
    return "".join(reversed(loc)) + "@" + domain


def extract_email(normalized: str, lexicons: Iterable[Lexicon]) -> str | None:
    m = _EMAIL_RE.search(normalized)
    if m:
        return m.group(0)
    lexs = list(lexicons)
    words = normalized.split()
    lex_words = {
        "at": frozenset({"@", *(w for lx in lexs for w in lx.email_at)}),
        "dot": frozenset({".", *(w for lx in lexs for w in lx.email_dot)}),
        "underscore": frozenset(w for lx in lexs for w in lx.email_underscore),
        "dash": frozenset(w for lx in lexs for w in lx.email_dash),
    }
    for i, w in enumerate(words):
        if w in lex_words["at"]:
            email = _join_email_words(words, i, lex_words)
            if email:
                return email
    return None


def extract_product_hint(tokens: list[str], text: str, lex: Lexicon) -> str | None:
    """Color plus the neighbouring noun ("red coat", "abrigo rojo", "红色大衣")."""
    if lex.chars:
        for color in lex.colors:
            k = text.find(color)
            if k >= 0:
                return text[max(0, k - 4) : k + len(color) + 4].strip()
        return None
    for i, t in enumerate(tokens):
        if t in lex.colors:
            j = i + 1 if lex.color_first else i - 1  # "red coat" / "abrigo rojo"
            noun = tokens[j] if 0 <= j < len(tokens) and tokens[j] not in lex.function_words else None
            if noun is None:
                return t
            return f"{t} {noun}" if lex.color_first else f"{noun} {t}"
    return None


def extract_slots(
    normalized: str, tokens: list[str], lex: Lexicon, *, expecting: str | None, email_lexicons: Iterable[Lexicon],
    caps: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Order id, phone, e-mail and product hint. ``caps``: the letter groups the ASR wrote in
    capitals (:func:`normalize.acronyms`), which spell an order-id prefix before a number."""
    slots: dict[str, Any] = {}
    runs = number_runs(normalized, lex)
    phone_ctx = expecting == "phone" or _has(lex.phone_words, tokens, normalized)
    email = extract_email(normalized, email_lexicons)
    if email:
        slots["email"] = email
    phone_run = None
    if phone_ctx or any(r.plus for r in runs):
        cands = [r for r in runs if not r.alnum and len(r.digits) >= MIN_PHONE_DIGITS]
        if cands:
            phone_run = max(cands, key=lambda r: len(r.digits))
            slots["phone"] = _phone(phone_run)
    min_len = MIN_ORDER_DIGITS_ASKED if expecting == "order_id" else MIN_ORDER_DIGITS
    best: str | None = None
    for r in runs:
        if r is phone_run or (email and r.digits.lower() in email):
            continue
        if r.alnum:
            cand = r.digits if sum(c.isdigit() for c in r.digits) >= 2 and len(r.digits) >= 4 else None
        elif len(r.digits) >= min_len and (r.written or r.words >= 2):
            prefix, suffix = _letters_around(normalized, r, lex, caps)
            cand = prefix + r.digits + (suffix if prefix else "")
        else:
            cand = None
        if cand and (best is None or len(cand) > len(best)):
            best = cand
    if best:
        slots["order_id"] = best
    hint = extract_product_hint(tokens, normalized, lex)
    if hint:
        slots["product_hint"] = hint
    return slots
