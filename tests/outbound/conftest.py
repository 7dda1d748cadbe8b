"""Fixtures for the outbound tests: a seeded order store on a pinned calendar, the campaign
store on a real database file (and a real PostgreSQL server where the test asks for it), a
virtual wall clock, and a stand-in dialer for scheduler tests (the real channels have their
own tests: sipp/baresip for SIP, the Twilio stand-in for Twilio)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.records.conftest import pg_server  # noqa: F401 - a real PostgreSQL 15 for the store tests
from voicebot.clock import VirtualClock
from voicebot.dialogue.orders.sqlite_store import SqliteOrderStore
from voicebot.outbound.options import OutboundOptions
from voicebot.outbound.scheduler import CallPlan
from voicebot.outbound.store import OutboundStore
from voicebot.records.store import open_store

TODAY = date(2026, 3, 16)  # a Monday; US summer time has begun (8 March), Europe's has not (29 March)
EPOCH = datetime(2026, 3, 16, 6, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def orders(tmp_path: Path) -> SqliteOrderStore:
    return SqliteOrderStore(tmp_path / "orders.sqlite3", today=lambda: TODAY)


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite3'}"
    return request.getfixturevalue("pg_server").new_database()


@pytest.fixture
def outbound_store(store_url: str) -> Iterator[OutboundStore]:
    records = open_store(store_url)
    try:
        yield OutboundStore(records)
    finally:
        records.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=EPOCH)


def options(**kw) -> OutboundOptions:
    return OutboundOptions(**{"poll_s": 60.0, **kw})


@dataclass
class StandInDialer:
    """Records each call with its virtual time; the call lasts ``call_s`` virtual seconds and
    ends with the scripted outcome for the customer (default ``reached``)."""

    clock: VirtualClock
    outcomes_by_customer: dict[str, list[str]] = field(default_factory=dict)
    call_s: float = 120.0
    channel: str = "sip"
    placed: list[tuple[float, CallPlan]] = field(default_factory=list)
    live: int = 0
    sleeping: int = 0
    max_live: int = 0
    finish: object = None  # set by the test: Outcomes.finish

    async def place(self, plan: CallPlan) -> None:
        self.placed.append((self.clock.now(), plan))
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        try:
            await self.finish.__self__.progress(plan.attempt.id, state="in_call", answered_at=self.clock.now())  # type: ignore[attr-defined]
            self.sleeping += 1
            try:
                await self.clock.sleep_until(self.clock.now() + self.call_s)
            finally:
                self.sleeping -= 1
            script = self.outcomes_by_customer.get(plan.target.customer_id) or ["reached"]
            outcome = script.pop(0) if len(script) > 1 else script[0]
            await self.finish(plan.attempt.id, outcome, {"stand_in": True})  # type: ignore[operator]
        finally:
            self.live -= 1


async def settle(*dialers: StandInDialer, timeout: float = 10.0) -> None:
    """Until every live stand-in call waits on the virtual clock again (its outcome, written in a
    thread, is in the store): state polled, bounded by ``timeout``; nothing is timed."""

    async def _wait() -> None:
        for _ in range(3):  # placements just spawned reach their dialer
            await asyncio.sleep(0)
        while any(d.live != d.sleeping for d in dialers):
            await asyncio.sleep(0.002)

    await asyncio.wait_for(_wait(), timeout)


async def run_for(clock: VirtualClock, scheduler, dialers: list[StandInDialer], seconds: float, step: float = 60.0) -> None:
    """Tick the scheduler every ``step`` virtual seconds for ``seconds``; calls progress in between."""
    end = clock.now() + seconds
    while clock.now() < end:
        await scheduler.tick()
        await settle(*dialers)
        clock.advance(step)
        await settle(*dialers)
