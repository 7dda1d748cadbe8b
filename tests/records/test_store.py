"""The store API on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from voicebot.events import CallEvent
from voicebot.records.model import Annotation, CallFilter, CallRecord, TurnRecord
from voicebot.records.store import RecordStore, StoreError, open_store

DAY = 86400.0
T0 = 1_780_000_000.0


def _seed(store: RecordStore) -> None:
    rows = [("a", "sip", "es", 0, "resolved_by_bot", "order_status"), ("b", "twilio", "en", 1, "handed_off", "human_agent"),
            ("c", "webrtc", "es", 2, "abandoned", "shipping_delay"), ("d", "sip", "de", 2.5, None, None)]  # fmt: skip
    for cid, channel, lang, day, outcome, intent in rows:
        store.create_call(CallRecord(id=cid, channel=channel, started_at=T0 + day * DAY, language=lang, instance="bot-1" if cid == "d" else "bot-2"))
        store.save_turn(TurnRecord(cid, 0, bot_text="hola", intent="greeting", complete=True))
        if intent:
            store.save_turn(TurnRecord(cid, 1, caller_text="x", bot_text="y", intent=intent, interrupted=cid == "b", complete=True))
        if outcome:
            store.end_call(cid, T0 + day * DAY + 60, outcome, "test")


def test_filters(store: RecordStore) -> None:
    _seed(store)
    ids = lambda **kw: [c.id for c in store.list_calls(CallFilter(**kw))]  # noqa: E731
    assert ids() == ["d", "c", "b", "a"]  # newest first
    assert ids(language="es") == ["c", "a"]
    assert ids(outcome="handed_off") == ["b"]
    assert ids(channel="sip") == ["d", "a"]
    assert ids(intent="shipping_delay") == ["c"] and ids(intent="greeting") == ["d", "c", "b", "a"]
    assert ids(since=T0 + DAY, until=T0 + 2 * DAY + 1) == ["c", "b"]
    assert ids(limit=2, offset=1) == ["c", "b"]
    b = store.get_call("b")
    assert (b.turn_count, b.interruptions, b.outcome, b.end_reason) == (2, 1, "handed_off", "test")
    assert [c.id for c in store.open_calls()] == ["d"] and store.open_calls("bot-2") == []
    assert [t.intent for t in store.all_turns(since=T0 + DAY)] == ["greeting", "human_agent", "greeting", "shipping_delay", "greeting"]


def test_turn_upsert_events_actions_annotations(store: RecordStore) -> None:
    store.create_call(CallRecord(id="x", channel="direct", started_at=T0))
    store.create_call(CallRecord(id="x", channel="direct", started_at=T0, language="fr"))  # idempotent
    store.update_call("x", language="it", handoff_reason="frustration")
    with pytest.raises(ValueError, match="cannot update"):
        store.update_call("x", started_at=0)
    store.save_turn(TurnRecord("x", 1, caller_text="¿dónde está?", asr_final_ms=1200.5, slots={"order_id": "45712"}))
    store.save_turn(TurnRecord("x", 1, caller_text="¿dónde está?", asr_final_ms=1200.5, bot_text="mañana", complete=True,
                               slots={"order_id": "45712"}))  # fmt: skip
    (turn,) = store.turns("x")
    assert (turn.bot_text, turn.complete, turn.asr_final_ms, turn.slots) == ("mañana", True, 1200.5, {"order_id": "45712"})
    store.add_events("x", [(1, CallEvent(0.0, "call_start", {"channel": "direct"})), (2, CallEvent(10.5, "vad_start", {"onset_ms": 3.0}))])
    store.add_events("x", [(2, CallEvent(10.5, "vad_start", {"onset_ms": 3.0}))])  # a retried write: ignored
    assert [(e.seq, e.kind, e.data) for e in store.events("x")] == [(1, "call_start", {"channel": "direct"}), (2, "vad_start", {"onset_ms": 3.0})]
    a1 = store.annotate(Annotation("x", 1, True, "el pedido era otro", "qa@shop", T0))
    a2 = store.annotate(Annotation("x", 1, False, "", None, T0 + 1))
    assert a2 > a1
    assert [(a.turn_index, a.wrong, a.note, a.author) for a in store.annotations("x")] == [(1, True, "el pedido era otro", "qa@shop"), (1, False, "", None)]
    call = store.get_call("x")
    assert (call.language, call.handoff_reason) == ("it", "frustration")


def test_concurrent_writers_and_readers(store: RecordStore) -> None:
    """The writer thread and the pages' thread pool use the store at the same time."""
    store.create_call(CallRecord(id="busy", channel="sip", started_at=T0))
    errors: list[BaseException] = []

    def write(base: int) -> None:
        try:
            store.add_events("busy", [(base + i, CallEvent(float(i), "vad_start")) for i in range(50)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(20):
                store.list_calls()
                store.events("busy")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k * 100,)) for k in range(3)] + [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(store.events("busy")) == 150


def test_sqlite_is_in_wal_mode(sqlite_url: str) -> None:
    open_store(sqlite_url).close()
    path = sqlite_url[len("sqlite:///") :]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported record store URL"):
        open_store("mysql://x")
    with pytest.raises(StoreError, match="bad SQLite URL"):
        open_store("sqlite://relative")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open the SQLite record store"):
        open_store(f"sqlite:///{tmp_path / 'file' / 'db.sqlite3'}")


def test_unreachable_postgres_says_what_to_check() -> None:
    pytest.importorskip("psycopg")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(StoreError, match="check the URL"):
        open_store(f"postgresql://postgres@127.0.0.1:{port}/none")
