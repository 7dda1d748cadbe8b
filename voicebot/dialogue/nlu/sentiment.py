"""Per-turn sentiment and frustration from the lexicon's sentiment lists."""

from __future__ import annotations

from dataclasses import dataclass

from .intents import find_hits
from .lexicon import Lexicon


@dataclass(frozen=True)
class Mood:
    sentiment: str  # positive | neutral | negative | angry
    frustration: float  # 0..1, this turn only
    threat: bool  # bad review, chargeback / dispute, lawyer: a human must take over


def assess(lex: Lexicon, tokens: list[str], text: str, intent: str) -> Mood:
    counts = {k: 0.0 for k in ("positive", "negative", "angry", "threat", "repeated")}
    for h in find_hits(lex.sentiment, tokens, text):
        counts[h.intent] += h.pattern.weight
    frustration = 0.2 * counts["negative"] + 0.45 * counts["angry"] + 0.35 * counts["repeated"] + 0.9 * counts["threat"]
    if intent == "complaint":
        frustration += 0.2
    frustration = min(1.0, frustration)
    if counts["angry"] or frustration >= 0.7:
        sentiment = "angry"
    elif counts["negative"] or counts["repeated"] or counts["threat"] or intent == "complaint":
        sentiment = "negative"
    elif counts["positive"] or intent == "thanks":
        sentiment = "positive"
    else:
        sentiment = "neutral"
    return Mood(sentiment, round(frustration, 3), counts["threat"] > 0)
