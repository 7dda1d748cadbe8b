"""The record store interface and :func:`open_store`, which picks an implementation by URL.

Every method is synchronous and short (one small transaction). Callers on the asyncio loop
must not call them directly: the recorder goes through :class:`voicebot.records.writer.StoreWriter`
(one thread), the web pages run in FastAPI's thread pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from voicebot.events import CallEvent
from voicebot.records.errors import StoreError
from voicebot.records.model import ActionRecord, Annotation, CallFilter, CallRecord, EventRecord, Recording, TurnRecord, Voicemail

__all__ = ["RecordStore", "StoreError", "open_store"]  # StoreError lives in .errors (the implementations raise it)


@runtime_checkable
class RecordStore(Protocol):
    dialect: str

    def create_call(self, call: CallRecord) -> None:
        """Insert the call row (idempotent: a second insert of the same id updates it)."""

    def update_call(self, call_id: str, **fields: Any) -> None:
        """Set some columns of a running call (``language``, ``handoff_reason``, ...)."""

    def end_call(self, call_id: str, ended_at: float, outcome: str, reason: str | None = None) -> None: ...

    def save_turn(self, turn: TurnRecord) -> None:
        """Insert or replace turn ``(call_id, index)``; called several times as a turn fills in."""

    def add_events(self, call_id: str, events: list[tuple[int, CallEvent]]) -> None:
        """Append ``(seq, event)`` pairs; a seq already stored is ignored (retries are safe)."""

    def add_action(self, action: ActionRecord) -> None: ...

    def set_recording(self, recording: Recording) -> None: ...

    def annotate(self, annotation: Annotation) -> int:
        """Store a QA mark and return its id."""

    def get_call(self, call_id: str) -> CallRecord | None: ...

    def turns(self, call_id: str) -> list[TurnRecord]: ...

    def events(self, call_id: str) -> list[EventRecord]: ...

    def actions(self, call_id: str) -> list[ActionRecord]: ...

    def annotations(self, call_id: str) -> list[Annotation]: ...

    def recording(self, call_id: str) -> Recording | None: ...

    def list_calls(self, flt: CallFilter | None = None) -> list[CallRecord]:
        """Newest first, with ``turn_count`` and ``interruptions`` filled in."""

    def all_turns(self, since: float | None = None, until: float | None = None) -> list[TurnRecord]:
        """Turns of the calls started in ``[since, until)`` (analytics)."""

    def all_actions(self, since: float | None = None, until: float | None = None) -> list[ActionRecord]: ...

    def open_calls(self, instance: str | None = None) -> list[CallRecord]:
        """Calls that have no end (running, or left behind by a crash); only ``instance``'s when given."""

    def calls_started_before(self, cutoff: float) -> list[str]: ...

    def delete_calls(self, call_ids: list[str]) -> None:
        """Delete the calls and everything attached to them, voicemail rows included (not the files)."""

    def add_voicemail(self, vm: Voicemail) -> None:
        """Insert or replace the voicemail of ``vm.call_id`` (one per call)."""

    def get_voicemail(self, call_id: str) -> Voicemail | None: ...

    def voicemails(self, languages: Sequence[str] | None = None, status: str | None = None, limit: int = 200) -> list[Voicemail]:
        """Newest first; only ``languages`` (None = all) and ``status`` (None = any)."""

    def set_voicemail_status(self, call_id: str, status: str, by: str | None, at: float | None) -> bool: ...

    def voicemails_before(self, cutoff: float) -> list[Voicemail]: ...

    def delete_voicemails(self, call_ids: list[str]) -> None:
        """Delete voicemail rows (not their files)."""

    def close(self) -> None: ...


def open_store(url: str) -> RecordStore:
    """Open (and create or migrate) the store at ``url``.

    ``sqlite:///relative/path.sqlite3``, ``sqlite:////absolute/path.sqlite3``, ``sqlite://:memory:``
    or ``postgresql://user:password@host:port/dbname`` (also ``postgres://``).
    """
    if url.startswith("sqlite:"):
        from voicebot.records.sqlite_store import SqliteRecordStore

        return SqliteRecordStore(_sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from voicebot.records.postgres_store import PostgresRecordStore

        return PostgresRecordStore(url.replace("postgresql+psycopg://", "postgresql://", 1))
    raise StoreError(f"unsupported record store URL {url!r}: use sqlite:///path or postgresql://user@host:port/db")


def _sqlite_path(url: str) -> str:
    """``sqlite:///a/b`` -> ``a/b``; ``sqlite:////a/b`` -> ``/a/b``; ``sqlite://:memory:``."""
    rest = url[len("sqlite:") :]
    if rest in ("", "//", "///", "//:memory:", "///:memory:"):
        return ":memory:"
    if not rest.startswith("///"):
        raise StoreError(f"bad SQLite URL {url!r}: write sqlite:///relative/path or sqlite:////absolute/path")
    return rest[3:]
