"""The embedded default store: one SQLite file in WAL mode.

WAL with ``synchronous=NORMAL``: a commit survives the process being killed (kill -9); only
a power cut can lose the last few commits. Readers (the QA pages) never block the writer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from voicebot.records.schema import SCHEMA_VERSION, ddl
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
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the SQLite record store at {self.path}: {exc} (check the path and its permissions)") from exc

    def _migrate(self) -> None:
        stmts: list[Statement] = [(s, ()) for s in ddl("sqlite")]
        self._run(stmts)
        self._add_columns()
        if not self._query("SELECT version FROM schema_version"):
            self._run([("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))])

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
