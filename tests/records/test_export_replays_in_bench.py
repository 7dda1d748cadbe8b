"""A recorded call, exported as a scenario, replays through the benchmark suite."""

import json
import subprocess
import sys

import yaml

from tests.conftest import ROOT
from tests.pipeline.timeline import OracleTranscriber, speech, timeline
from voicebot.channels.replay import ReplayOptions, replay_call
from voicebot.records.export import export_scenario
from voicebot.records.service import Records
from voicebot.runtime import Runtime


async def test_exported_call_replays_through_voicebot_bench(settings, tmp_path, dev_models_dir):
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    try:
        caller = timeline(12.0, (6.0, speech("en/sb_timit_spk1_snt1.wav")))
        await replay_call(runtime, caller, ReplayOptions(fast=True), call_id="qa-export-1",
                          transcriber=OracleTranscriber(["where is my order"]))
        path = export_scenario(runtime.records.store, "qa-export-1", tmp_path / "scenario")
    finally:
        runtime.close()
        runtime.records.close()
    doc = yaml.safe_load(path.read_text())
    assert doc["turns"] and doc["turns"][0]["text"] == "where is my order"
    assert (path.parent / doc["turns"][0]["audio"]).is_file()  # the caller's own recorded audio

    env = {"VOICEBOT_HOME": str(tmp_path / "home"), "VOICEBOT_MODELS__DIR": str(dev_models_dir), "VOICEBOT_MODELS__ASR": "whisper-tiny",
           "VOICEBOT_MODELS__BUILD_DEV_IF_MISSING": "false", "PATH": "/usr/bin:/bin"}
    out = tmp_path / "bench"
    res = subprocess.run([sys.executable, "-m", "voicebot", "bench", str(path), "--out", str(out), "--fast", "--asr", "oracle",
                          "--pipeline", str(ROOT / "pipelines" / "minimal.yaml")], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in report["scenarios"]] == [doc["name"]]
    assert report["summary"]["v2v_p50_ms"] is not None  # the exported caller was answered
