"""The NLU measured on sentences it was never trained on (see data/README.md).

Evaluation sets, none of them in the classifier's training data (test_nlu_classifier checks):
nlu_blind6 (written as Whisper transcribes phone callers, 12 order ids a language, before the
fr / ar number work; never tuned on), nlu_heldout3 and nlu_blind (older blind sets; nlu_heldout3
shares a few common phrases with lines the lexicons were once tuned on), nlu_dev5 and nlu_blind5
(the sets the lexicons and the normaliser were tuned on, blind5 since blind6 was written: their
floors are regression guards, not generalisation figures).
The sets the lexicons were tuned on before are now the packaged training data
(each language pack's training.jsonl) and are not scored here: that would measure memory.

Floors are the measured figures rounded down: raise one when a change really lifts it; never
tune on a blind set to do so (write a new one instead, before changing the code).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu.classifier import TRAINING
from benchmarks.nlu.evaluate import LangScore, evaluate, load_cases, main, report
from voicebot.dialogue.nlu_types import INTENTS, LANGUAGES

DATA = Path(__file__).parent / "data"

# (intent whole set, intent lowest language, order-id whole set, order-id lowest language),
# measured (see data/README.md) and rounded down. blind6 is below the 95% / 90% target (intent
# 93.8%, lowest fr 83.3%; order id 94.0%, lowest it 75.0%): pinned as measured, not tuned away.
FLOORS = {
    "nlu_blind6.jsonl": (0.93, 0.83, 0.94, 0.75),
    "nlu_blind5.jsonl": (0.99, 0.95, 0.98, 0.83),  # tuned on since blind6 was written: a regression guard
    "nlu_heldout3.jsonl": (0.97, 0.92, 0.99, 0.99),
    "nlu_blind.jsonl": (0.98, 0.75, 0.99, 0.99),
    "nlu_dev5.jsonl": (0.99, 0.95, 0.99, 0.95),  # tuned on: a regression guard
}


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


def _total(scores: dict[str, LangScore]) -> LangScore:
    total = LangScore()
    for s in scores.values():
        total.add(s)
    return total


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_floors(nlu: Nlu, name: str) -> None:
    intent_all, intent_lang, id_all, id_lang = FLOORS[name]
    scores = evaluate(load_cases(DATA / name), nlu)
    total = _total(scores)
    print(f"\n{name}\n" + report(scores))
    assert total.intent_acc >= intent_all - 1e-9, report(scores, verbose=True)
    assert total.id_em >= id_all - 1e-9, report(scores, verbose=True)
    for lang, s in scores.items():
        assert s.intent_acc >= intent_lang - 1e-9, (name, lang, s.misses)
        assert s.id_em >= id_lang - 1e-9, (name, lang, s.misses)
        assert s.id_invented == 0, (name, lang, s.misses)


@pytest.mark.parametrize(("name", "per_lang", "ids_per_lang"),
                         [("nlu_blind6.jsonl", 24, 12), ("nlu_blind5.jsonl", 24, 1), ("nlu_dev5.jsonl", 21, 1), ("nlu_heldout3.jsonl", 20, 1)])
def test_set_shape(name: str, per_lang: int, ids_per_lang: int) -> None:
    cases = load_cases(DATA / name)
    counts = {lang: sum(c["lang"] == lang for c in cases) for lang in LANGUAGES}
    assert all(n >= per_lang for n in counts.values()), counts
    assert all(c["intent"] in INTENTS for c in cases)
    ids = {lang: sum(c["lang"] == lang and "order_id" in c for c in cases) for lang in LANGUAGES}
    assert all(n >= ids_per_lang for n in ids.values()), ids  # blind6: a language's id figure means something


def test_training_order_ids_still_read(nlu: Nlu) -> None:
    """Order ids are read by rules, not learned, so the training lines that carry one are a fair
    regression check for the number readers (their intents are not scored: trained on)."""
    cases = [c for path in TRAINING for c in load_cases(path) if "order_id" in c]
    assert len(cases) >= 100
    wrong = [(c["text"], nlu.understand(c["text"], c["lang"]).slots.get("order_id"), c["order_id"]) for c in cases
             if nlu.understand(c["text"], c["lang"]).slots.get("order_id") != c["order_id"]]
    assert len(wrong) <= len(cases) // 50, wrong


def test_evaluate_command(capsys) -> None:
    assert main([str(DATA / "nlu_blind5.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "TOTAL" in out and all(f"\n{lang} " in out for lang in LANGUAGES)


def test_evaluate_bad_file(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi"}\n', encoding="utf-8")
    assert main([str(bad)]) == 2
    assert "needs text, lang and intent" in capsys.readouterr().err
