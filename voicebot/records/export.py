"""Export a recorded call as a replayable benchmark scenario (YAML + one WAV per caller turn).

Layout written to ``out_dir``::

    scenario.yaml     name, language, channel, turns (audio, text, when, at_ms, expect_intent), expect
    turn1.wav ...     the caller channel (left) of the recording around each caller turn, mono PCM16

``when`` tells the replay when to start the turn's audio: ``after_bot`` (the caller waited
for the bot to finish), ``during_bot`` (a barge-in; ``offset_ms`` is how far into the bot's
speech the caller started) or ``at`` (the caller spoke before the bot ever did). ``at_ms`` is
always the caller's speech onset in the original call's audio time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from voicebot.records.model import ActionRecord, CallRecord, EventRecord, TurnRecord
from voicebot.records.store import RecordStore

PAD_BEFORE_MS = 300  # audio kept before the VAD onset (the VAD decides late; keep the attack)
PAD_AFTER_MS = 400  # and after the last voiced audio (trailing consonants, the end-of-turn pause)


def bot_speech_intervals(events: list[EventRecord]) -> list[tuple[float, float]]:
    """(start, stop) ms of each stretch of bot speech, from the event timeline (pure)."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for ev in events:
        if ev.kind == "bot_speech_start" and start is None:
            start = ev.t_ms
        elif ev.kind == "bot_speech_stop" and start is not None:
            out.append((start, ev.t_ms))
            start = None
    if start is not None:
        out.append((start, float("inf")))
    return out


def build_scenario(call: CallRecord, turns: list[TurnRecord], events: list[EventRecord],
                   actions: list[ActionRecord]) -> tuple[dict[str, Any], list[tuple[str, float, float]]]:  # fmt: skip
    """The scenario document and the audio cuts ``(file name, start ms, end ms)`` it refers to (pure)."""
    speech = bot_speech_intervals(events)
    doc_turns: list[dict[str, Any]] = []
    cuts: list[tuple[str, float, float]] = []
    order_id: str | None = None
    for t in turns:
        if t.slots.get("order_id"):
            order_id = str(t.slots["order_id"])
        if t.caller_text is None and not t.caller_dtmf:
            continue  # bot-only turn (greeting, re-prompt): the replay's bot produces it
        item: dict[str, Any] = {}
        n = len(doc_turns) + 1
        start, end = t.caller_speech_start_ms, t.caller_speech_end_ms or t.asr_final_ms
        if start is not None and end is not None and end > start:
            name = f"turn{n}.wav"
            item["audio"] = name
            cuts.append((name, max(0.0, start - PAD_BEFORE_MS), end + PAD_AFTER_MS))
        item["text"] = t.caller_text or ""
        if t.caller_dtmf:
            item["dtmf"] = t.caller_dtmf
        at = start if start is not None else t.asr_final_ms
        during = next(((s, e) for s, e in speech if at is not None and s <= at < e), None)
        if at is None:
            item["when"] = "after_bot"
        elif during is not None:
            item["when"] = "during_bot"
            item["offset_ms"] = round(at - during[0])
        elif not any(s < at for s, _ in speech):
            item["when"] = "at"
        else:
            item["when"] = "after_bot"
        if at is not None:
            item["at_ms"] = round(at)
        if t.intent:
            item["expect_intent"] = t.intent
        doc_turns.append(item)
    expect: dict[str, Any] = {"handoff": any(a.kind == "transfer" for a in actions)}
    if order_id:
        expect["order_id"] = order_id
    doc = {"name": f"call-{call.id}", "language": call.language or "en", "channel": call.channel, "turns": doc_turns, "expect": expect}
    return doc, cuts


def export_scenario(store: RecordStore, call_id: str, out_dir: str | Path) -> Path:
    """Write ``out_dir/scenario.yaml`` and the turn WAVs for a stored call; return the YAML path.

    Turns keep their text without audio when the call was not recorded (recording disabled,
    a text channel) and the replay then types them.
    """
    call = store.get_call(call_id)
    if call is None:
        raise KeyError(f"no call {call_id!r} in the record store")
    doc, cuts = build_scenario(call, store.turns(call_id), store.events(call_id), store.actions(call_id))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec = store.recording(call_id)
    if rec is not None and Path(rec.path).exists():
        _write_cuts(Path(rec.path), cuts, out)
    else:
        for item in doc["turns"]:
            item.pop("audio", None)
    path = out / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _write_cuts(recording: Path, cuts: list[tuple[str, float, float]], out: Path) -> None:
    import soundfile as sf

    with sf.SoundFile(recording) as f:
        rate, frames = f.samplerate, f.frames
        for name, start_ms, end_ms in cuts:
            a = min(frames, int(start_ms * rate / 1000))
            b = min(frames, int(end_ms * rate / 1000))
            f.seek(a)
            block = f.read(b - a, dtype="int16", always_2d=True)
            sf.write(out / name, block[:, 0], rate, subtype="PCM_16")
