"""Multilingual language understanding for caller turns: keyword rules backed by a small
naive-Bayes classifier trained in milliseconds from text in the repository (no download).

>>> nlu = Nlu()
>>> r = nlu.understand("order number four five seven one two hasn't arrived", "en")
>>> r.slots["order_id"]
'45712'

One :class:`Nlu` per process: it loads the YAML lexicons once, trains each language's
classifier on its first use (under a lock), and is read-only afterwards, so any number of calls
and threads may share it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..nlu_types import LANGUAGES, NluResult
from .blend import blend
from .classifier import TRAINING, IntentClassifier, Prediction, load_examples
from .intents import find_hits, score, vetoed
from .language import detect_language as _detect
from .lexicon import Lexicon, LexiconError, load_lexicon
from .normalize import acronyms, asr_to_text
from .sentiment import assess
from .slots import extract_slots
from .text import normalize

__all__ = ["Nlu", "LexiconError"]

EXPECTABLE = ("order_id", "email", "phone", "confirmation")
ESCALATE_FRUSTRATION = 0.85


class Nlu:
    """Intent, slots, language and sentiment of one caller utterance."""

    def __init__(
        self,
        languages: tuple[str, ...] = LANGUAGES,
        lexicon_dir: Path | None = None,
        *,
        classifier: bool = True,
        examples: Path | tuple[Path, ...] | None = TRAINING,
        prefer: tuple[str, ...] = (),
    ) -> None:
        """``classifier``: back the keyword rules with the statistical classifier (trained
        lazily, once per language, from ``examples`` and the lexicons); False: rules only.
        ``prefer``: the languages the shop serves; language detection leans to them (see
        :func:`.language.detect_language`), the first is the default when nothing tells."""
        self._lex: dict[str, Lexicon] = {code: load_lexicon(code, lexicon_dir) for code in languages}
        self.languages = tuple(languages)
        self.prefer = tuple(c for c in prefer if c in self._lex)
        self._use_classifier = classifier
        self._examples_path = examples
        self._examples: dict[str, list[tuple[str, str]]] | None = None
        self._classifiers: dict[str, IntentClassifier] = {}
        self._train_lock = threading.Lock()

    def classifier(self, lang: str) -> IntentClassifier:
        """The classifier of one language, trained on first use (thread-safe, then read-only)."""
        clf = self._classifiers.get(lang)
        if clf is None:
            with self._train_lock:
                clf = self._classifiers.get(lang)
                if clf is None:
                    if self._examples is None:
                        self._examples = load_examples(self._examples_path) if self._examples_path else {}
                    clf = IntentClassifier(self._lex[lang], self._examples.get(lang, []))
                    self._classifiers[lang] = clf
        return clf

    def classify(self, text: str, lang: str) -> Prediction:
        """The classifier's view alone (probabilities per intent): for tuning and tests."""
        code = self._resolve_lang(text, lang)
        return self.classifier(code).predict(asr_to_text(text, code))

    def lexicon(self, lang: str) -> Lexicon:
        return self._lex[lang]

    def detect_language(self, text: str) -> str:
        """ISO 639-1 code of ``text`` from its script and function words (the first preferred
        language, else "en", if unsure)."""
        default = self.prefer[0] if self.prefer else "en"
        code = _detect(asr_to_text(text), self._lex, default=default, prefer=self.prefer)
        return code if code in self._lex else self.languages[0]

    def _resolve_lang(self, text: str, lang: str | None) -> str:
        if lang:
            code = lang.lower().replace("_", "-").split("-")[0]
            if code in self._lex:
                return code
        return self.detect_language(text)

    def explain(self, text: str, lang: str) -> list[tuple[str, str, float]]:
        """(intent, pattern, weight) of every lexicon line that fired: for tuning a lexicon."""
        code = self._resolve_lang(text, lang)
        lex = self._lex[code]
        norm = normalize(asr_to_text(text, code), apostrophe=lex.apostrophe)
        hits = find_hits(lex.intents, lex.tokens(norm), norm, lex.decoys)
        return [(h.intent, h.pattern.source, h.pattern.weight) for h in hits]

    def understand(self, text: str, lang: str | None = None, *, expecting: str | None = None) -> NluResult:
        """Read one transcript. ``lang``: the ASR's language if known; ``expecting``: the slot
        the bot just asked for (one of EXPECTABLE), so a bare "4 5 7 1 2" or "sí" is read as such.

        A bare answer to an expected slot (only the slot, no other intent) comes back as
        intent ``affirm`` with the slot filled: the caller gave what was asked.
        """
        if expecting is not None and expecting not in EXPECTABLE:
            raise ValueError(f"expecting must be one of {EXPECTABLE} or None, not {expecting!r}")
        code = self._resolve_lang(text or "", lang)
        lex = self._lex[code]
        if not text or not text.strip():
            return NluResult("out_of_scope", 0.0, code)
        caps = acronyms(text)
        text = asr_to_text(text, code)
        norm = normalize(text, apostrophe=lex.apostrophe)
        tokens = lex.tokens(norm)
        totals = score(lex, tokens, norm, expecting)
        if not totals:  # callers switch languages mid-call ("refund" in a Spanish call)
            for other in dict.fromkeys((self.detect_language(text), "en")):
                if other != code and other in self._lex:
                    olex = self._lex[other]
                    onorm = normalize(text, apostrophe=olex.apostrophe)
                    totals = score(olex, olex.tokens(onorm), onorm, expecting)
                    if totals:
                        break
        slots = extract_slots(norm, tokens, lex, expecting=expecting, email_lexicons=self._lex.values(), caps=caps)
        bare_slot = expecting in ("order_id", "email", "phone") and expecting in slots and not totals
        pred = self.classifier(code).predict(text) if self._use_classifier and not bare_slot else None
        intent, confidence, _ = blend(totals, pred, vetoed=pred is not None and not totals and vetoed(lex, tokens, norm))
        about_order = "order_id" in slots or any(p.find(tokens, norm) for p in lex.order_words)
        if bare_slot:
            intent, confidence = "affirm", 0.8
        elif about_order and ((not totals and intent in ("out_of_scope", "affirm", "greeting", "thanks")) or (set(totals) == {"greeting"} and expecting is None)):
            # "hi, I'm calling about my order", "it's T H 6 2 0 8 4, can you check": talks about an
            # order, nothing more specific (small talk guessed by the classifier alone is no reading)
            intent, confidence = "order_status", 0.45
        mood = assess(lex, tokens, norm, intent)
        escalate = intent == "human_agent" or mood.threat or mood.frustration >= ESCALATE_FRUSTRATION
        return NluResult(
            intent=intent,
            confidence=confidence,
            language=code,
            slots=slots,
            sentiment=mood.sentiment,
            frustration=mood.frustration,
            escalate=escalate,
        )
