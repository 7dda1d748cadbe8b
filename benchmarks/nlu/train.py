"""Check the classifier's training data: cross-validation figures, and that no evaluation
sentence leaked into it.

    python -m benchmarks.nlu.train check                        # 5-fold figures, confidence bins
    python -m benchmarks.nlu.train disjoint tests/dialogue/data/*.jsonl

Each language pack's ``training.jsonl`` is data kept by hand next to its lexicon (a merchant adds
lines there).
Evaluation sets live under tests/ and are never copied into it: a sentence the classifier was
trained on says nothing about how it generalises, so ``disjoint`` (and a test) refuse any line
whose normalised text is in both.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path

from voicebot.dialogue.nlu.classifier import TRAINING, IntentClassifier
from voicebot.dialogue.nlu.lexicon import Lexicon, load_lexicon
from voicebot.dialogue.nlu.normalize import asr_to_text
from voicebot.dialogue.nlu.text import normalize

FOLDS = 5


def read_rows(path: Path) -> list[dict]:
    """JSON lines with at least ``lang``, ``intent`` and ``text``."""
    rows = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{no}: not JSON ({exc})") from exc
        if not {"lang", "intent", "text"} <= set(row):
            raise ValueError(f"{path}:{no}: needs lang, intent and text")
        rows.append(row)
    return rows


def same_key(row: dict) -> tuple[str, str]:
    """What counts as the same sentence: language plus the text as the NLU reads it (case,
    punctuation, full-width forms and traditional characters do not make a new sentence)."""
    return row["lang"], normalize(asr_to_text(row["text"], row["lang"]))


def overlap(training: Iterable[dict], evaluation: Iterable[dict]) -> list[dict]:
    """Evaluation rows whose sentence is also in the training rows."""
    seen = {same_key(r) for r in training}
    return [r for r in evaluation if same_key(r) in seen]


def _fold(row: dict) -> int:
    return zlib.crc32(row["text"].encode("utf-8")) % FOLDS


def crossval(rows: list[dict]) -> tuple[int, int, dict[int, list[bool]]]:
    """k-fold over the training rows, the classifier alone: (right, total, by confidence)."""
    lexes: dict[str, Lexicon] = {}
    ok = n = 0
    bins: dict[int, list[bool]] = {}
    for k in range(FOLDS):
        for lang in sorted({r["lang"] for r in rows}):
            lex = lexes.setdefault(lang, load_lexicon(lang))
            train = [(r["intent"], r["text"]) for r in rows if r["lang"] == lang and _fold(r) != k]
            clf = IntentClassifier(lex, train)
            for r in rows:
                if r["lang"] != lang or _fold(r) != k:
                    continue
                best, p = clf.predict(asr_to_text(r["text"], lang)).best
                n += 1
                ok += best == r["intent"]
                bins.setdefault(min(9, int(p * 10)), []).append(best == r["intent"])
    return ok, n, bins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nlu.train", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("check", "disjoint"), help="check: k-fold figures; disjoint: no evaluation line in the training data")
    parser.add_argument("files", nargs="*", type=Path, help="evaluation sets (for disjoint)")
    parser.add_argument("--training", type=Path, action="append", help="training data (default: every language pack's training.jsonl)")
    args = parser.parse_args(argv)
    sources = tuple(args.training or TRAINING)
    try:
        training = [row for path in sources for row in read_rows(path)]
        if args.command == "check":
            ok, n, bins = crossval(training)
            shown = " ".join(f"{b / 10:.1f}:{sum(v)}/{len(v)}" for b, v in sorted(bins.items()))
            print(f"{len(sources)} file(s): {n} rows, {FOLDS}-fold classifier alone {ok}/{n} = {ok / max(1, n):.1%}   by confidence {shown}")
            return 0
        leaks = [(f, r) for f in args.files for r in overlap(training, read_rows(f))]
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f, r in leaks:
        print(f"{f}: also in the training data: [{r['lang']}] {r['text']}")
    print(f"{len(leaks)} evaluation lines in the training data" if leaks else "training data and evaluation sets are disjoint")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
