"""Rules and classifier together: the keyword rules decide precise cases, the classifier
decides when the rules found nothing or hesitate between intents.

* Rules found nothing: the classifier's intent if it is confident enough (else out_of_scope).
* Rules found one clear intent: kept (negation, decoys and tie-breaks live in the rules).
* Rules found several requests (not small talk) with a small margin: the rule shares and the
  classifier's probabilities are added and the best of the rules' candidates wins.

The confidence is the probability that the answer is right as measured on labelled sets the
classifier was not trained on (leave-one-set-out), so a caller of :class:`Nlu` can put a
threshold on it.
"""

from __future__ import annotations

from .classifier import Prediction
from .intents import SOCIAL, decide

ALONE_MIN_P = 0.4  # classifier alone (no rule fired): below this, out_of_scope (swept on untuned data)
ALONE_MIN_FEATURES = 2  # ... and it must know at least this many features of the utterance
ALONE_MIN_EVIDENCE = 15.0  # ... and this much evidence (log-likelihood ratio, see Prediction)
SURE_P, SURE_MIN_EVIDENCE = 0.9, 0.0  # or a very clear winner with some evidence
CONFLICT_MARGIN = 0.5  # rules hesitate: second-best total >= (1 - this) x best total
CLASSIFIER_SHARE = 1.0  # weight of the classifier's probability against the rule share


def blend(totals: dict[str, float], pred: Prediction | None, *, vetoed: bool = False) -> tuple[str, float, str]:
    """(intent, confidence, source) with source one of "rules", "classifier", "both", "none".
    ``vetoed``: the rules ruled something out on purpose (a negation, a decoy): no classifier
    guess then when they found nothing else."""
    if pred is None:
        intent, conf = decide(totals)
        return intent, conf, "rules" if totals else "none"
    if not totals:
        best, p = pred.best
        confident = (p >= ALONE_MIN_P and pred.evidence >= ALONE_MIN_EVIDENCE) or (
            p >= SURE_P and pred.evidence >= SURE_MIN_EVIDENCE
        )
        if not vetoed and best != "out_of_scope" and confident and pred.known >= ALONE_MIN_FEATURES:
            return best, round(min(0.9, 0.2 + 0.7 * p), 3), "classifier"
        return "out_of_scope", 0.3, "none"
    intent, conf = decide(totals)
    # requests only: the rules' small-talk conventions ("thanks, that's all" is a goodbye) stand
    asks = {k: v for k, v in totals.items() if k not in SOCIAL}
    ranked = sorted(asks.values(), reverse=True)
    if intent in asks and len(ranked) > 1 and ranked[1] >= (1 - CONFLICT_MARGIN) * ranked[0]:
        whole = sum(asks.values())
        combined = {k: v / whole + CLASSIFIER_SHARE * pred.probs.get(k, 0.0) for k, v in asks.items()}
        pick = max(combined, key=lambda k: (combined[k], totals[k]))
        if pick != intent:
            return pick, round(min(0.9, 0.3 + 0.5 * pred.probs.get(pick, 0.0)), 3), "both"
        return intent, round(max(conf, min(0.95, 0.3 + 0.6 * pred.probs.get(intent, 0.0))), 3), "both"
    agree = pred.probs.get(intent, 0.0)
    return intent, round(min(0.98, conf + 0.1 * agree), 3), "rules"
