"""A small statistical intent classifier that backs up the keyword rules on unseen wording.

Per language, a multinomial naive Bayes over binary sparse features: words, word pairs and
character n-grams (inside words for languages written with spaces; over the running text for
Chinese, Japanese, Thai, Korean and Arabic, so no tokenizer is needed). It is trained, in a few
milliseconds per language, from two sources:

* the labelled utterances in each language pack's ``training.jsonl`` (hand-kept data that
  ships with the package; never generated from the evaluation sets under tests/, and disjoint
  from them: a test checks), and
* every lexicon line, expanded into the short phrases it stands for ("where package/parcel"
  -> "where package", "where parcel"): a merchant's new lexicon line teaches both parts.

Deterministic: no randomness, no file written at run time. Scores are turned into
probabilities with a fixed temperature, calibrated by leave-one-set-out runs (see
``python -m benchmarks.nlu.train check``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..languages import find_pack, packs
from ..nlu_types import INTENTS
from .lexicon import Lexicon
from .patterns import _split_weight
from .text import normalize

# The packs' labelled utterances (voicebot/dialogue/languages/<code>/training.jsonl).
TRAINING: tuple[Path, ...] = tuple(p.training_path for p in packs().values() if p.training_path.is_file())
ALPHA = 0.2  # additive smoothing
TEMPERATURE = 6.0  # log-odds are divided by this before the softmax (calibration)
PHRASE_WEIGHT = 1.0  # a lexicon phrase counts like this many example utterances
MAX_EXPANSIONS = 8  # phrases generated per lexicon line


def features(lex: Lexicon, norm: str) -> set[str]:
    """Sparse binary features of one normalised utterance."""
    tokens = lex.tokens(norm)
    nums = lex.numbers.values
    tokens = ["#" if t.isdigit() or t in nums else t for t in tokens]
    feats: set[str] = set()
    if lex.chars:
        unspaced = _unspaced(lex.code)  # char n-grams over the text with spaces removed
        text = "".join(tokens) if unspaced else " ".join(tokens)
        text = f"<{text}>"
        for n in (1, 2, 3):
            feats.update("c" + text[i : i + n] for i in range(len(text) - n + 1) if text[i : i + n].strip())
        if not unspaced:
            feats.update("w" + t for t in tokens)
        return feats
    feats.update("w" + t for t in tokens)
    feats.update("b" + a + " " + b for a, b in itertools.pairwise(tokens))
    for t in tokens:
        if len(t) < 3 or t == "#":
            continue
        padded = f"<{t}>"
        for n in (3, 4, 5):
            feats.update("c" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return feats


def _unspaced(code: str) -> bool:
    pack = find_pack(code)
    return pack is not None and pack.unspaced


def expand_pattern(source: str, chars: bool) -> list[str]:
    """The plain phrases one lexicon line stands for (wildcards and anchors dropped)."""
    body, _ = _split_weight(source)
    body = body.strip("^$").strip()
    if chars:
        return [" ".join(p for p in body.strip("|").replace("|", "").split("~") if p.strip())]
    options = [[a.strip("*") for a in w.split("/") if a.strip("*")] for w in body.split()]
    if not options or not all(options):
        return []
    return [" ".join(c) for c in itertools.islice(itertools.product(*options), MAX_EXPANSIONS)]


def lexicon_phrases(lex: Lexicon) -> list[tuple[str, str]]:
    """(intent, phrase) for every line of every intent in the lexicon."""
    return [(intent, ph) for intent, pats in lex.intents.items() for p in pats for ph in expand_pattern(p.source, lex.chars)]


@dataclass(frozen=True)
class Prediction:
    probs: dict[str, float]
    known: int  # how many of the utterance's features the model has seen
    # log-likelihood ratio of the best intent against all intents pooled: how much of the
    # utterance speaks for that intent rather than being common words (nonsense stays low)
    evidence: float = 0.0

    @property
    def best(self) -> tuple[str, float]:
        k = max(self.probs, key=lambda i: (self.probs[i], -INTENTS.index(i)))
        return k, self.probs[k]


class IntentClassifier:
    """Naive Bayes over sparse features for one language; immutable once built."""

    def __init__(self, lex: Lexicon, examples: Iterable[tuple[str, str]], *, temperature: float = TEMPERATURE) -> None:
        self.lex = lex
        self.temperature = temperature
        docs: list[tuple[int, set[str], float]] = []
        for intent, text in examples:
            docs.append((INTENTS.index(intent), features(lex, normalize(text, apostrophe=lex.apostrophe)), 1.0))
        for intent, phrase in lexicon_phrases(lex):
            docs.append((INTENTS.index(intent), features(lex, normalize(phrase, apostrophe=lex.apostrophe)), PHRASE_WEIGHT))
        vocab: dict[str, int] = {}
        for _, fs, _ in docs:
            for f in sorted(fs):
                vocab.setdefault(f, len(vocab))
        counts = np.zeros((len(INTENTS), len(vocab) + 1))
        for c, fs, w in docs:
            idx = [vocab[f] for f in fs]
            counts[c, idx] += w
        totals = counts.sum(axis=1, keepdims=True)
        self.vocab = vocab
        # multinomial NB, uniform prior (class sizes reflect how much was written, not callers)
        self.log_p = np.log(counts + ALPHA) - np.log(totals + ALPHA * counts.shape[1])
        self.present = np.array([totals[i, 0] > 0 for i in range(len(INTENTS))])

    def predict(self, text: str) -> Prediction:
        norm = normalize(text, apostrophe=self.lex.apostrophe)
        idx = [self.vocab[f] for f in features(self.lex, norm) if f in self.vocab]
        if not idx:
            return Prediction({"out_of_scope": 1.0}, 0)
        lp = self.log_p[np.ix_(self.present, idx)]
        scores = lp.sum(axis=1)
        best = int(scores.argmax())
        background = np.log(np.exp(lp).mean(axis=0)).sum()
        z = (scores - scores[best]) / self.temperature
        p = np.exp(z)
        p /= p.sum()
        names = [n for n, ok in zip(INTENTS, self.present, strict=True) if ok]
        probs = {names[i]: float(p[i]) for i in range(len(names)) if p[i] > 1e-4}
        return Prediction(probs, len(idx), round(float(scores[best] - background), 3))


def load_examples(path: Path | Iterable[Path] = TRAINING) -> dict[str, list[tuple[str, str]]]:
    """Examples per language from JSON-lines files of {"lang", "intent", "text"} (default: every pack's)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for one in [path] if isinstance(path, Path) else list(path):
        if not one.exists():
            continue
        for line in one.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                if c["intent"] in INTENTS:
                    out.setdefault(c["lang"], []).append((c["intent"], c["text"]))
    return out


__all__ = ["TRAINING", "IntentClassifier", "Prediction", "features", "lexicon_phrases", "load_examples"]
