"""Retention deletes old calls, everything attached to them and their recording files."""

from __future__ import annotations

from pathlib import Path

from voicebot.core import CallContext
from voicebot.records.model import Annotation
from voicebot.records.recorder import CallRecorder, RecorderOptions
from voicebot.records.retention import apply_retention
from voicebot.records.store import RecordStore

from .sim import SimCall, run_support_call

DAY = 86400.0
NOW = 1_780_000_000.0


async def _record(store: RecordStore, call_id: str, started: float, rec_dir: Path) -> Path:
    rec = CallRecorder(store, CallContext(call_id=call_id, channel="sip"), RecorderOptions(recordings_dir=rec_dir, clock=lambda: started))
    run_support_call(SimCall(rec), stop_after_turns=1)
    await rec.aclose()
    store.annotate(Annotation(call_id=call_id, turn_index=1, wrong=True, note="wrong intent", created_at=started))
    assert rec.recording_path is not None and rec.recording_path.exists()
    return rec.recording_path


async def test_old_calls_and_recordings_are_deleted(store: RecordStore, tmp_path: Path) -> None:
    old = await _record(store, "old", NOW - 100 * DAY, tmp_path)
    edge = await _record(store, "edge", NOW - 89 * DAY, tmp_path)
    new = await _record(store, "new", NOW - 1 * DAY, tmp_path)
    old.unlink()
    gone = await _record(store, "gone", NOW - 95 * DAY, tmp_path)
    old_again = await _record(store, "old2", NOW - 120 * DAY, tmp_path)

    report = apply_retention(store, days=90, now=NOW)

    assert sorted(report.deleted_calls) == ["gone", "old", "old2"]
    assert sorted(report.deleted_files) == sorted([str(gone), str(old_again)]) and report.missing_files == [str(old)]
    assert not gone.exists() and not old_again.exists() and edge.exists() and new.exists()
    assert not old_again.parent.exists()  # the emptied day folder went too
    for cid in ("old", "gone", "old2"):
        assert store.get_call(cid) is None and store.turns(cid) == [] and store.events(cid) == []
        assert store.annotations(cid) == [] and store.recording(cid) is None and store.actions(cid) == []
    assert sorted(c.id for c in store.list_calls()) == ["edge", "new"]
    assert len(store.turns("edge")) == 2 and len(store.annotations("new")) == 1
    assert apply_retention(store, days=0, now=NOW).deleted_calls == []  # 0 = keep forever
    assert apply_retention(store, days=90, now=NOW).deleted_calls == []
