"""The fleet store: PostgreSQL through psycopg 3, shared by several bot processes.

One connection per process in autocommit mode, each write its own short transaction. If
the server drops the connection (restart, failover) the store reconnects once and retries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from voicebot.records.migrations import Dialect
from voicebot.records.paramstyle import qmark_to_format
from voicebot.records.sql_store import SqlRecordStore, Statement
from voicebot.records.errors import StoreError

_MIGRATION_LOCK = 0x766F6963  # pg_advisory_lock key: processes starting together migrate one at a time


class PostgresRecordStore(SqlRecordStore):
    dialect = "postgresql"
    placeholder = "%s"

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError('PostgreSQL records need psycopg 3: pip install "psycopg[binary]"') from exc
        self._psycopg = psycopg
        self.url = url
        self._timeout = connect_timeout_s
        self._conn = self._connect()
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self):  # type: ignore[no-untyped-def]
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=self._timeout)
        except self._psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL record store: {exc} (check the URL, that the server "
                             "runs and accepts this user)") from exc  # fmt: skip

    def _migrate(self) -> None:
        try:
            self._open_schema(redact_url(self.url))
        except self._psycopg.Error as exc:
            raise StoreError(f"cannot prepare the PostgreSQL record store {redact_url(self.url)}: {exc} (check that "
                             "this user may create tables in the database)") from exc  # fmt: skip

    @contextmanager
    def _transaction(self) -> Iterator[PostgresTransaction]:
        # The transaction-scoped advisory lock makes processes starting together migrate one at a
        # time (also the campaign tables'); the next one then reads the new version and does nothing.
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield PostgresTransaction(cur)

    def _run(self, statements: list[Statement], fetch: bool = False) -> list[tuple]:
        with self._lock:
            try:
                return self._run_once(statements, fetch)
            except self._psycopg.OperationalError:
                if not self._conn.closed:
                    raise
                self._conn = self._connect()  # the server went away; a fresh connection, one retry
                return self._run_once(statements, fetch)

    def _run_once(self, statements: list[Statement], fetch: bool) -> list[tuple]:
        rows: list[tuple] = []
        with self._conn.transaction():
            with self._conn.cursor() as cur:
                for sql, params in statements:
                    cur.execute(self._sql(sql), tuple(params))
                    if fetch:
                        rows = cur.fetchall()
        return rows

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def redact_url(url: str) -> str:
    """``url`` without its password, fit for logs and error messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresTransaction:
    """A :class:`~voicebot.records.migrations.Transaction` on a psycopg cursor (``?`` becomes ``%s``)."""

    dialect: Dialect = "postgresql"

    def __init__(self, cursor: Any) -> None:
        self._cur = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._cur.execute(qmark_to_format(sql), tuple(params))
        return self._cur.fetchall() if self._cur.description is not None else []
