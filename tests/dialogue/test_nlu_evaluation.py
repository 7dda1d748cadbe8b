"""The multilingual test set: intent accuracy and order-id exact match >= 95% per language;
held-out sets keep generalisation from silently regressing (see README of the data below).

Data files: nlu_testset (the targets), nlu_heldout (written before the concept-coverage work,
then used to find gaps: tuned), nlu_heldout2 (written after it, never tuned on: the honest
generalisation figure), nlu_blind / nlu_devset (order ids only asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu.evaluate import evaluate, load_cases, main, report
from voicebot.dialogue.nlu_types import INTENTS, LANGUAGES

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def scores():
    return evaluate(load_cases(DATA / "nlu_testset.jsonl"), Nlu())


def test_testset_shape() -> None:
    cases = load_cases(DATA / "nlu_testset.jsonl")
    by_lang = {lang: [c for c in cases if c["lang"] == lang] for lang in LANGUAGES}
    assert all(len(v) >= 20 for v in by_lang.values()), {k: len(v) for k, v in by_lang.items()}
    assert {c["intent"] for c in cases} == set(INTENTS)
    assert all(c["intent"] in INTENTS for c in cases)


def test_targets_per_language(scores) -> None:
    print("\n" + report(scores))
    for lang in LANGUAGES:
        s = scores[lang]
        assert s.intent_acc >= 0.95, f"{lang}: intent accuracy {s.intent_acc:.1%}: {s.misses}"
        assert s.id_em >= 0.95, f"{lang}: order-id exact match {s.id_em:.1%}: {s.misses}"
        assert s.id_invented == 0, f"{lang}: invented order ids: {s.misses}"


def test_evaluate_command(capsys) -> None:
    assert main([str(DATA / "nlu_testset.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "TOTAL" in out and all(f"\n{lang} " in out for lang in LANGUAGES)


def test_evaluate_bad_file(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi"}\n', encoding="utf-8")
    assert main([str(bad)]) == 2
    assert "needs text, lang and intent" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["nlu_devset.jsonl", "nlu_blind.jsonl", "nlu_heldout.jsonl", "nlu_heldout2.jsonl"])
def test_order_ids_generalise(name: str) -> None:
    """Order ids hold up on sets the lexicons were not written for; intent accuracy there is
    reported by the evaluate command, not asserted (see nlu_blind.jsonl: never tuned on)."""
    scores = evaluate(load_cases(DATA / name), Nlu())
    for lang, s in scores.items():
        assert s.id_em >= 0.95 and s.id_invented == 0, (lang, s.misses)


# Floors measured when nlu_heldout2.jsonl was written (never tuned on): 73.2% overall (75.0% after
# the fr/it elision fix its misses revealed), lowest
# language 50%. They catch regressions; raise them only with a NEW untouched set.
HELDOUT2_TOTAL_FLOOR = 0.70
HELDOUT2_LANG_FLOOR = 0.50


@pytest.mark.parametrize(("name", "per_lang"), [("nlu_heldout.jsonl", 15), ("nlu_heldout2.jsonl", 8)])
def test_heldout_shape(name: str, per_lang: int) -> None:
    cases = load_cases(DATA / name)
    counts = {lang: sum(c["lang"] == lang for c in cases) for lang in LANGUAGES}
    assert all(n >= per_lang for n in counts.values()), counts
    assert all(c["intent"] in INTENTS for c in cases)
    if name == "nlu_heldout.jsonl":
        assert {c["intent"] for c in cases} == set(INTENTS)


def test_heldout_tuned_set_stays_high() -> None:
    """nlu_heldout was used to find concept gaps, so it is a regression guard, not a measure."""
    scores = evaluate(load_cases(DATA / "nlu_heldout.jsonl"), Nlu())
    for lang, s in scores.items():
        assert s.intent_acc >= 0.9, (lang, s.misses)
        assert s.id_em >= 0.95 and s.id_invented == 0, (lang, s.misses)


def test_heldout2_never_tuned_floor() -> None:
    scores = evaluate(load_cases(DATA / "nlu_heldout2.jsonl"), Nlu())
    print("\n" + report(scores))
    ok = sum(s.intent_ok for s in scores.values())
    total = sum(s.n for s in scores.values())
    assert ok / total >= HELDOUT2_TOTAL_FLOOR, report(scores, verbose=True)
    for lang, s in scores.items():
        assert s.intent_acc >= HELDOUT2_LANG_FLOOR, (lang, s.misses)
        assert s.id_em >= 0.95 and s.id_invented == 0, (lang, s.misses)
