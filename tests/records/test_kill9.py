"""A bot process killed with SIGKILL mid-call loses no completed turn, and its recording plays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from voicebot.records.recorder import recover_interrupted
from voicebot.records.store import open_store
from voicebot.records.wav import HEADER_BYTES

from .sim import SimCall, run_support_call

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_kill9_mid_call_loses_no_completed_turn(store_url: str, tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.records.kill_child", store_url, str(tmp_path / "rec")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = child.stdout.readline()
        assert line, f"the child died before recording: {child.stderr.read()}"
        info = json.loads(line)
        wav = Path(info["path"])
        flushed_bytes = HEADER_BYTES + info["frames"] * 4
        # kill it while it is still writing the call: once more audio has reached the file
        _wait_for(lambda: wav.stat().st_size > flushed_bytes + 16000, 20, "the live call to keep recording")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    store = open_store(store_url)
    try:
        assert store.get_call("crash-1").ended_at is None
        assert recover_interrupted(store) == ["crash-1"]
        assert recover_interrupted(store) == []  # idempotent
        call = store.get_call("crash-1")
        assert call.outcome == "interrupted" and call.end_reason == "process_died" and call.ended_at > call.started_at
        turns = store.turns("crash-1")
        assert [t.index for t in turns] == [0, 1, 2, 3]
        assert [t.complete for t in turns] == [True, True, True, False]
        assert turns[1].caller_text == "mi paquete lleva diez días en aduana" and turns[1].bot_text.startswith("Lo siento")
        assert turns[2].interrupted and turns[2].bot_text_heard
        assert turns[3].caller_text == "quiero hablar con una persona por favor"  # said, not yet answered: kept
        assert [a.name for a in store.actions("crash-1")] == ["order_lookup"]
        kinds = [e.kind for e in store.events("crash-1")]
        assert kinds[0] == "call_start" and kinds[-1] == "transcript"

        # the recording is a valid WAV again, holding everything the caller said before the kill
        audio, rate = sf.read(wav, dtype="int16", always_2d=True)
        assert rate == 16000 and audio.shape[1] == 2
        assert audio.shape[0] == (wav.stat().st_size - HEADER_BYTES) // 4 > info["frames"]
        expected = SimCall(None)
        run_support_call(expected, stop_after_turns=3)
        assert np.array_equal(audio[: info["frames"], 0], expected.caller_audio())
        assert np.array_equal(audio[: info["frames"], 1], expected.bot_audio())
        assert not audio[info["frames"] :, 0].any()  # then silence until the kill
    finally:
        store.close()
