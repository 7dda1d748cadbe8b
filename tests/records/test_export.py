"""A recorded call exported as a benchmark scenario: YAML plus the caller's audio per turn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from voicebot.core import CallContext
from voicebot.records.export import PAD_AFTER_MS, PAD_BEFORE_MS, export_scenario
from voicebot.records.recorder import CallRecorder, RecorderOptions
from voicebot.records.store import RecordStore

from .sim import RATE, SimCall, run_support_call


async def test_export_scenario(store: RecordStore, tmp_path: Path) -> None:
    rec = CallRecorder(store, CallContext(call_id="exp-1", channel="twilio", caller_number="+34612345678"),
                       RecorderOptions(recordings_dir=tmp_path / "rec"))  # fmt: skip
    sim = SimCall(rec, channel="twilio")
    run_support_call(sim)
    await rec.aclose()

    path = export_scenario(store, "exp-1", tmp_path / "scenario")
    doc = yaml.safe_load(path.read_text())
    assert (doc["name"], doc["language"], doc["channel"]) == ("call-exp-1", "es", "twilio")
    assert doc["expect"] == {"handoff": True, "order_id": "45712"}
    t1, t2, t3 = doc["turns"]
    assert t1["text"] == "mi paquete lleva diez días en aduana" and t1["when"] == "after_bot" and t1["expect_intent"] == "shipping_delay"
    assert t2["text"].endswith("mi correo es [email]") and t2["when"] == "after_bot"
    assert t3["when"] == "during_bot" and t3["offset_ms"] == pytest.approx(1200, abs=20) and t3["expect_intent"] == "human_agent"

    turns = store.turns("exp-1")
    caller = sim.caller_audio()
    for item, turn in zip(doc["turns"], turns[1:], strict=True):
        assert item["at_ms"] == round(turn.caller_speech_start_ms)
        audio, rate = sf.read(path.parent / item["audio"], dtype="int16")
        assert rate == RATE and audio.ndim == 1
        a = int((turn.caller_speech_start_ms - PAD_BEFORE_MS) * RATE / 1000)
        b = int((turn.caller_speech_end_ms + PAD_AFTER_MS) * RATE / 1000)
        assert np.array_equal(audio, caller[a:b])  # the caller channel only, none of the bot
        assert np.abs(audio).max() > 1000


async def test_export_without_recording_keeps_the_text(store: RecordStore, tmp_path: Path) -> None:
    rec = CallRecorder(store, CallContext(call_id="txt", channel="text"))
    run_support_call(SimCall(rec), stop_after_turns=2)
    await rec.aclose()
    doc = yaml.safe_load(export_scenario(store, "txt", tmp_path).read_text())
    assert [t["text"] for t in doc["turns"]] == ["mi paquete lleva diez días en aduana", "es el cuatro cinco siete uno dos"]
    assert all("audio" not in t for t in doc["turns"]) and doc["expect"] == {"handoff": False}
    with pytest.raises(KeyError, match="no call"):
        export_scenario(store, "missing", tmp_path)
