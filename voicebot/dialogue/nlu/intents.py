"""Intent scoring: weighted keyword patterns from the lexicon, best total wins."""

from __future__ import annotations

from dataclasses import dataclass

from ..nlu_types import INTENTS
from .lexicon import Lexicon
from .patterns import Pattern, Span

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


def find_hits(patterns: dict[str, tuple[Pattern, ...]], tokens: list[str], text: str) -> list[Hit]:
    """All matching patterns, minus those lying inside a longer match of another key
    ("ไม่ใช่" = "not yes" hides the "ใช่" it contains; "not received" hides "received")."""
    hits = [Hit(k, p, s) for k, pats in patterns.items() for p in pats if (s := p.find(tokens, text)) is not None]
    kept = []
    for h in hits:
        a, b = h.span
        covered = any(
            o.intent != h.intent and o.span[0] <= a and b <= o.span[1] and (o.span[1] - o.span[0]) > (b - a)
            for o in hits
        )
        if not covered:
            kept.append(h)
    return kept


def score(lex: Lexicon, tokens: list[str], text: str, expecting: str | None = None) -> dict[str, float]:
    """Total weight per intent for one utterance (only intents with a hit)."""
    totals: dict[str, float] = {}
    for h in find_hits(lex.intents, tokens, text):
        totals[h.intent] = totals.get(h.intent, 0.0) + h.pattern.weight
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
