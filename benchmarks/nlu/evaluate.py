"""Score the NLU on a JSON-lines test set and print per-language figures.

    python -m benchmarks.nlu.evaluate tests/dialogue/data/nlu_testset.jsonl

Each line: ``{"text", "lang", "intent", "order_id"?, "escalate"?}``. Reported per language:
intent accuracy, order-id exact match (over lines that carry an ``order_id``; a line without
one counts as wrong if an id is invented), escalation accuracy, and language detection
accuracy (the same text read with ``lang=None``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from voicebot.dialogue.nlu import Nlu


@dataclass
class LangScore:
    n: int = 0
    intent_ok: int = 0
    ids: int = 0
    id_ok: int = 0
    id_invented: int = 0
    esc_ok: int = 0
    detect_ok: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: LangScore) -> None:
        for k in ("n", "intent_ok", "ids", "id_ok", "id_invented", "esc_ok", "detect_ok"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def intent_acc(self) -> float:
        return self.intent_ok / self.n if self.n else 0.0

    @property
    def id_em(self) -> float:
        return self.id_ok / self.ids if self.ids else 1.0


def load_cases(path: Path) -> list[dict]:
    cases = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{no}: not JSON ({exc})") from exc
        if not {"text", "lang", "intent"} <= set(case):
            raise ValueError(f"{path}:{no}: needs text, lang and intent")
        cases.append(case)
    return cases


def evaluate(cases: Iterable[dict], nlu: Nlu | None = None) -> dict[str, LangScore]:
    nlu = nlu or Nlu()
    scores: dict[str, LangScore] = {}
    for c in cases:
        s = scores.setdefault(c["lang"], LangScore())
        r = nlu.understand(c["text"], c["lang"])
        s.n += 1
        got_id = r.slots.get("order_id")
        if r.intent == c["intent"]:
            s.intent_ok += 1
        else:
            s.misses.append(f"intent {r.intent} != {c['intent']}: {c['text']}")
        if "order_id" in c:
            s.ids += 1
            if got_id == c["order_id"]:
                s.id_ok += 1
            else:
                s.misses.append(f"order_id {got_id} != {c['order_id']}: {c['text']}")
        elif got_id:
            s.id_invented += 1
            s.misses.append(f"order_id {got_id} invented: {c['text']}")
        if r.escalate == bool(c.get("escalate", False)):
            s.esc_ok += 1
        else:
            s.misses.append(f"escalate {r.escalate}: {c['text']}")
        detected = nlu.detect_language(c["text"])
        if detected == c["lang"]:
            s.detect_ok += 1
        else:
            s.misses.append(f"language {detected}: {c['text']}")
    return scores


def report(scores: dict[str, LangScore], verbose: bool = False) -> str:
    lines = [f"{'lang':<6}{'n':>4}{'intent':>9}{'order_id':>10}{'ids':>5}{'invented':>9}{'escalate':>10}{'lang-id':>9}"]
    total = LangScore()
    for lang in sorted(scores):
        s = scores[lang]
        total.add(s)
        lines.append(_row(lang, s))
        if verbose:
            lines += [f"        - {m}" for m in s.misses]
    lines.append(_row("TOTAL", total))
    return "\n".join(lines)


def _row(name: str, s: LangScore) -> str:
    return (
        f"{name:<6}{s.n:>4}{s.intent_acc:>9.1%}{s.id_em:>10.1%}{s.ids:>5}{s.id_invented:>9}"
        f"{(s.esc_ok / s.n if s.n else 0):>10.1%}{(s.detect_ok / s.n if s.n else 0):>9.1%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nlu.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path, help="JSON-lines test set")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args(argv)
    try:
        cases = load_cases(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(evaluate(cases), verbose=args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
