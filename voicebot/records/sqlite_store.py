"""The embedded default store: one SQLite file in WAL mode.

WAL with ``synchronous=NORMAL``: a commit survives the process being killed (kill -9); only
a power cut can lose the last few commits. Readers (the QA pages) never block the writer.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from voicebot.records.migrations import Transaction, locked, sqlite_transaction
from voicebot.records.sql_store import SqlRecordStore, Statement
from voicebot.records.errors import StoreError


class SqliteRecordStore(SqlRecordStore):
    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves; one connection shared by
            # threads under self._lock.
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the SQLite record store at {self.path}: {exc} (check the path and its permissions)") from exc
        try:
            self._open_schema(f"at {self.path}")
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot prepare the SQLite record store at {self.path}: {exc} (check the file and its permissions)") from exc
        except BaseException:
            self._conn.close()
            raise

    def _transaction(self) -> AbstractContextManager[Transaction]:
        return locked(self._lock, sqlite_transaction(self._conn))

    def _run(self, statements: list[Statement], fetch: bool = False) -> list[tuple]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                if len(statements) > 1:
                    cur.execute("BEGIN IMMEDIATE")
                rows: list[tuple] = []
                for sql, params in statements:
                    cur.execute(sql, tuple(params))
                    if fetch:
                        rows = cur.fetchall()
                if len(statements) > 1:
                    cur.execute("COMMIT")
                return rows
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

