"""The SQL shared by the SQLite and PostgreSQL stores.

Queries are written with ``?`` placeholders; a dialect that uses ``%s`` converts them
(:func:`~voicebot.records.paramstyle.qmark_to_format`, which leaves string literals alone). One
connection per store, guarded by a lock: the recorder writes from a single thread and the
pages read from a thread pool, each statement is a few milliseconds at most.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from voicebot.events import CallEvent
from voicebot.logs import get_logger
from voicebot.records.migrations import Transaction, migrate
from voicebot.records.model import ActionRecord, Annotation, CallFilter, CallRecord, EventRecord, Recording, TurnRecord, Voicemail
from voicebot.records.paramstyle import qmark_to_format
from voicebot.records.schema import MIGRATIONS, VERSION_TABLE

_CALL_COLS = ("id", "channel", "caller", "language", "started_at", "ended_at", "outcome", "end_reason", "handoff_reason", "dev_models", "pipeline", "instance")
_UPDATABLE = {"caller", "language", "handoff_reason", "dev_models", "pipeline", "channel", "end_reason"}
_TURN_COLS = (
    "call_id", "idx", "caller_speech_start_ms", "caller_speech_end_ms", "asr_final_ms", "bot_reply_ms", "bot_first_audio_ms",
    "bot_speech_end_ms", "interrupted", "caller_text", "caller_language", "caller_dtmf", "bot_text", "bot_text_heard", "intent",
    "slots", "sentiment", "complete", "speaker", "agent_name",
)  # fmt: skip

_VM_COLS = ("call_id", "created_at", "duration_s", "path", "sample_rate", "language", "caller", "channel", "queue", "transcript",
            "summary", "end_reason", "status", "done_by", "done_at")  # fmt: skip

Statement = tuple[str, Sequence[Any]]
log = get_logger(__name__)


def _dumps(value: Any) -> str:
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True, default=str)


def _loads(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def _agent_name(data: str | None) -> str | None:
    """The agent of a call's ``bridged`` hand-off step (its display name, else its id)."""
    d = _loads(data)
    return d.get("agent_name") or d.get("agent") or None


