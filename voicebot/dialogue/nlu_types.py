"""The contract between language understanding (``voicebot.dialogue.nlu``) and the flows.

Intent names are fixed by the product (QA and analytics group calls by them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .languages import pack_codes

INTENTS = (
    "order_status",  # where is my order / when will it ship
    "shipping_delay",  # late, stuck in transit or customs
    "not_received",  # marked delivered but not received
    "return_refund",
    "damaged_item",  # broken, defective, wrong item
    "cancel_order",
    "change_address",
    "product_question",
    "payment_issue",  # charged twice, payment failed
    "complaint",  # dissatisfaction not covered above
    "human_agent",  # asks for a person
    "greeting",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "out_of_scope",
)

# Every language with a pack in voicebot/dialogue/languages/ (en, zh, es, pt, de, fr, it, ru, ja,
# ko, ar, th, id, vi as shipped), in pack order. A shop serves some of them (``shop.languages``).
LANGUAGES = pack_codes()

SENTIMENTS = ("positive", "neutral", "negative", "angry")


@dataclass(frozen=True)
class NluResult:
    """What one caller utterance means.

    ``slots`` keys: ``order_id`` (str, digits or alphanumeric, normalised: "45712"),
    ``email``, ``phone`` (E.164 when a country can be inferred, else digits),
    ``product_hint`` (free words such as "red coat"), ``dtmf`` (digits typed on the keypad).
    ``frustration`` is 0..1 for this turn alone; the flows accumulate it over the call.
    ``escalate`` is True when this utterance alone warrants a human (asks for one, threatens
    a chargeback or a bad review, strong anger).
    """

    intent: str
    confidence: float
    language: str
    slots: dict[str, Any] = field(default_factory=dict)
    sentiment: str = "neutral"
    frustration: float = 0.0
    escalate: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "slots": self.slots,
            "language": self.language,
            "sentiment": self.sentiment,
            "escalate": self.escalate,
        }
