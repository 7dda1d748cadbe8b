"""Campaign state in the call-record database (SQLite or PostgreSQL): campaigns, targets,
attempts, the do-not-call list and consents. Everything the scheduler decides is written here
first, so a crash loses nothing and a restart sends nothing twice.

The tables live beside the call records and share the record store's connection and its lock
(``SqlRecordStore._run``: one transaction per call, ``?`` placeholders, either dialect; with
``fetch`` every statement must return rows, hence the RETURNING clauses), so a
fleet on PostgreSQL shares campaigns the way it shares calls. Their schema comes in numbered
migrations (:mod:`voicebot.records.migrations`) applied at open; ``outbound_schema`` keeps the versions.

Exactly-once per attempt: a target goes ``pending -> dialing`` and its attempt row is inserted
in one transaction, guarded by the target's attempt count and the attempt's primary key
``campaign:customer:order:n``: of two processes (or a campaign started twice) only one wins.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voicebot.dialogue.orders.models import normalise_phone
from voicebot.records.migrations import Migration, migrate, split_statements, statements

from .rules import Target

LIVE_STATES = ("dialing", "ringing", "in_call")
# Outcomes a later, better-informed writer may replace (the call itself ran on after a restart).
PROVISIONAL = ("interrupted", "no_connect")

_DDL = """
CREATE TABLE IF NOT EXISTS outbound_campaigns (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, days INTEGER NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    created_at {float} NOT NULL, updated_at {float} NOT NULL, created_by TEXT, selected INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbound_targets (
    campaign_id TEXT NOT NULL, customer_id TEXT NOT NULL, order_id TEXT NOT NULL, phone TEXT NOT NULL, country TEXT, language TEXT,
    name TEXT, reason TEXT NOT NULL, facts TEXT NOT NULL DEFAULT '{{}}', state TEXT NOT NULL, outcome TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    next_at {float}, last_at {float}, note TEXT, created_at {float} NOT NULL,
    PRIMARY KEY (campaign_id, customer_id, order_id)
);
CREATE INDEX IF NOT EXISTS outbound_targets_due ON outbound_targets (state, next_at);
CREATE TABLE IF NOT EXISTS outbound_attempts (
    id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, customer_id TEXT NOT NULL, order_id TEXT NOT NULL, attempt_no INTEGER NOT NULL,
    phone TEXT NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, detail TEXT NOT NULL DEFAULT '{{}}', call_id TEXT,
    instance TEXT, created_at {float} NOT NULL, answered_at {float}, ended_at {float}
);
CREATE INDEX IF NOT EXISTS outbound_attempts_customer ON outbound_attempts (customer_id, created_at);
CREATE INDEX IF NOT EXISTS outbound_attempts_live ON outbound_attempts (state);
CREATE TABLE IF NOT EXISTS outbound_dnc (phone TEXT PRIMARY KEY, customer_id TEXT, reason TEXT, source TEXT, created_at {float} NOT NULL);
CREATE TABLE IF NOT EXISTS outbound_consent (customer_id TEXT PRIMARY KEY, granted INTEGER NOT NULL, source TEXT, updated_at {float} NOT NULL)
"""
_FLOAT = {"sqlite": "REAL", "postgresql": "DOUBLE PRECISION"}
# Released text: never edit a migration, add the next number.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "campaigns, targets, attempts, do-not-call list and consents",
              statements(lambda dialect: split_statements(_DDL.format(float=_FLOAT[dialect])))),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


class CampaignConflict(ValueError):
    """A campaign of that name exists with another rule: pick another name or resume that one."""


@dataclass(frozen=True)
class Campaign:
    id: str
    rule: str
    days: int
    channel: str
    status: str  # running | paused | done
    created_at: float
    updated_at: float
    created_by: str | None = None
    selected: int = 0


@dataclass(frozen=True)
class TargetRow:
    campaign_id: str
    customer_id: str
    order_id: str
    phone: str
    country: str
    language: str
    name: str
    reason: str
    facts: dict[str, Any]
    state: str  # pending | dialing | in_call | done | skipped
    outcome: str | None
    attempts: int
    next_at: float | None
    last_at: float | None
    note: str | None


@dataclass(frozen=True)
class Attempt:
    id: str
    campaign_id: str
    customer_id: str
    order_id: str
    attempt_no: int
    phone: str
    channel: str
    state: str  # dialing | ringing | in_call | ended
    outcome: str | None
    detail: dict[str, Any]
    call_id: str | None
    instance: str | None
    created_at: float
    answered_at: float | None
    ended_at: float | None


_T_COLS = "campaign_id, customer_id, order_id, phone, country, language, name, reason, facts, state, outcome, attempts, next_at, last_at, note"
_A_COLS = "id, campaign_id, customer_id, order_id, attempt_no, phone, channel, state, outcome, detail, call_id, instance, created_at, answered_at, ended_at"
_C_COLS = "id, rule, days, channel, status, created_at, updated_at, created_by, selected"


def _target(r: Sequence[Any]) -> TargetRow:
    return TargetRow(*r[:8], json.loads(r[8] or "{}"), r[9], r[10], int(r[11]), r[12], r[13], r[14])  # type: ignore[arg-type]


def _attempt(r: Sequence[Any]) -> Attempt:
    return Attempt(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], r[8], json.loads(r[9] or "{}"), *r[10:])  # type: ignore[arg-type]


def attempt_id(campaign_id: str, customer_id: str, order_id: str, n: int) -> str:
    return f"{campaign_id}:{customer_id}:{order_id}:{n}"


class OutboundStore:
    """Campaign tables over a :class:`~voicebot.records.sql_store.SqlRecordStore`."""

    def __init__(self, records: Any) -> None:
        if not hasattr(records, "_run") or not hasattr(records, "_transaction"):
            raise TypeError("campaigns need the SQL record store (sqlite:/// or postgresql://), see store.url")
        self.records = records
        self.dialect = records.dialect
        self._run = records._run  # the record store's connection, lock and transactions
        migrate(records._transaction, MIGRATIONS, table="outbound_schema", what="the campaign tables of the record store")

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._run([(sql, tuple(params))], fetch=True)

    # -- campaigns ---------------------------------------------------------------------------
    def create_campaign(self, c: Campaign) -> tuple[Campaign, bool]:
        """Insert ``c``; when a campaign of that id exists, return it (started twice is one campaign)."""
        rows = self._q(f"INSERT INTO outbound_campaigns ({_C_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                       (c.id, c.rule, c.days, c.channel, c.status, c.created_at, c.updated_at, c.created_by, c.selected))
        existing = self.campaign(c.id)
        assert existing is not None
        if not rows and (existing.rule, existing.days) != (c.rule, c.days):
            raise CampaignConflict(f"campaign {c.id!r} already exists with rule {existing.rule} --days {existing.days}; "
                                   "resume it, or start a new campaign under another name")
        return existing, bool(rows)

    def campaign(self, campaign_id: str) -> Campaign | None:
        rows = self._q(f"SELECT {_C_COLS} FROM outbound_campaigns WHERE id = ?", (campaign_id,))
        return Campaign(*rows[0]) if rows else None

    def campaigns(self) -> list[Campaign]:
        return [Campaign(*r) for r in self._q(f"SELECT {_C_COLS} FROM outbound_campaigns ORDER BY created_at DESC, id")]

    def set_campaign(self, campaign_id: str, now: float, **fields: Any) -> bool:
        allowed = {"status", "selected"}
        if set(fields) - allowed or not fields:
            raise ValueError(f"campaign fields to set: {sorted(allowed)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        return bool(self._q(f"UPDATE outbound_campaigns SET {sets}, updated_at = ? WHERE id = ? RETURNING id", (*fields.values(), now, campaign_id)))

    # -- targets -----------------------------------------------------------------------------
    def add_targets(self, campaign_id: str, targets: Sequence[Target], now: float) -> int:
        """Insert new targets (a customer and order already in the campaign is left as it is)."""
        added = 0
        for t in targets:
            rows = self._q(f"INSERT INTO outbound_targets ({_T_COLS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, 0, NULL, NULL, NULL, ?) "
                           "ON CONFLICT (campaign_id, customer_id, order_id) DO NOTHING RETURNING order_id",
                           (campaign_id, t.customer_id, t.order_id, normalise_phone(t.phone), t.country, t.language, t.name, t.reason,
                            json.dumps(t.facts, sort_keys=True), now))
            added += bool(rows)
        return added

    def targets(self, campaign_id: str, state: str | None = None) -> list[TargetRow]:
        sql = f"SELECT {_T_COLS} FROM outbound_targets WHERE campaign_id = ?" + (" AND state = ?" if state else "") + " ORDER BY customer_id, order_id"
        return [_target(r) for r in self._q(sql, (campaign_id, state) if state else (campaign_id,))]

    def target(self, campaign_id: str, customer_id: str, order_id: str) -> TargetRow | None:
        rows = self._q(f"SELECT {_T_COLS} FROM outbound_targets WHERE campaign_id = ? AND customer_id = ? AND order_id = ?",
                       (campaign_id, customer_id, order_id))
        return _target(rows[0]) if rows else None

    def due(self, now: float, limit: int = 50) -> list[TargetRow]:
        """Pending targets of running campaigns whose time has come, the longest-waiting first."""
        sql = (f"SELECT {', '.join('t.' + c.strip() for c in _T_COLS.split(','))} FROM outbound_targets t "
               "JOIN outbound_campaigns c ON c.id = t.campaign_id WHERE c.status = 'running' AND t.state = 'pending' "
               "AND (t.next_at IS NULL OR t.next_at <= ?) ORDER BY COALESCE(t.next_at, t.created_at), t.campaign_id, t.customer_id LIMIT ?")
        return [_target(r) for r in self._q(sql, (now, int(limit)))]

    def postpone(self, t: TargetRow, next_at: float, note: str) -> None:
        self._q("UPDATE outbound_targets SET next_at = ?, note = ? WHERE campaign_id = ? AND customer_id = ? AND order_id = ? AND state = 'pending' "
                "RETURNING order_id", (next_at, note, t.campaign_id, t.customer_id, t.order_id))

    def skip(self, t: TargetRow, outcome: str, note: str) -> None:
        """The target will not be called (do-not-call, no consent, resolved meanwhile): final."""
        self._q("UPDATE outbound_targets SET state = 'skipped', outcome = ?, note = ? WHERE campaign_id = ? AND customer_id = ? AND order_id = ? "
                "AND state = 'pending' RETURNING order_id", (outcome, note, t.campaign_id, t.customer_id, t.order_id))

    def claim(self, t: TargetRow, channel: str, instance: str, now: float) -> Attempt | None:
        """``pending -> dialing`` and the attempt row, in one transaction; None when someone else won."""
        n = t.attempts + 1
        aid = attempt_id(t.campaign_id, t.customer_id, t.order_id, n)
        key = (t.campaign_id, t.customer_id, t.order_id)
        rows = self._run([
            ("UPDATE outbound_targets SET state = 'dialing', attempts = ?, last_at = ?, note = NULL "
             "WHERE campaign_id = ? AND customer_id = ? AND order_id = ? AND state = 'pending' AND attempts = ? RETURNING order_id", (n, now, *key, t.attempts)),
            (f"INSERT INTO outbound_attempts ({_A_COLS}) SELECT ?, ?, ?, ?, ?, ?, ?, 'dialing', NULL, '{{}}', NULL, ?, ?, NULL, NULL "
             "WHERE EXISTS (SELECT 1 FROM outbound_targets WHERE campaign_id = ? AND customer_id = ? AND order_id = ? AND state = 'dialing' "
             "AND attempts = ?) ON CONFLICT (id) DO NOTHING RETURNING id", (aid, *key, n, t.phone, channel, instance, now, *key, n)),
        ], fetch=True)
        return self.attempt(aid) if rows else None

    # -- attempts ----------------------------------------------------------------------------
    def attempt(self, aid: str) -> Attempt | None:
        rows = self._q(f"SELECT {_A_COLS} FROM outbound_attempts WHERE id = ?", (aid,))
        return _attempt(rows[0]) if rows else None

    def attempts(self, campaign_id: str | None = None, live: bool = False, instance: str | None = None) -> list[Attempt]:
        clauses, params = [], []
        if campaign_id:
            clauses.append("campaign_id = ?")
            params.append(campaign_id)
        if live:
            clauses.append(f"state IN ({', '.join('?' * len(LIVE_STATES))})")
            params.extend(LIVE_STATES)
        if instance:
            clauses.append("instance = ?")
            params.append(instance)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return [_attempt(r) for r in self._q(f"SELECT {_A_COLS} FROM outbound_attempts{where} ORDER BY created_at, id", params)]

    def update_attempt(self, aid: str, *, state: str | None = None, call_id: str | None = None, answered_at: float | None = None,
                       detail: dict[str, Any] | None = None) -> bool:
        """Progress of a live attempt (ringing, in the call, its call id); nothing once it has ended."""
        sets, params = [], []
        for col, value in (("state", state), ("call_id", call_id), ("answered_at", answered_at)):
            if value is not None:
                sets.append(f"{col} = ?")
                params.append(value)
        if detail is not None:
            sets.append("detail = ?")
            params.append(json.dumps(detail, sort_keys=True, default=str))
        if not sets:
            return False
        rows = self._q(f"UPDATE outbound_attempts SET {', '.join(sets)} WHERE id = ? AND state <> 'ended' RETURNING id", (*params, aid))
        if rows and state == "in_call":
            a = self.attempt(aid)
            if a is not None:
                self._q("UPDATE outbound_targets SET state = 'in_call' WHERE campaign_id = ? AND customer_id = ? AND order_id = ? "
                        "AND state = 'dialing' AND attempts = ? RETURNING order_id", (a.campaign_id, a.customer_id, a.order_id, a.attempt_no))
        return bool(rows)

    def finish(self, aid: str, outcome: str, detail: dict[str, Any], now: float, retry_at: float | None, final_outcome: str | None = None) -> bool:
        """End the attempt with ``outcome`` and settle its target: pending again at ``retry_at``,
        or done. False when the attempt had already ended (the first writer wins, except over
        a provisional outcome such as ``interrupted``)."""
        a = self.attempt(aid)
        if a is None:
            return False
        key = (a.campaign_id, a.customer_id, a.order_id)
        open_ = f"(state <> 'ended' OR outcome IN ({', '.join('?' * len(PROVISIONAL))}))"
        target_state = "pending" if retry_at is not None else "done"
        rows = self._run([
            (f"UPDATE outbound_targets SET state = ?, outcome = ?, next_at = ?, note = NULL WHERE campaign_id = ? AND customer_id = ? "
             f"AND order_id = ? AND attempts = ? AND EXISTS (SELECT 1 FROM outbound_attempts WHERE id = ? AND {open_}) RETURNING order_id",
             (target_state, final_outcome or outcome, retry_at, *key, a.attempt_no, aid, *PROVISIONAL)),
            (f"UPDATE outbound_attempts SET state = 'ended', outcome = ?, detail = ?, ended_at = ? WHERE id = ? AND {open_} RETURNING id",
             (outcome, json.dumps({**a.detail, **detail}, sort_keys=True, default=str), now, aid, *PROVISIONAL)),
        ], fetch=True)
        return bool(rows)

    def calls_since(self, customer_id: str, since: float) -> int:
        """Attempts on this customer since ``since``, over every campaign (the daily limit)."""
        return int(self._q("SELECT COUNT(*) FROM outbound_attempts WHERE customer_id = ? AND created_at >= ?", (customer_id, since))[0][0])

    def contacted_elsewhere(self, t: TargetRow) -> str | None:
        """Another campaign that reached this customer about this order for the same reason (or is
        calling them now): its id. Two campaigns over one rule must not call twice."""
        rows = self._q("SELECT campaign_id FROM outbound_targets WHERE customer_id = ? AND order_id = ? AND reason = ? AND campaign_id <> ? "
                       "AND (state IN ('dialing', 'in_call') OR outcome IN ('reached', 'voicemail_left', 'opted_out', 'handed_to_agent', 'wrong_person')) "
                       "LIMIT 1", (t.customer_id, t.order_id, t.reason, t.campaign_id))
        return rows[0][0] if rows else None

    # -- do-not-call and consent -----------------------------------------------------------------
    def add_dnc(self, phone: str, now: float, *, customer_id: str | None = None, reason: str = "", source: str = "") -> None:
        self._q("INSERT INTO outbound_dnc (phone, customer_id, reason, source, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (phone) "
                "DO UPDATE SET reason = excluded.reason, source = excluded.source RETURNING phone",
                (normalise_phone(phone), customer_id, reason, source, now))

    def remove_dnc(self, phone: str) -> bool:
        return bool(self._q("DELETE FROM outbound_dnc WHERE phone = ? RETURNING phone", (normalise_phone(phone),)))

    def is_dnc(self, phone: str) -> bool:
        return bool(self._q("SELECT 1 FROM outbound_dnc WHERE phone = ?", (normalise_phone(phone),)))

    def dnc(self) -> list[tuple[str, str | None, str, str, float]]:
        return [tuple(r) for r in self._q("SELECT phone, customer_id, reason, source, created_at FROM outbound_dnc ORDER BY created_at")]  # type: ignore[misc]

    def set_consent(self, customer_id: str, granted: bool, now: float, source: str = "") -> None:
        self._q("INSERT INTO outbound_consent (customer_id, granted, source, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) "
                "DO UPDATE SET granted = excluded.granted, source = excluded.source, updated_at = excluded.updated_at RETURNING customer_id",
                (customer_id, int(granted), source, now))

    def consent(self, customer_id: str) -> bool | None:
        """True (granted), False (revoked) or None (never recorded)."""
        rows = self._q("SELECT granted FROM outbound_consent WHERE customer_id = ?", (customer_id,))
        return bool(rows[0][0]) if rows else None

    # -- watching ----------------------------------------------------------------------------
    def summary(self, campaign_id: str) -> dict[str, Any]:
        """Targets by state and by outcome, and attempts by outcome (the outcome table)."""
        states = dict(self._q("SELECT state, COUNT(*) FROM outbound_targets WHERE campaign_id = ? GROUP BY state", (campaign_id,)))
        outcomes = dict(self._q("SELECT COALESCE(outcome, '-'), COUNT(*) FROM outbound_targets WHERE campaign_id = ? GROUP BY outcome", (campaign_id,)))
        attempts = dict(self._q("SELECT COALESCE(outcome, state), COUNT(*) FROM outbound_attempts WHERE campaign_id = ? GROUP BY COALESCE(outcome, state)",
                                (campaign_id,)))
        return {"targets": sum(states.values()), "states": states, "outcomes": outcomes, "attempts": attempts}
