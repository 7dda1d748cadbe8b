"""The statistical classifier behind the keyword rules (it catches the phrasings no rule names): built from text, deterministic,
trained lazily once per language, and kept out of the cases the rules decide on purpose."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu.blend import blend
from voicebot.dialogue.nlu.classifier import TRAINING, IntentClassifier, Prediction, expand_pattern, load_examples
from benchmarks.nlu.train import main as train_main
from benchmarks.nlu.train import overlap, read_rows
from voicebot.dialogue.nlu_types import INTENTS, LANGUAGES

DATA = Path(__file__).parent / "data"
EVALUATION_SETS = sorted(DATA.glob("nlu_*.jsonl"))


def test_training_data_ships_with_the_package() -> None:
    """The classifier learns from each language pack's training.jsonl, data kept by hand in the
    package (nothing under tests/ is read or generated at run time)."""
    assert TRAINING and all(path.parent.parent.name == "languages" and "tests" not in path.parts for path in TRAINING)
    examples = load_examples()
    assert set(examples) == set(LANGUAGES)
    assert all(intent in INTENTS for rows in examples.values() for intent, _ in rows)


def test_training_data_is_disjoint_from_every_evaluation_set() -> None:
    """A sentence trained on measures memory, not understanding: no evaluation line (compared
    as the NLU reads it: case, punctuation, full-width and traditional forms folded) may be in
    the training data."""
    assert {"nlu_blind5.jsonl", "nlu_blind6.jsonl", "nlu_dev5.jsonl"} <= {p.name for p in EVALUATION_SETS}, EVALUATION_SETS
    training = [row for path in TRAINING for row in read_rows(path)]
    for path in EVALUATION_SETS:
        leaked = overlap(training, read_rows(path))
        assert not leaked, f"{path.name}: {len(leaked)} lines also in training.jsonl, e.g. {leaked[:3]}"


def test_overlap_sees_through_formatting(tmp_path, capsys) -> None:
    training = [{"lang": "zh", "intent": "thanks", "text": "谢谢你"}, {"lang": "en", "intent": "thanks", "text": "thank you"}]
    evaluation = [{"lang": "zh", "intent": "thanks", "text": "謝謝你！"}, {"lang": "en", "intent": "thanks", "text": "Thank you."},
                  {"lang": "de", "intent": "thanks", "text": "thank you"}]
    assert [r["text"] for r in overlap(training, evaluation)] == ["謝謝你！", "Thank you."]
    train_file, eval_file = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    train_file.write_text("\n".join(json.dumps(r) for r in training), encoding="utf-8")
    eval_file.write_text("\n".join(json.dumps(r) for r in evaluation), encoding="utf-8")
    assert train_main(["disjoint", str(eval_file), "--training", str(train_file)]) == 1
    assert "2 evaluation lines in the training data" in capsys.readouterr().out
    assert train_main(["disjoint", *map(str, EVALUATION_SETS)]) == 0


def test_lexicon_lines_expand_to_phrases() -> None:
    assert expand_pattern("where package/parcel* @1.5", chars=False) == ["where package", "where parcel"]
    assert expand_pattern("^hi/hello", chars=False) == ["hi", "hello"]
    assert expand_pattern("可以用~付 @2", chars=True) == ["可以用 付"]


def test_deterministic_and_lazy() -> None:
    a, b = Nlu(), Nlu()
    assert a._classifiers == {}  # nothing trained before it is needed
    text = "my bank shows the money went out two times"
    assert a.classify(text, "en") == b.classify(text, "en")
    assert set(a._classifiers) == {"en"}


def test_trained_once_when_shared_by_threads() -> None:
    nlu = Nlu()
    got: list[IntentClassifier] = []
    threads = [threading.Thread(target=lambda: got.append(nlu.classifier("de"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in got}) == 1


@pytest.mark.parametrize(
    ("lang", "text", "intent"),
    [
        ("en", "can somebody real help me", "human_agent"),
        ("en", "it says it was delivered but theres nothing at my door", "not_received"),
        ("es", "me cobraron dos veces lo mismo", "payment_issue"),
        ("zh", "我的快递显示签收了可是我没拿到", "not_received"),
    ],
)
def test_classifier_alone_reads_plain_requests(lang: str, text: str, intent: str) -> None:
    best, p = Nlu().classify(text, lang).best
    assert best == intent and 0.0 < p <= 1.0


def _pred(intent: str, p: float, evidence: float = 30.0) -> Prediction:
    rest = (1.0 - p) / (len(INTENTS) - 1)
    return Prediction({k: (p if k == intent else rest) for k in INTENTS}, known=20, evidence=evidence)


def test_blend_rules_first_classifier_when_they_find_nothing() -> None:
    # the rules found one clear intent: it stands, whatever the classifier says
    assert blend({"cancel_order": 2.0}, _pred("order_status", 0.99))[0] == "cancel_order"
    # the rules found nothing: a confident classifier decides, with a confidence below the rules'
    intent, conf, source = blend({}, _pred("payment_issue", 0.95))
    assert (intent, source) == ("payment_issue", "classifier") and 0.5 < conf <= 0.9
    # ... but not a weak one, nor one without evidence (nonsense made of common words)
    assert blend({}, _pred("payment_issue", 0.3))[0] == "out_of_scope"
    assert blend({}, _pred("payment_issue", 0.6, evidence=3.0))[0] == "out_of_scope"
    # ... nor against a negation or decoy the rules saw
    assert blend({}, _pred("damaged_item", 0.99), vetoed=True)[0] == "out_of_scope"
    # two requests close together: the classifier breaks the tie among the rules' candidates
    assert blend({"return_refund": 2.0, "damaged_item": 1.5}, _pred("damaged_item", 0.9))[0] == "damaged_item"
    # small-talk conventions of the rules stand ("no, that's all, thanks" is a goodbye)
    assert blend({"goodbye": 2.5, "thanks": 2.0}, _pred("thanks", 0.99))[0] == "goodbye"
    # no classifier: the rules alone, as before
    assert blend({"thanks": 2.0}, None) == ("thanks", blend({"thanks": 2.0}, None)[1], "rules")


def test_rules_only_mode_and_negation() -> None:
    rules = Nlu(classifier=False)
    assert rules.understand("the purple elephant plays the saxophone", "en").intent == "out_of_scope"
    assert rules._classifiers == {}
    nlu = Nlu()
    assert nlu.understand("the box is not damaged", "en").intent != "damaged_item"
    assert nlu.understand("盒子没坏", "zh").intent != "damaged_item"


def test_bare_slot_answer_is_not_reclassified() -> None:
    r = Nlu().understand("four five seven one two", "en", expecting="order_id")
    assert r.intent == "affirm" and r.slots["order_id"] == "45712"