def _like_escape(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (``%`` and ``_`` are the caller's, not wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlRecordStore(ABC):
    """A :class:`~voicebot.records.store.RecordStore` over one DB-API connection."""

    dialect: str = "sql"
    placeholder: str = "?"

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- connection plumbing, per dialect -------------------------------------------------
    @abstractmethod
    def _run(self, statements: list[Statement], fetch: bool = False) -> list[tuple]:
        """Run ``statements`` in one transaction; return the rows of the last one when ``fetch``."""

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else qmark_to_format(sql)

    def _write(self, *statements: Statement) -> None:
        self._run(list(statements))

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._run([(sql, params)], fetch=True)

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Transaction]:
        """One transaction that also blocks other writers (for migrations): committed at the end of the block."""

    def _open_schema(self, where: str) -> None:
        """Apply the record migrations (and log them); :class:`SchemaTooNew` for a newer database."""
        applied = migrate(self._transaction, MIGRATIONS, table=VERSION_TABLE, what=f"the record store {where}")
        if applied:
            log.info("record store migrated", extra={"store": where, "versions": applied, "version": applied[-1]})

    # -- writes ---------------------------------------------------------------------------
    def create_call(self, call: CallRecord) -> None:
        cols = ", ".join(_CALL_COLS)
        marks = ", ".join("?" * len(_CALL_COLS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _CALL_COLS if c != "id")
        values = (call.id, call.channel, call.caller, call.language, call.started_at, call.ended_at, call.outcome,
                  call.end_reason, call.handoff_reason, int(call.dev_models), call.pipeline, call.instance)  # fmt: skip
        self._write((f"INSERT INTO calls ({cols}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}", values))

    def update_call(self, call_id: str, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update call columns {sorted(unknown)}; allowed: {sorted(_UPDATABLE)}")
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        self._write((f"UPDATE calls SET {sets} WHERE id = ?", (*values, call_id)))

    def end_call(self, call_id: str, ended_at: float, outcome: str, reason: str | None = None) -> None:
        self._write(("UPDATE calls SET ended_at = ?, outcome = ?, end_reason = COALESCE(?, end_reason) WHERE id = ?",
                     (ended_at, outcome, reason, call_id)))  # fmt: skip

    def save_turn(self, turn: TurnRecord) -> None:
        cols = ", ".join(_TURN_COLS)
        marks = ", ".join("?" * len(_TURN_COLS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _TURN_COLS[2:])
        t = turn
        values = (t.call_id, t.index, t.caller_speech_start_ms, t.caller_speech_end_ms, t.asr_final_ms, t.bot_reply_ms,
                  t.bot_first_audio_ms, t.bot_speech_end_ms, int(t.interrupted), t.caller_text, t.caller_language,
                  t.caller_dtmf, t.bot_text, t.bot_text_heard, t.intent, _dumps(t.slots), t.sentiment, int(t.complete),
                  t.speaker, t.agent_name)  # fmt: skip
        self._write((f"INSERT INTO turns ({cols}) VALUES ({marks}) ON CONFLICT (call_id, idx) DO UPDATE SET {updates}", values))

    def add_events(self, call_id: str, events: list[tuple[int, CallEvent]]) -> None:
        if not events:
            return
        sql = "INSERT INTO events (call_id, seq, t_ms, kind, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id, seq) DO NOTHING"
        self._write(*[(sql, (call_id, seq, ev.t_ms, ev.kind, _dumps(ev.data))) for seq, ev in events])

    def add_action(self, action: ActionRecord) -> None:
        a = action
        self._write(("INSERT INTO actions (call_id, seq, t_ms, kind, name, turn_idx, data) VALUES (?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (call_id, seq) DO NOTHING",
                     (a.call_id, a.seq, a.t_ms, a.kind, a.name, a.turn_index, _dumps(a.data))))  # fmt: skip

    def set_recording(self, recording: Recording) -> None:
        r = recording
        self._write(("INSERT INTO recordings (call_id, path, sample_rate, channels) VALUES (?, ?, ?, ?) ON CONFLICT (call_id) "
                     "DO UPDATE SET path = excluded.path, sample_rate = excluded.sample_rate, channels = excluded.channels",
                     (r.call_id, r.path, r.sample_rate, r.channels)))  # fmt: skip

    def annotate(self, annotation: Annotation) -> int:
        a = annotation
        rows = self._run([("INSERT INTO annotations (call_id, turn_idx, wrong, note, author, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                           "RETURNING id", (a.call_id, a.turn_index, int(a.wrong), a.note, a.author, a.created_at))], fetch=True)  # fmt: skip
        return int(rows[0][0])

    def delete_calls(self, call_ids: list[str]) -> None:
        for start in range(0, len(call_ids), 500):
            chunk = call_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            self._write(*[(f"DELETE FROM {table} WHERE {col} IN ({marks})", chunk) for table, col in
                          (("turns", "call_id"), ("events", "call_id"), ("actions", "call_id"), ("annotations", "call_id"),
                           ("recordings", "call_id"), ("voicemails", "call_id"), ("calls", "id"))])  # fmt: skip

    # -- voicemails -----------------------------------------------------------------------
    def add_voicemail(self, vm: Voicemail) -> None:
        """Insert or replace the voicemail of ``vm.call_id`` (one per call)."""
        cols = ", ".join(_VM_COLS)
        marks = ", ".join("?" * len(_VM_COLS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _VM_COLS[1:])
        values = tuple(getattr(vm, c) for c in _VM_COLS)
        self._write((f"INSERT INTO voicemails ({cols}) VALUES ({marks}) ON CONFLICT (call_id) DO UPDATE SET {updates}", values))

    @staticmethod
    def _voicemail(r: tuple) -> Voicemail:
        d = dict(zip(_VM_COLS, r, strict=True))
        d["created_at"], d["duration_s"], d["sample_rate"] = float(d["created_at"]), float(d["duration_s"]), int(d["sample_rate"])
        d["done_at"] = None if d["done_at"] is None else float(d["done_at"])
        return Voicemail(**d)

    def get_voicemail(self, call_id: str) -> Voicemail | None:
        rows = self._query(f"SELECT {', '.join(_VM_COLS)} FROM voicemails WHERE call_id = ?", (call_id,))
        return self._voicemail(rows[0]) if rows else None

    def voicemails(self, languages: Sequence[str] | None = None, status: str | None = None, limit: int = 200) -> list[Voicemail]:
        """Newest first; only ``languages`` (None = all) and ``status`` (None = any)."""
        clauses: list[str] = []
        params: list[Any] = []
        if languages is not None:
            if not languages:
                return []
            clauses.append(f"language IN ({', '.join('?' * len(languages))})")
            params.extend(languages)
        if status:
            clauses.append("status = ?")
            params.append(status)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        sql = f"SELECT {', '.join(_VM_COLS)} FROM voicemails{where} ORDER BY created_at DESC, call_id LIMIT ?"
        return [self._voicemail(r) for r in self._query(sql, (*params, int(limit)))]

    def set_voicemail_status(self, call_id: str, status: str, by: str | None, at: float | None) -> bool:
        """Mark a voicemail ``done`` (or ``new`` again); False when there is no such voicemail."""
        if status not in ("new", "done"):
            raise ValueError("voicemail status must be new or done")
        rows = self._run([("UPDATE voicemails SET status = ?, done_by = ?, done_at = ? WHERE call_id = ? RETURNING call_id",
                           (status, by if status == "done" else None, at if status == "done" else None, call_id))], fetch=True)  # fmt: skip
        return bool(rows)

    def voicemails_before(self, cutoff: float) -> list[Voicemail]:
        rows = self._query(f"SELECT {', '.join(_VM_COLS)} FROM voicemails WHERE created_at < ? ORDER BY created_at", (cutoff,))
        return [self._voicemail(r) for r in rows]

    def delete_voicemails(self, call_ids: list[str]) -> None:
        """Delete voicemail rows (not their files)."""
        for start in range(0, len(call_ids), 500):
            chunk = call_ids[start : start + 500]
            self._write((f"DELETE FROM voicemails WHERE call_id IN ({', '.join('?' * len(chunk))})", chunk))

    # -- reads ----------------------------------------------------------------------------
    _CALL_SELECT = (
        "SELECT c.id, c.channel, c.caller, c.language, c.started_at, c.ended_at, c.outcome, c.end_reason, c.handoff_reason, "
        "c.dev_models, c.pipeline, c.instance, (SELECT COUNT(*) FROM turns t WHERE t.call_id = c.id), "
        "(SELECT COUNT(*) FROM turns t WHERE t.call_id = c.id AND t.interrupted = 1), "
        "(SELECT a.data FROM actions a WHERE a.call_id = c.id AND a.kind = 'handoff' AND a.name = 'bridged' ORDER BY a.seq DESC LIMIT 1) "
        "FROM calls c"
    )

    @staticmethod
    def _call(row: tuple) -> CallRecord:
        return CallRecord(id=row[0], channel=row[1], caller=row[2], language=row[3], started_at=float(row[4]),
                          ended_at=None if row[5] is None else float(row[5]), outcome=row[6], end_reason=row[7],
                          handoff_reason=row[8], dev_models=bool(row[9]), pipeline=row[10], instance=row[11],
                          turn_count=int(row[12]), interruptions=int(row[13]), agent=_agent_name(row[14]))  # fmt: skip

    def get_call(self, call_id: str) -> CallRecord | None:
        rows = self._query(self._CALL_SELECT + " WHERE c.id = ?", (call_id,))
        return self._call(rows[0]) if rows else None

    def list_calls(self, flt: CallFilter | None = None) -> list[CallRecord]:
        f = flt or CallFilter()
        where, params = self._call_where(f)
        sql = f"{self._CALL_SELECT}{where} ORDER BY c.started_at DESC, c.id LIMIT ? OFFSET ?"
        return [self._call(r) for r in self._query(sql, (*params, int(f.limit), int(f.offset)))]

    @staticmethod
    def _call_where(f: CallFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (("c.started_at >= ?", f.since), ("c.started_at < ?", f.until), ("c.language = ?", f.language),
                              ("c.outcome = ?", f.outcome), ("c.channel = ?", f.channel)):  # fmt: skip
            if value is not None and value != "":
                clauses.append(clause)
                params.append(value)
        if f.intent:
            clauses.append("EXISTS (SELECT 1 FROM turns t WHERE t.call_id = c.id AND t.intent = ?)")
            params.append(f.intent)
        if f.handoff_reason:
            clauses.append("c.handoff_reason = ?")
            params.append(f.handoff_reason)
        if f.interruptions is not None:
            clauses.append("(SELECT COUNT(*) FROM turns t WHERE t.call_id = c.id AND t.interrupted = 1) = ?")
            params.append(int(f.interruptions))
        if f.agent:
            # the agent who took the call: the hand-off's "bridged" step names them (id and display name)
            clauses.append("EXISTS (SELECT 1 FROM actions a WHERE a.call_id = c.id AND a.kind = 'handoff' AND a.name = 'bridged' "
                           "AND (LOWER(a.data) LIKE ? ESCAPE '\\' OR LOWER(a.data) LIKE ? ESCAPE '\\'))")
            who = _like_escape(f.agent.lower())
            params.extend([f'%"agent": "{who}"%', f'%"agent_name": "{who}"%'])
        if f.search and f.search.strip():
            # words of a transcript (either side), a caller number or id, an order id (slots, keypad digits, notes)
            like = f"%{_like_escape(f.search.strip().lower())}%"
            fields = ("t.caller_text", "t.bot_text", "t.slots", "t.caller_dtmf")
            turn_match = " OR ".join(f"LOWER({col}) LIKE ? ESCAPE '\\'" for col in fields)
            callers = "".join(" OR c.caller = ?" for _ in f.search_callers)
            clauses.append(f"(LOWER(COALESCE(c.caller, '')) LIKE ? ESCAPE '\\' OR LOWER(c.id) LIKE ? ESCAPE '\\'{callers} "
                           f"OR EXISTS (SELECT 1 FROM turns t WHERE t.call_id = c.id AND ({turn_match})) "
                           f"OR EXISTS (SELECT 1 FROM actions a WHERE a.call_id = c.id AND LOWER(a.data) LIKE ? ESCAPE '\\'))")
            params.extend([like, like, *f.search_callers, *[like] * (1 + len(fields))])
        if f.ids is not None:
            clauses.append(f"c.id IN ({', '.join('?' * len(f.ids))})" if f.ids else "1 = 0")
            params.extend(f.ids)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    @staticmethod
    def _turn(row: tuple) -> TurnRecord:
        (call_id, idx, s0, s1, asr, reply, first, end, interrupted, ctext, clang, dtmf, btext, heard, intent, slots, sentiment,
         complete, speaker, agent_name) = row  # fmt: skip
        return TurnRecord(call_id=call_id, index=int(idx), caller_speech_start_ms=s0, caller_speech_end_ms=s1, asr_final_ms=asr,
                          bot_reply_ms=reply, bot_first_audio_ms=first, bot_speech_end_ms=end, interrupted=bool(interrupted),
                          caller_text=ctext, caller_language=clang, caller_dtmf=dtmf or "", bot_text=btext, bot_text_heard=heard,
                          intent=intent, slots=_loads(slots), sentiment=sentiment, complete=bool(complete), speaker=speaker,
                          agent_name=agent_name)  # fmt: skip

    def turns(self, call_id: str) -> list[TurnRecord]:
        rows = self._query(f"SELECT {', '.join(_TURN_COLS)} FROM turns WHERE call_id = ? ORDER BY idx", (call_id,))
        return [self._turn(r) for r in rows]

    def all_turns(self, since: float | None = None, until: float | None = None) -> list[TurnRecord]:
        where, params = self._call_where(CallFilter(since=since, until=until))
        cols = ", ".join(f"t.{c}" for c in _TURN_COLS)
        sql = f"SELECT {cols} FROM turns t WHERE t.call_id IN (SELECT c.id FROM calls c{where}) ORDER BY t.call_id, t.idx"
        return [self._turn(r) for r in self._query(sql, params)]

    def events(self, call_id: str) -> list[EventRecord]:
        rows = self._query("SELECT call_id, seq, t_ms, kind, data FROM events WHERE call_id = ? ORDER BY seq", (call_id,))
        return [EventRecord(call_id=r[0], seq=int(r[1]), t_ms=float(r[2]), kind=r[3], data=_loads(r[4])) for r in rows]

    @staticmethod
    def _action(r: tuple) -> ActionRecord:
        return ActionRecord(call_id=r[0], seq=int(r[1]), t_ms=float(r[2]), kind=r[3], name=r[4], turn_index=r[5], data=_loads(r[6]))

    def actions(self, call_id: str) -> list[ActionRecord]:
        rows = self._query("SELECT call_id, seq, t_ms, kind, name, turn_idx, data FROM actions WHERE call_id = ? ORDER BY seq", (call_id,))
        return [self._action(r) for r in rows]

    def all_actions(self, since: float | None = None, until: float | None = None) -> list[ActionRecord]:
        where, params = self._call_where(CallFilter(since=since, until=until))
        sql = ("SELECT a.call_id, a.seq, a.t_ms, a.kind, a.name, a.turn_idx, a.data FROM actions a "
               f"WHERE a.call_id IN (SELECT c.id FROM calls c{where}) ORDER BY a.call_id, a.seq")  # fmt: skip
        return [self._action(r) for r in self._query(sql, params)]

    def annotations(self, call_id: str) -> list[Annotation]:
        rows = self._query("SELECT id, call_id, turn_idx, wrong, note, author, created_at FROM annotations WHERE call_id = ? ORDER BY id",
                           (call_id,))  # fmt: skip
        return [Annotation(id=int(r[0]), call_id=r[1], turn_index=int(r[2]), wrong=bool(r[3]), note=r[4], author=r[5],
                           created_at=float(r[6])) for r in rows]  # fmt: skip

    def recording(self, call_id: str) -> Recording | None:
        rows = self._query("SELECT call_id, path, sample_rate, channels FROM recordings WHERE call_id = ?", (call_id,))
        return Recording(call_id=rows[0][0], path=rows[0][1], sample_rate=int(rows[0][2]), channels=int(rows[0][3])) if rows else None

    def open_calls(self, instance: str | None = None) -> list[CallRecord]:
        if instance is None:
            return [self._call(r) for r in self._query(self._CALL_SELECT + " WHERE c.ended_at IS NULL ORDER BY c.started_at")]
        sql = self._CALL_SELECT + " WHERE c.ended_at IS NULL AND c.instance = ? ORDER BY c.started_at"
        return [self._call(r) for r in self._query(sql, (instance,))]

    def calls_started_before(self, cutoff: float) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM calls WHERE started_at < ? ORDER BY started_at", (cutoff,))]
