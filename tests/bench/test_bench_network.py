"""`voicebot bench` over real transports: a Twilio Media Stream against the real server, a SIP
call with G.711 RTP against the bot's SIP channel, and an aiortc peer on the in-app channel.

Real time (real sockets, real pacing), so these are marked slow: about a minute and a half.
The Twilio side is written from Twilio's published formats (benchmarks.harness.twilio_peer).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.harness.cli import add_arguments, run
from benchmarks.harness.scenario import shared_audio_dir

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TWILIO = ROOT / "benchmarks" / "twilio"
SIP = ROOT / "benchmarks" / "sip"
WEBRTC = ROOT / "benchmarks" / "webrtc"


def bench_args(tmp_path, dev_models_dir, *paths, extra=()):
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"home: {tmp_path}\nmodels:\n  dir: {dev_models_dir}\n  asr: whisper-tiny\n  build_dev_if_missing: false\n")
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    add_arguments(p)
    return p.parse_args(["--config", str(cfg), *map(str, paths), "--out", str(tmp_path / "out"), "--no-progress", *extra])


def test_twilio_mode_measures_at_the_callers_side_and_hands_off_through_rest(tmp_path, dev_models_dir):
    if not (shared_audio_dir() / "manifest.json").is_file():
        pytest.skip("../shared/audio is missing")
    rc = run(bench_args(tmp_path, dev_models_dir, TWILIO / "barge-in-en.yaml", TWILIO / "agent-fr.yaml",
                        extra=("--asr", "oracle", "--no-plots", "--save-calls")))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    failed = {s["name"]: [c for c in s["checks"] if c["ok"] is False] for s in report["scenarios"] if not s["passed"]}
    assert rc == 0, failed
    by_name = {s["name"]: s for s in report["scenarios"]}
    barge = by_name["twilio-barge-in-en"]
    assert barge["channel"] == "twilio" and not barge["errors"]
    first, second = barge["turns"]
    # the answer to the first turn: timed from the caller's end of speech to the first media frame played
    assert first["v2v_ms"] is not None and 0 < first["v2v_ms"] < 5000
    # the interruption: the bot's audio stopped at Twilio's player (tentative pause), then `clear` came
    assert second["barge_in_result"] == "ok" and second["bot_speaking_at_onset"]
    assert 0 < second["barge_in_ms"] <= second["clear_ms"] < 1500
    s = report["summary"]
    assert s["clear_n"] == 1 and s["clear_p50_ms"] == second["clear_ms"]
    # the handoff: the bot redirected the live call through the (stand-in) REST API; the stream ended
    agent = by_name["twilio-agent-fr"]
    assert agent["outcome"] == "handed_off" and agent["end_reason"] in ("twilio_stop", "transferred")
    assert {c["check"]: c["ok"] for c in agent["checks"]}["handoff"] is True
    # what the caller heard is written as the bot track: mu-law decoded speech, on the caller's timeline
    from voicebot.audio.pcm import load_audio

    call = load_audio(tmp_path / "out" / "calls" / "ours" / "ours-twilio-barge-in-en" / "bot.wav", 8000)
    assert np.sqrt(np.mean(call.astype(float) ** 2)) > 100


def test_sip_mode_calls_the_bot_over_sip_and_times_its_rtp_at_the_phone(tmp_path, dev_models_dir):
    if not (shared_audio_dir() / "manifest.json").is_file():
        pytest.skip("../shared/audio is missing")
    rc = run(bench_args(tmp_path, dev_models_dir, SIP / "barge-in-en.yaml", extra=("--asr", "oracle", "--no-plots", "--save-calls")))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    sc = report["scenarios"][0]
    assert rc == 0, [c for c in sc["checks"] if c["ok"] is False]
    assert sc["channel"] == "sip" and not sc["errors"]
    first, second = sc["turns"]
    assert first["v2v_ms"] is not None and 0 < first["v2v_ms"] < 5000
    assert second["barge_in_result"] == "ok" and second["bot_speaking_at_onset"] and 0 < second["barge_in_ms"] < 1500
    events = [json.loads(line) for line in (tmp_path / "out" / "calls" / "ours" / "ours-sip-barge-in-en" / "events.jsonl").open()]
    starts = [e for e in events if e["kind"] == "bot_speech_start"]
    # re-timed to the first RTP frame the phone received after the server began the reply
    assert starts and all(e["t_ms"] >= e["data"]["server_t_ms"] - 25 for e in starts)
    assert events[-1]["kind"] == "call_end" and events[-1]["data"]["reason"] == "caller_hung_up"  # the phone's BYE ended it
    from voicebot.audio.pcm import load_audio

    bot = load_audio(tmp_path / "out" / "calls" / "ours" / "ours-sip-barge-in-en" / "bot.wav", 8000)
    assert np.sqrt(np.mean(bot.astype(float) ** 2)) > 100  # the bot's G.711 speech as the phone heard it


def test_webrtc_mode_runs_a_real_peer_connection_and_times_the_audio_it_receives(tmp_path, dev_models_dir):
    if not (shared_audio_dir() / "manifest.json").is_file():
        pytest.skip("../shared/audio is missing")
    rc = run(bench_args(tmp_path, dev_models_dir, WEBRTC / "barge-in-en.yaml", extra=("--asr", "oracle", "--no-plots", "--save-calls")))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    sc = report["scenarios"][0]
    assert rc == 0, [c for c in sc["checks"] if c["ok"] is False]
    assert sc["channel"] == "webrtc" and not sc["errors"]
    first, second = sc["turns"]
    assert first["v2v_ms"] is not None and 0 < first["v2v_ms"] < 5000
    assert second["barge_in_result"] == "ok" and 0 < second["barge_in_ms"] < 1500
    from voicebot.audio.pcm import load_audio

    folder = tmp_path / "out" / "calls" / "ours" / "ours-webrtc-barge-in-en"
    events = [json.loads(line) for line in (folder / "events.jsonl").open()]
    bot = load_audio(folder / "bot.wav", 16000).astype(float)
    rms = np.sqrt((bot[: len(bot) // 320 * 320].reshape(-1, 320) ** 2).mean(axis=1))
    # each reply starts, at the caller, where its Opus-decoded speech begins (within 3 frames)
    for start in (e for e in events if e["kind"] == "bot_speech_start"):
        frame = int(start["t_ms"] // 20)
        assert rms[max(0, frame - 3) : frame].max(initial=0) < 200 < rms[frame : frame + 4].max(), start


def test_fast_mode_refuses_network_scenarios(tmp_path, dev_models_dir):
    for path in (TWILIO / "agent-fr.yaml", SIP / "order-status-en.yaml", WEBRTC / "parcel-stuck-es.yaml"):
        assert run(bench_args(tmp_path, dev_models_dir, path, extra=("--fast", "--asr", "oracle"))) == 2
