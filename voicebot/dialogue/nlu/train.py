"""Build the classifier's examples file and check the classifier on sets it did not see.

    python -m voicebot.dialogue.nlu.train build   # tests/dialogue/data -> nlu/examples.jsonl
    python -m voicebot.dialogue.nlu.train check   # leave-one-set-out figures, confidence bins
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from .classifier import EXAMPLES, SOURCES, IntentClassifier
from .lexicon import Lexicon, load_lexicon


def build_examples(data_dir: Path, out: Path = EXAMPLES, sources: Iterable[str] = SOURCES) -> int:
    """Write the examples file from labelled sets (sorted, de-duplicated): the build step."""
    rows = set()
    for name in sources:
        for line in (data_dir / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                rows.add((c["lang"], c["intent"], c["text"]))
    lines = [json.dumps({"lang": lang, "intent": i, "text": t}, ensure_ascii=False) for lang, i, t in sorted(rows)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def _check(data_dir: Path) -> None:
    """Leave-one-set-out: train without one labelled set, score the classifier alone on it."""
    sets = {name: [json.loads(x) for x in (data_dir / name).read_text(encoding="utf-8").splitlines() if x.strip()] for name in SOURCES}
    lexes: dict[str, Lexicon] = {}
    for held in SOURCES:
        ok = n = 0
        conf_bins: dict[int, list[int]] = {}
        for lang in sorted({c["lang"] for c in sets[held]}):
            lex = lexes.setdefault(lang, load_lexicon(lang))
            train = [(c["intent"], c["text"]) for name in SOURCES if name != held for c in sets[name] if c["lang"] == lang]
            clf = IntentClassifier(lex, train)
            for c in sets[held]:
                if c["lang"] != lang:
                    continue
                best, p = clf.predict(c["text"]).best
                n += 1
                ok += best == c["intent"]
                conf_bins.setdefault(min(9, int(p * 10)), []).append(best == c["intent"])
        bins = " ".join(f"{b / 10:.1f}:{sum(v)}/{len(v)}" for b, v in sorted(conf_bins.items()))
        print(f"{held:<22} classifier alone {ok}/{n} = {ok / max(1, n):.1%}   by confidence {bins}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voicebot.dialogue.nlu.train", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "check"), help="build: write examples.jsonl; check: leave-one-set-out figures")
    parser.add_argument("--data", type=Path, default=Path("tests/dialogue/data"), help="folder of the labelled JSON-lines sets")
    args = parser.parse_args(argv)
    if args.command == "build":
        n = build_examples(args.data)
        print(f"{EXAMPLES}: {n} examples from {', '.join(SOURCES)}")
    else:
        _check(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())


