"""Numbered schema migrations for the SQL databases (records, campaigns, desk accounts).

Each database keeps the versions applied to it in a one-column table (one row per version, the
highest is the schema's version). On open, :func:`migrate` applies the missing migrations in
order, each in its own transaction together with its version row: a crash or an error leaves
the database at the last complete version, and the next start carries on from there. Opening
an up-to-date database changes nothing, so every process may run it on every start (the
caller serialises concurrent openers: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock).

A database at a version this code does not know was written by a newer release; it is refused
untouched (:class:`SchemaTooNew`), because running older code on it could lose what the newer
columns hold.

Migrations are written with ``?`` placeholders and run through a :class:`Transaction`, which
converts them for its dialect. A released migration is never edited: a change is a new number.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from voicebot.records.errors import StoreError

Dialect = Literal["sqlite", "postgresql"]


class Transaction(Protocol):
    """One open transaction on a store's connection."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one statement (``?`` placeholders); its rows, or ``[]`` when it returns none."""


@dataclass(frozen=True)
class Migration:
    """Version ``version``: ``apply`` brings a database at ``version - 1`` to ``version``."""

    version: int
    why: str  # one line for the log and the operator: what changes and why
    apply: Callable[[Transaction], None]


def statements(make: Callable[[Dialect], Sequence[str]]) -> Callable[[Transaction], None]:
    """A migration step that runs the statements ``make`` writes for the transaction's dialect."""

    def apply(tx: Transaction) -> None:
        for sql in make(tx.dialect):
            tx.execute(sql)

    return apply


def split_statements(text: str) -> list[str]:
    """``text`` cut at ``;`` into statements (DDL without semicolons inside literals)."""
    return [s.strip() for s in text.split(";") if s.strip()]


class SchemaTooNew(StoreError):
    """The database was written by a newer release than this one; nothing was changed."""


def columns(tx: Transaction, table: str) -> set[str]:
    """The column names of ``table`` (empty when there is no such table)."""
    if tx.dialect == "sqlite":
        return {str(r[1]) for r in tx.execute(f"PRAGMA table_info({table})")}
    rows = tx.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
                      (table,))  # fmt: skip
    return {str(r[0]) for r in rows}


def add_missing_columns(tx: Transaction, table: str, wanted: Sequence[tuple[str, str]]) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for each ``(name, type)`` of ``wanted`` the table lacks."""
    have = columns(tx, table)
    for name, kind in wanted:
        if name not in have:
            tx.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def current_version(tx: Transaction, table: str) -> int:
    """The highest version recorded in ``table`` (created when missing; 0 for a new database)."""
    tx.execute(f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER NOT NULL)")
    rows = tx.execute(f"SELECT MAX(version) FROM {table}")
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def migrate(begin: Callable[[], AbstractContextManager[Transaction]], migrations: Sequence[Migration], *, table: str,
            what: str) -> list[int]:  # fmt: skip
    """Bring the database to the last of ``migrations``; the versions applied now (``[]`` if none).

    ``begin`` opens one transaction (committed when its block ends, rolled back on an error);
    ``table`` keeps the versions; ``what`` names the database in errors (no password in it).
    """
    _check_numbering(migrations)
    latest = migrations[-1].version if migrations else 0
    applied: list[int] = []
    while True:
        with begin() as tx:
            version = current_version(tx, table)
            if version > latest:
                raise SchemaTooNew(
                    f"{what} is at schema version {version} but this voicebot knows versions up to {latest}: a newer "
                    f"release wrote it. Run that release (or a later one) against it, or point this one at another "
                    f"database; nothing was changed (older code could lose what the newer columns hold)."
                )
            if version == latest:
                return applied
            step = migrations[version]  # numbering checked: migrations[k].version == k + 1
            try:
                step.apply(tx)
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001 - sqlite3 and psycopg each raise their own errors
                raise StoreError(f"{what}: migration {step.version} ({step.why}) failed and was rolled back, the database "
                                 f"stays at version {version}: {exc}") from exc  # fmt: skip
            tx.execute(f"INSERT INTO {table} (version) VALUES (?)", (step.version,))
        applied.append(step.version)


def _check_numbering(migrations: Sequence[Migration]) -> None:
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... without gaps; got {numbers}")


class SqliteTransaction:
    """A :class:`Transaction` on a SQLite cursor (``?`` is SQLite's own placeholder)."""

    dialect: Dialect = "sqlite"

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cur = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._cur.execute(sql, tuple(params))
        return self._cur.fetchall() if self._cur.description is not None else []


@contextmanager
def sqlite_transaction(conn: sqlite3.Connection) -> Iterator[Transaction]:
    """One ``BEGIN IMMEDIATE`` transaction on ``conn``, committed at the end of the block.

    IMMEDIATE takes the write lock before the version is read: a second process opening the
    same file waits (its busy timeout) and then finds the migrations done.
    """
    cur = conn.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE")
        yield SqliteTransaction(cur)
        cur.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        cur.close()


@contextmanager
def locked(lock: threading.Lock | threading.RLock, inner: AbstractContextManager[Transaction]) -> Iterator[Transaction]:
    """``inner`` entered while holding ``lock`` (a connection shared by threads)."""
    with lock, inner as tx:
        yield tx
