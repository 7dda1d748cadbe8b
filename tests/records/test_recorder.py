"""The record of a full call, written through the recorder from a channel-like event timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebot.core import CallContext
from voicebot.events import CallEvent
from voicebot.records.model import CallFilter
from voicebot.records.recorder import CallRecorder, RecorderOptions, infer_outcome
from voicebot.records.redact import RecordingPolicy
from voicebot.records.store import RecordStore

from .sim import RATE, SimCall, run_support_call


@pytest.mark.parametrize("channel", ["twilio", "sip", "webrtc", "direct"])
async def test_full_call_record(store: RecordStore, tmp_path: Path, channel: str) -> None:
    ctx = CallContext(call_id=f"c-{channel}", channel=channel, caller_number="+34612345678")
    rec = CallRecorder(store, ctx, RecorderOptions(recordings_dir=tmp_path / "rec", instance="bot-1"))
    sim = SimCall(rec, channel=channel)
    run_support_call(sim)
    await rec.aclose()

    call = store.get_call(ctx.call_id)
    assert call is not None
    assert (call.channel, call.language, call.outcome, call.handoff_reason) == (channel, "es", "handed_off", "caller_asked")
    assert call.caller == "+3461*****78" and call.dev_models and call.pipeline == "phone" and call.instance == "bot-1"
    assert call.ended_at is not None and call.ended_at >= call.started_at
    assert (call.turn_count, call.interruptions) == (4, 1)

    turns = store.turns(ctx.call_id)
    assert [t.index for t in turns] == [0, 1, 2, 3]
    assert all(t.complete for t in turns)
    greet, t1, t2, t3 = turns
    assert greet.caller_text is None and greet.intent == "greeting" and greet.bot_text_heard == greet.bot_text
    assert t1.caller_text == "mi paquete lleva diez días en aduana" and t1.caller_language == "es"
    # timing: onset < end < ASR final < bot reply < first bot audio, all in audio ms
    assert t1.caller_speech_start_ms < t1.caller_speech_end_ms < t1.asr_final_ms <= t1.bot_reply_ms < t1.bot_first_audio_ms
    assert t1.response_ms == pytest.approx(t1.bot_first_audio_ms - t1.caller_speech_end_ms)
    assert t1.caller_speech_end_ms - t1.caller_speech_start_ms == pytest.approx(2000, abs=1)
    # barge-in: turn 2 cut off, only its first words heard; turn 3 started during the bot's speech
    assert t2.interrupted and t2.bot_text_heard and t2.bot_text.startswith(t2.bot_text_heard) and t2.bot_text_heard != t2.bot_text
    assert t2.slots == {"order_id": "45712", "email": "[email]"} and "[email]" in t2.caller_text
    assert t3.caller_speech_start_ms < t2.bot_speech_end_ms
    assert t3.caller_text.startswith("quiero hablar") and t3.intent == "human_agent" and t3.sentiment == "negative"

    kinds = [e.kind for e in store.events(ctx.call_id)]
    assert kinds[0] == "call_start" and kinds[-1] == "call_end" and kinds.count("interruption") == 1
    assert len(kinds) == len(sim.events.events)
    actions = store.actions(ctx.call_id)
    assert [(a.kind, a.name) for a in actions] == [("note", "order_lookup"), ("transfer", "caller_asked")]
    assert actions[0].data == {"order_id": "45712", "found": True} and actions[0].turn_index == 2

    # the stereo recording: caller left, bot right, sample-exact against what was fed
    recording = store.recording(ctx.call_id)
    assert recording is not None and recording.sample_rate == RATE
    audio, rate = sf.read(recording.path, dtype="int16", always_2d=True)
    assert rate == RATE and audio.shape[1] == 2
    caller, bot = sim.caller_audio(), sim.bot_audio()
    assert audio.shape[0] == len(caller)
    assert np.array_equal(audio[:, 0], caller) and np.array_equal(audio[:, 1], bot)
    assert np.abs(bot).max() > 1000 and np.abs(caller).max() > 1000

    assert [c.id for c in store.list_calls(CallFilter(channel=channel, intent="human_agent"))] == [ctx.call_id]
    assert store.list_calls(CallFilter(intent="return_refund")) == []


async def test_turns_are_stored_before_the_call_ends(store: RecordStore) -> None:
    """What the caller said is in the store as soon as the transcript is final."""
    rec = CallRecorder(store, CallContext(call_id="live", channel="sip"))
    sim = SimCall(rec)
    run_support_call(sim, stop_after_turns=2)
    await rec.flush()
    turns = store.turns("live")
    assert [t.complete for t in turns] == [True, True, False]
    assert turns[2].caller_text == "es el cuatro cinco siete uno dos" and turns[2].bot_text is None
    assert store.get_call("live").ended_at is None
    await rec.aclose(outcome="abandoned", reason="caller_hung_up")
    call = store.get_call("live")
    assert call.outcome == "abandoned" and call.end_reason == "caller_hung_up"
    assert store.turns("live")[2].complete


async def test_recording_disabled_by_policy(store: RecordStore, tmp_path: Path) -> None:
    opts = RecorderOptions(recordings_dir=tmp_path / "rec", recording=RecordingPolicy(disabled_prefixes=("+49",), disabled_channels=("webrtc",)))
    for cid, channel, number, recorded in (("de", "sip", "+4930123456", False), ("app", "webrtc", None, False), ("es", "sip", "+34612345678", True)):
        rec = CallRecorder(store, CallContext(call_id=cid, channel=channel, caller_number=number), opts)
        sim = SimCall(rec, channel=channel)
        run_support_call(sim, stop_after_turns=1)
        await rec.aclose()
        assert (store.recording(cid) is not None) is recorded, cid
        assert len(store.turns(cid)) == 2  # the transcript is kept either way
    assert sorted(p.name for p in (tmp_path / "rec").rglob("*.wav")) == ["es.wav"]


def test_infer_outcome() -> None:
    from voicebot.records.model import ActionRecord, TurnRecord

    greet = TurnRecord("c", 0, bot_text="hola", intent="greeting")
    asked = TurnRecord("c", 1, caller_text="dónde está mi pedido", bot_text="llega mañana", intent="order_status")
    bye = TurnRecord("c", 2, caller_text="gracias adiós", bot_text="adiós", intent="goodbye")
    transfer = ActionRecord("c", 1, 0, "transfer", "caller_asked")
    hangup = ActionRecord("c", 2, 0, "hangup", "completed")
    assert infer_outcome([greet], [], "caller_hung_up", 0) == "abandoned"
    assert infer_outcome([greet, asked], [], "caller_hung_up", 0) == "abandoned"
    assert infer_outcome([greet, asked, bye], [], "caller_hung_up", 0) == "resolved_by_bot"
    assert infer_outcome([greet, asked], [hangup], "completed", 0) == "resolved_by_bot"
    assert infer_outcome([greet, asked], [transfer, hangup], "completed", 0) == "handed_off"
    assert infer_outcome([greet], [], "error", 1) == "error"


async def test_taps_resample_phone_rate_bot_audio(tmp_path: Path) -> None:
    """CallOutput taps give the bot's audio at the channel rate (8 kHz on phones)."""
    from voicebot.records.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    rec = CallRecorder(store, CallContext(call_id="tap", channel="sip"), RecorderOptions(recordings_dir=tmp_path))
    rec(CallEvent(0.0, "call_start", {"channel": "sip", "wall_time": 1_780_000_000.0}))
    t8 = np.arange(8000) / 8000
    tone8k = (8000 * np.sin(2 * np.pi * 440 * t8)).astype(np.int16)  # 1 s of 440 Hz at 8 kHz
    for i in range(50):  # 1 s in 20 ms chunks: caller silence at 16 kHz, bot tone at 8 kHz
        rec.caller_tap(np.zeros(320, np.int16).tobytes())
        rec.bot_tap(tone8k[i * 160 : (i + 1) * 160].tobytes(), 8000)
    await rec.aclose()
    audio, rate = sf.read(rec.recording_path, dtype="int16", always_2d=True)
    assert rate == RATE and abs(audio.shape[0] - RATE) <= 8  # aligned: no resampler lag
    right = audio[:, 1].astype(float)
    spectrum = np.abs(np.fft.rfft(right))
    assert np.fft.rfftfreq(len(right), 1 / RATE)[spectrum.argmax()] == pytest.approx(440, abs=2)
    assert not audio[:, 0].any() and store.get_call("tap").started_at == 1_780_000_000.0
    store.close()
