"""Agent accounts: scrypt-hashed passwords, expiring sessions, agent and supervisor roles.

Stored in SQLite (``<home>/handoff.sqlite3``). All methods are blocking (scrypt costs ~50 ms
of CPU on purpose): call them from a thread (``asyncio.to_thread``) in a server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from voicebot.records.migrations import Migration, migrate, split_statements, sqlite_transaction, statements

from .routing import Agent, agent_from_dict

SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}  # OWASP's minimum for scrypt
# Released text: never edit a migration, add the next number.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, password TEXT NOT NULL, role TEXT NOT NULL, profile TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, agent_id TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS taken (call_id TEXT NOT NULL, agent_id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (call_id, agent_id));
CREATE INDEX IF NOT EXISTS taken_by_agent ON taken (agent_id, at);
"""
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "agents, sessions and the calls each agent took", statements(lambda _dialect: split_statements(SCHEMA_V1))),
)
TAKEN_LISTED = 5000  # the QA pages list an agent's most recent calls (a bound on the query, not a retention)


class AuthError(Exception):
    """Wrong name or password, an unknown or expired session (the message is safe to show)."""


@dataclass(frozen=True)
class User:
    id: str
    role: str  # "agent" | "supervisor"
    agent: Agent

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    def may_see(self, agent_id: str | None) -> bool:
        """An agent sees their own calls (and unassigned ones); a supervisor sees all."""
        return self.supervisor or agent_id in (None, self.id)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """A real hash to check unknown names against: one scrypt either way, so timing tells nothing."""
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(12)))
    return _DUMMY[0]


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **SCRYPT)
    return hmac.compare_digest(got.hex(), digest)


def _agent_json(agent: Agent) -> str:
    from dataclasses import asdict

    d = asdict(agent)
    for k in ("load", "status"):
        d.pop(k)
    return json.dumps(d)


class Accounts:
    def __init__(self, path: Path, session_ttl_s: float = 8 * 3600, now: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        try:
            migrate(lambda: sqlite_transaction(self.db), MIGRATIONS, table="schema_version", what=f"the desk accounts database {path}")
        except BaseException:
            self.db.close()
            raise
        self.ttl = session_ttl_s
        self.now = now
        self._lock = threading.Lock()

    def add(self, agent: Agent, password: str, role: str = "agent") -> None:
        if role not in ("agent", "supervisor"):
            raise ValueError("role must be agent or supervisor")
        if len(password) < 8:
            raise ValueError("passwords need at least 8 characters")
        agent = replace(agent, supervisor=role == "supervisor")
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO agents VALUES (?,?,?,?)", (agent.id, hash_password(password), role, _agent_json(agent)))

    def list_agents(self) -> list[Agent]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM agents ORDER BY id").fetchall()]
        return [u.agent for u in (self._user(i) for i in ids) if u is not None]

    def _user(self, agent_id: str) -> User | None:
        row = self.db.execute("SELECT role, profile FROM agents WHERE id=?", (agent_id,)).fetchone()
        if row is None:
            return None
        return User(agent_id, row[0], agent_from_dict(json.loads(row[1])))

    def get(self, agent_id: str) -> User | None:
        """The account of ``agent_id`` (its stored profile), or None."""
        return self._user(agent_id)

    def remove(self, agent_id: str) -> bool:
        """Delete an account and end its sessions (the calls it took stay in the records); False if there was none."""
        with self._lock, self.db:
            gone = self.db.execute("DELETE FROM agents WHERE id=?", (agent_id,)).rowcount
            self.db.execute("DELETE FROM sessions WHERE agent_id=?", (agent_id,))
        return bool(gone)

    def update_profile(self, agent: Agent) -> None:
        with self._lock, self.db:
            self.db.execute("UPDATE agents SET profile=? WHERE id=?", (_agent_json(agent), agent.id))

    def sign_in(self, agent_id: str, password: str) -> tuple[str, User]:
        """A new session token for a right password; AuthError otherwise (same message either way)."""
        row = self.db.execute("SELECT password FROM agents WHERE id=?", (agent_id,)).fetchone()
        ok = check_password(password, row[0] if row else _dummy_hash())  # one scrypt for known and unknown names alike
        user = self._user(agent_id) if row and ok else None
        if user is None:
            raise AuthError("wrong name or password")
        token = secrets.token_urlsafe(32)
        with self._lock, self.db:
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", (self.now(),))
            self.db.execute("INSERT INTO sessions VALUES (?,?,?)", (_h(token), agent_id, self.now() + self.ttl))
        return token, user

    def user_for(self, token: str | None) -> User:
        if not token:
            raise AuthError("not signed in")
        row = self.db.execute("SELECT agent_id, expires_at FROM sessions WHERE token_hash=?", (_h(token),)).fetchone()
        if row is None:
            raise AuthError("unknown session; sign in again")
        if row[1] < self.now():
            self.sign_out(token)
            raise AuthError("session expired; sign in again")
        user = self._user(row[0])
        if user is None:
            raise AuthError("account removed")
        return user

    def note_taken(self, call_id: str, agent_id: str) -> None:
        """``agent_id`` accepted ``call_id`` on the desk: they may read its record in QA."""
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO taken VALUES (?,?,?)", (call_id, agent_id, self.now()))

    def calls_taken_by(self, agent_id: str) -> list[str]:
        """The calls ``agent_id`` accepted, most recent first (at most :data:`TAKEN_LISTED`)."""
        with self._lock:
            rows = self.db.execute("SELECT call_id FROM taken WHERE agent_id=? ORDER BY at DESC LIMIT ?", (agent_id, TAKEN_LISTED)).fetchall()
        return [r[0] for r in rows]

    def sign_out(self, token: str) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM sessions WHERE token_hash=?", (_h(token),))

    def close(self) -> None:
        self.db.close()


def _h(token: str) -> str:
    """Sessions are stored hashed: a copy of the database does not hand out live sessions."""
    return hashlib.sha256(token.encode()).hexdigest()
