"""Voicemail rows on SQLite and a real PostgreSQL; retention deletes them and their WAVs."""

from __future__ import annotations

from pathlib import Path

from voicebot.records.model import CallRecord, Voicemail
from voicebot.records.retention import apply_retention
from voicebot.records.store import RecordStore
from voicebot.records.wav import IncrementalWav

DAY = 86400.0
NOW = 1_780_000_000.0


def _vm(call_id: str, created: float, lang: str, path: Path) -> Voicemail:
    wav = IncrementalWav(path, 16000, channels=1)
    wav.write(bytes(3200))
    wav.close()
    return Voicemail(call_id=call_id, created_at=created, duration_s=0.1, path=str(path), sample_rate=16000, language=lang,
                     caller="+34600111222", channel="twilio", queue=lang, transcript="llámenme", summary="caller_asked",
                     end_reason="hash")  # fmt: skip


def test_add_list_filter_and_mark_done(store: RecordStore, tmp_path: Path) -> None:
    store.create_call(CallRecord(id="c1", channel="twilio", started_at=NOW))
    store.add_voicemail(_vm("c1", NOW, "es", tmp_path / "c1.wav"))
    store.add_voicemail(_vm("c2", NOW + 60, "en", tmp_path / "c2.wav"))
    store.add_voicemail(_vm("c3", NOW + 120, "de", tmp_path / "c3.wav"))
    assert [v.call_id for v in store.voicemails()] == ["c3", "c2", "c1"]  # newest first
    assert [v.call_id for v in store.voicemails(["es", "en"])] == ["c2", "c1"] and store.voicemails([]) == []
    got = store.get_voicemail("c1")
    assert got is not None and (got.language, got.caller, got.transcript, got.status, got.duration_s) == ("es", "+34600111222", "llámenme", "new", 0.1)
    assert store.set_voicemail_status("c1", "done", "maria", NOW + 300) and not store.set_voicemail_status("nope", "done", "x", NOW)
    assert [v.call_id for v in store.voicemails(status="new")] == ["c3", "c2"]
    done = store.get_voicemail("c1")
    assert (done.status, done.done_by, done.done_at) == ("done", "maria", NOW + 300)
    store.set_voicemail_status("c1", "new", "maria", NOW + 400)
    assert store.get_voicemail("c1").done_by is None
    store.add_voicemail(Voicemail(**{**got.__dict__, "duration_s": 2.5}))  # one per call: replaced
    assert store.get_voicemail("c1").duration_s == 2.5 and len(store.voicemails()) == 3
    store.delete_calls(["c1"])
    assert store.get_voicemail("c1") is None and store.get_call("c1") is None


def test_retention_deletes_voicemails_with_their_calls_and_alone(store: RecordStore, tmp_path: Path) -> None:
    old_call = _vm("old", NOW - 100 * DAY, "es", tmp_path / "vm" / "2026" / "01" / "01" / "old.wav")
    store.create_call(CallRecord(id="old", channel="twilio", started_at=NOW - 100 * DAY))
    store.add_voicemail(old_call)
    orphan = _vm("orphan", NOW - 95 * DAY, "en", tmp_path / "vm" / "orphan.wav")  # its call record is gone
    store.add_voicemail(orphan)
    fresh = _vm("new", NOW - DAY, "en", tmp_path / "vm" / "new.wav")
    store.create_call(CallRecord(id="new", channel="twilio", started_at=NOW - DAY))
    store.add_voicemail(fresh)

    report = apply_retention(store, days=90, now=NOW)

    assert report.deleted_calls == ["old"] and sorted(report.deleted_voicemails) == ["old", "orphan"]
    assert not Path(old_call.path).exists() and not Path(orphan.path).exists() and Path(fresh.path).exists()
    assert not (tmp_path / "vm" / "2026").exists()  # emptied day folders go too
    assert [v.call_id for v in store.voicemails()] == ["new"]
    assert apply_retention(store, days=90, now=NOW).deleted_voicemails == []
