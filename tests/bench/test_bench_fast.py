"""`voicebot bench --fast` on the smoke set: the CI gate, in virtual time (well under a minute)."""

import argparse
import json
import textwrap
from pathlib import Path

import pytest

from benchmarks.harness.cli import add_arguments, run
from benchmarks.harness.scenario import shared_audio_dir

ROOT = Path(__file__).resolve().parents[2]


def bench_args(tmp_path, dev_models_dir, *paths, extra=()):
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"home: {tmp_path}\nmodels:\n  dir: {dev_models_dir}\n  asr: whisper-tiny\n  build_dev_if_missing: false\n")
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    add_arguments(p)
    return p.parse_args(["--config", str(cfg), *map(str, paths), "--out", str(tmp_path / "out"), "--fast", "--no-progress", *extra])


@pytest.fixture
def need_audio():
    if not (shared_audio_dir() / "manifest.json").is_file():
        pytest.skip("../shared/audio is missing")


def test_the_smoke_set_passes_in_virtual_time(tmp_path, dev_models_dir, need_audio):
    rc = run(bench_args(tmp_path, dev_models_dir, ROOT / "benchmarks" / "scenarios", extra=("--asr", "oracle")))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    failed = {s["name"]: [c for c in s["checks"] if c["ok"] is False] for s in report["scenarios"] if not s["passed"]}
    assert rc == 0, failed
    s = report["summary"]
    for key in ("v2v_p50_ms", "v2v_p95_ms", "barge_in_p50_ms", "barge_in_p95_ms", "false_barge_in_rate", "missed_barge_in_rate",
                "intent_accuracy", "task_success", "wer", "dev_models", "stages_p50_ms"):
        assert key in s
    assert s["asr"] == "oracle" and s["wer"] is None and s["dev_models"] is False
    assert s["intent_accuracy"] == 1.0 and s["task_success"] == 1.0
    assert s["v2v_n"] >= 8 and s["barge_in_n"] >= 1 and s["missed_barge_in_rate"] == 0.0 and s["false_barge_in_rate"] == 0.0
    assert all(s["stages_p50_ms"][k] is not None for k in ("vad_end_of_turn", "dialogue", "tts_first_audio"))
    assert report["meta"]["mode"] == "fast (virtual clock)"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| v2v_p50_ms |" in md and (tmp_path / "out" / "v2v_hist.png").stat().st_size > 1000


def test_a_failed_expectation_fails_the_run(tmp_path, dev_models_dir):
    sc = tmp_path / "wrong.yaml"
    sc.write_text(textwrap.dedent("""
        name: wrong-expectation
        language: en
        turns:
          - text: "where is my order 45712"
            expect_intent: cancel_order
        expect:
          handoff: true
    """))
    rc = run(bench_args(tmp_path, dev_models_dir, sc, extra=("--asr", "oracle", "--no-plots")))
    assert rc == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    checks = {c["check"]: c for c in report["scenarios"][0]["checks"]}
    assert checks["turn0.intent"]["actual"] == "order_status" and checks["turn0.intent"]["ok"] is False
    assert checks["handoff"]["ok"] is False and report["summary"]["task_success"] == 0.0


def test_bad_scenarios_are_refused_before_anything_runs(tmp_path, dev_models_dir, capsys):
    sc = tmp_path / "bad.yaml"
    sc.write_text("name: bad\nlanguage: en\nturns: [{when: at}]\n")
    assert run(bench_args(tmp_path, dev_models_dir, sc)) == 2
    assert "nothing was run" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert run(bench_args(tmp_path, dev_models_dir, ROOT / "benchmarks" / "scenarios", extra=("--baseline", "stock"))) == 2


def test_concurrent_copies_of_a_call_give_the_same_virtual_timeline(tmp_path, dev_models_dir, need_audio):
    rc = run(bench_args(tmp_path, dev_models_dir, ROOT / "benchmarks" / "scenarios" / "parcel-stuck-es.yaml",
                        extra=("--asr", "oracle", "--concurrency", "3", "--no-plots")))
    assert rc == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    calls = report["scenarios"]
    assert [c["call_id"] for c in calls] == [f"ours-parcel-stuck-es-{i}" for i in range(3)]
    timelines = {tuple(t.get("v2v_ms") for t in c["turns"]) for c in calls}
    assert len(timelines) == 1 and report["summary"]["v2v_n"] == 3
