"""Intent scoring: weighted keyword patterns from the lexicon, best total wins."""

from __future__ import annotations

from dataclasses import dataclass

from ..nlu_types import INTENTS
from .lexicon import Lexicon
from .patterns import Cells, Pattern, Span

SOCIAL = ("greeting", "goodbye", "thanks", "affirm", "deny")
# Tie-break: the more specific problem first, small talk last.
PRIORITY = (
    "not_received", "shipping_delay", "damaged_item", "payment_issue", "cancel_order", "change_address",
    "return_refund", "human_agent", "order_status", "product_question", "complaint",
    "goodbye", "thanks", "greeting", "deny", "affirm", "out_of_scope",
)
assert set(PRIORITY) == set(INTENTS)


@dataclass(frozen=True)
class Hit:
    intent: str
    pattern: Pattern
    span: Span
    cells: Cells

    @property
    def strength(self) -> tuple[int, int]:
        """More words used first, then the tighter match: "terima kasih" (two words side by
        side) beats "tidak ... terima" (two words three apart) for the "terima" they share."""
        return len(self.cells), -(self.span[1] - self.span[0])


DECOY = "(decoy)"


def find_hits(
    patterns: dict[str, tuple[Pattern, ...]], tokens: list[str], text: str, decoys: tuple[Pattern, ...] = ()
) -> list[Hit]:
    """All matching patterns, minus those that share a word with a stronger match of another
    key ("ไม่ใช่" = "not yes" hides the "ใช่" it contains; "not received" hides "received";
    "terima kasih" (thank you) hides the "terima" (receive) of "tidak ... terima"). Only the
    words a match used count, not the gap inside it: "đổi ... hàng" does not hide "địa chỉ".
    ``decoys`` compete the same way but score nothing: "ช้าง" (elephant) hides "ช้า" (slow)."""
    keyed = [*patterns.items(), (DECOY, decoys)]
    hits = [Hit(k, p, m[0], m[1]) for k, pats in keyed for p in pats if (m := p.match(tokens, text)) is not None]
    return [
        h for h in hits
        if h.intent != DECOY
        and not any(o.intent != h.intent and o.cells & h.cells and o.strength > h.strength for o in hits)
    ]


# Problems that a negation right before the keyword denies: "it is not damaged", "没坏".
# (Not refund/cancel: "I haven't had my refund" is still about the refund.)
NEGATABLE = ("damaged_item", "complaint")
NEGATION_REACH = 2  # words (word mode) or 3 characters (char mode) before the keyword


def negated(lex: Lexicon, hit: Hit, tokens: list[str], text: str) -> bool:
    """True when a negator of the language sits just before the first word the hit used and
    the pattern does not spell the negation itself ("not working" is a pattern of its own)."""
    if not lex.negators or any(n in hit.pattern.source.split() for n in lex.negators):
        return False
    first = min(hit.cells)
    if lex.chars:
        if any(n in hit.pattern.source for n in lex.negators):
            return False
        before = text[max(0, first - len(max(lex.negators, key=len)) - 1) : first].replace(" ", "")
        return any(before.endswith(n) for n in lex.negators)
    return any(t in lex.negators for t in tokens[max(0, first - NEGATION_REACH) : first])


def vetoed(lex: Lexicon, tokens: list[str], text: str) -> bool:
    """True when the rules deliberately read nothing into the utterance: a problem keyword was
    negated ("the box is not damaged") or a decoy matched ("ช้าง" elephant, not "ช้า" slow). The
    classifier must not bring back what the rules ruled out."""
    if any(d.match(tokens, text) is not None for d in lex.decoys):
        return True
    hits = find_hits(lex.intents, tokens, text, lex.decoys)
    return any(h.intent in NEGATABLE and negated(lex, h, tokens, text) for h in hits)


def score(lex: Lexicon, tokens: list[str], text: str, expecting: str | None = None) -> dict[str, float]:
    """Total weight per intent for one utterance (only intents with a hit)."""
    totals: dict[str, float] = {}
    for h in find_hits(lex.intents, tokens, text, lex.decoys):
        if h.intent in NEGATABLE and negated(lex, h, tokens, text):
            continue
        totals[h.intent] = totals.get(h.intent, 0.0) + h.pattern.weight
    if "damaged_item" in totals:
        # "it arrived broken, I want a refund": a damaged or wrong item has its own playbook
        # (a claim, often no return shipment), whatever remedy the caller names
        totals.pop("return_refund", None)
    substantive = [k for k in totals if k not in SOCIAL and k not in ("complaint", "out_of_scope")]
    if substantive:
        for k in SOCIAL:
            if k in totals:
                totals[k] *= 0.5  # "hi, I want to cancel" is about the cancel
        if "complaint" in totals:
            totals["complaint"] *= 0.6  # a named problem beats general unhappiness
        if "out_of_scope" in totals:
            totals["out_of_scope"] *= 0.5
    elif "goodbye" in totals:
        # "no thanks, bye" / "thank you, goodbye": a closing turn is a goodbye whatever else it says
        totals["goodbye"] = max(totals.values()) + 0.5
    elif "greeting" in totals and set(totals) <= {"greeting", "affirm"} and expecting != "confirmation":
        # "oui allô, bonjour", "네, 여보세요": the yes of someone answering a phone, not an agreement
        totals["greeting"] = max(totals.values()) + 0.5
    if expecting == "confirmation":
        for k in ("affirm", "deny"):
            if k in totals:
                totals[k] *= 1.5
    return totals


def decide(totals: dict[str, float]) -> tuple[str, float]:
    """(intent, confidence); ``out_of_scope`` with low confidence when nothing matched."""
    if not totals:
        return "out_of_scope", 0.3
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], PRIORITY.index(kv[0])))
    (best, s1), s2 = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
    margin = (s1 - s2) / s1 if s1 > 0 else 0.0
    strength = min(1.0, 0.6 + 0.25 * s1)
    return best, round(min(0.98, (0.5 + 0.45 * margin) * strength + 0.05), 3)
