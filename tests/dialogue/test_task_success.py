"""Task success on scripted multi-turn calls, text -> real NLU -> flows -> SQLite store, through
the DialogueSession interface. Target: >= 95% overall (the task-success bar the project set). The per-language figures come
from `python -m benchmarks.dialogue.evaluate_tasks`."""

from __future__ import annotations

import asyncio
import json

import pytest

from benchmarks.dialogue import evaluate_tasks as ev
from voicebot.dialogue.nlu_types import LANGUAGES


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    outcomes = asyncio.run(ev.evaluate(ev.load_scenarios(), tmp_path_factory.mktemp("tasks")))
    return ev.summarize(outcomes)


def test_scenarios_cover_every_language_and_task() -> None:
    scenarios = ev.load_scenarios()
    assert set(scenarios) == set(LANGUAGES)
    assert len(ev.TASKS) >= 14


def test_task_success_target(report) -> None:
    assert report["tasks"] == len(LANGUAGES) * len(ev.TASKS)
    assert report["rate"] >= 0.95, json.dumps(report["failures"], ensure_ascii=False, indent=1)


def test_every_handoff_and_goodbye_kind_is_exercised(report) -> None:
    # The transfer tasks succeed in most languages (a failure would mean escalation is broken).
    per_task: dict[str, int] = {}
    for t in ev.TASKS:
        per_task[t.name] = len(LANGUAGES) - sum(1 for f in report["failures"] if f["task"] == t.name)
    for name in ("human_agent", "payment_issue", "frustration"):
        assert per_task[name] == len(LANGUAGES), name


def test_cli_reports_per_language(capsys) -> None:
    assert ev.main(["--lang", "en", "--lang", "ja", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["per_language"]) == {"en", "ja"} and out["tasks"] == 2 * len(ev.TASKS)
    assert ev.main(["--scenarios", "/nonexistent.yaml"]) == 2
