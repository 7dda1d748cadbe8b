"""The fleet store: PostgreSQL through psycopg 3, shared by several bot processes.

One connection per process in autocommit mode, each write its own short transaction. If
the server drops the connection (restart, failover) the store reconnects once and retries.
"""

from __future__ import annotations

from voicebot.records.schema import SCHEMA_VERSION, ddl
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
        self._migrate()

    def _connect(self):  # type: ignore[no-untyped-def]
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=self._timeout)
        except self._psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL record store: {exc} (check the URL, that the server "
                             "runs and accepts this user)") from exc  # fmt: skip

    def _migrate(self) -> None:
        with self._lock:
            self._conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                self._run([(s, ()) for s in ddl("postgresql")])
                self._add_columns()
                if not self._query("SELECT version FROM schema_version"):
                    self._run([("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))])
            finally:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

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
