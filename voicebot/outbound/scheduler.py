"""The campaign scheduler: picks due targets, checks each one right before dialing, paces the
calls to what the process can carry, and hands them to the channel's dialer.

Right before a call: the do-not-call list, consent, another campaign having called already,
the customer's local daytime, the per-customer daily limit, and the rule itself (a parcel
delivered since the campaign started is not called about). Pacing: at most ``max_concurrent``
live attempts of this process (counted in the database, so calls that run on after a dialer
returned, like Twilio's, count too) and ``max_per_minute`` new calls.

Time is a wall clock passed in (UNIX seconds): :class:`voicebot.clock.WallClock` live, a
:class:`voicebot.clock.VirtualClock` started at an epoch in tests, so a week of time zones
runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from voicebot.clock import Clock, WallClock
from voicebot.logs import get_logger

from .options import DAY_SECONDS, OutboundOptions
from .outcomes import Outcomes
from .rules import Rule
from .store import Attempt, OutboundStore, TargetRow
from .timezones import UnknownCountry, next_daytime, zones_for

log = get_logger(__name__)


def default_instance() -> str:
    return f"{socket.gethostname()}:{__import__('os').getpid()}"


@dataclass(frozen=True)
class CallPlan:
    """One attempt, as the dialer and the call need it."""

    attempt: Attempt
    target: TargetRow

    def extra(self, options: OutboundOptions) -> dict[str, Any]:
        """``CallContext.extra["outbound"]`` (voicebot.dialogue.outbound.OutboundCall), JSON-safe."""
        t = self.target
        return {"attempt": self.attempt.id, "campaign": t.campaign_id, "customer_id": t.customer_id, "order_id": t.order_id,
                "reason": t.reason, "facts": t.facts, "phone": t.phone, "language": t.language, "identity": options.identity,
                "leave_voicemail": options.leave_voicemail, "callback_number": options.callback_number}


class Dialer(Protocol):
    """Places one call. Returns when it is done with it (SIP: the call has ended; Twilio: Twilio has
    accepted or refused it); reports progress and the end through :class:`Outcomes`."""

    channel: str

    async def place(self, plan: CallPlan) -> None: ...


@dataclass
class TickReport:
    placed: list[str] = field(default_factory=list)  # attempt ids
    postponed: dict[str, str] = field(default_factory=dict)  # target key -> why
    skipped: dict[str, str] = field(default_factory=dict)
    capacity: int = 0


class Scheduler:
    def __init__(self, store: OutboundStore, orders: Any, dialers: dict[str, Dialer], options: OutboundOptions, *,
                 clock: Clock | None = None, instance: str | None = None, today: Callable[[], date] | None = None) -> None:
        self.store = store
        self.orders = orders  # voicebot.dialogue.orders.OrderStore (get_order, cases_for_order)
        self.dialers = dialers
        self.options = options
        self.clock = clock or WallClock()
        self.instance = instance or default_instance()
        self.today = today or (lambda: datetime.fromtimestamp(self.clock.now(), UTC).date())
        self.outcomes = Outcomes(store, options, self.clock.now)
        self._last_dial: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- one pass ----------------------------------------------------------------------------
    async def tick(self) -> TickReport:
        report = TickReport()
        now = self.clock.now()
        await self.sweep(now)
        live = await asyncio.to_thread(self.store.attempts, None, True, self.instance)
        report.capacity = capacity = self.options.max_concurrent - len(live)
        if capacity <= 0:
            return report
        due = await asyncio.to_thread(self.store.due, now, max(10, capacity * 5))
        for t in due:
            if capacity <= 0 or not self._rate_allows(now):
                break
            key = f"{t.campaign_id}:{t.customer_id}:{t.order_id}"
            verdict = await self._check(t, now)
            if verdict is not None:
                kind, why, at = verdict
                if kind == "skip":
                    await asyncio.to_thread(self.store.skip, t, why, why)
                    report.skipped[key] = why
                else:
                    await asyncio.to_thread(self.store.postpone, t, at, why)
                    report.postponed[key] = why
                continue
            campaign = await asyncio.to_thread(self.store.campaign, t.campaign_id)
            channel = campaign.channel if campaign else self.options.channel
            dialer = self.dialers.get(channel)
            if dialer is None:
                await asyncio.to_thread(self.store.postpone, t, now + 300, f"no {channel} dialer in this process")
                report.postponed[key] = f"no {channel} dialer"
                continue
            attempt = await asyncio.to_thread(self.store.claim, t, channel, self.instance, now)
            if attempt is None:
                continue  # another process (or a second start) took it: nothing is sent twice
            self._last_dial = now
            capacity -= 1
            report.placed.append(attempt.id)
            self._spawn(self._place(dialer, CallPlan(attempt, t)))
        return report

    def _rate_allows(self, now: float) -> bool:
        return self._last_dial is None or now - self._last_dial >= 60.0 / self.options.max_per_minute

    async def _check(self, t: TargetRow, now: float) -> tuple[str, str, float] | None:
        """("skip", outcome, 0) or ("postpone", why, when), or None when the call may go now."""
        o, s = self.options, self.store
        if await asyncio.to_thread(s.is_dnc, t.phone):
            return ("skip", "do_not_call", 0.0)
        consent = await asyncio.to_thread(s.consent, t.customer_id)
        if consent is False or (consent is None and o.require_consent):
            return ("skip", "no_consent", 0.0)
        if await asyncio.to_thread(s.contacted_elsewhere, t):
            return ("skip", "called_by_other_campaign", 0.0)
        try:
            zones = zones_for(t.country, o.time_zones)
        except UnknownCountry as exc:
            log.warning("outbound target skipped", extra={"customer": t.customer_id, "why": str(exc)})
            return ("skip", "unknown_time_zone", 0.0)
        when = next_daytime(now, zones, o.call_hours, o.call_days)
        if when is None:
            return ("skip", "no_daytime", 0.0)
        if when > now:
            return ("postpone", "outside local daytime", when)
        if await asyncio.to_thread(s.calls_since, t.customer_id, now - DAY_SECONDS) >= o.max_calls_per_customer_per_day:
            return ("postpone", "daily limit for this customer", now + 3600.0)
        if not await self._still_applies(t):
            return ("skip", "resolved", 0.0)
        return None

    async def _still_applies(self, t: TargetRow) -> bool:
        order = await self.orders.get_order(t.order_id)
        if order is None:
            return False
        cases = await self.orders.cases_for_order(t.order_id) if t.reason == "damage_case" else []
        days = int(t.facts.get("rule_days", 0))
        return Rule(t.reason, days).facts(order, cases, self.today()) is not None

    async def _place(self, dialer: Dialer, plan: CallPlan) -> None:
        try:
            await dialer.place(plan)
        except Exception as exc:  # a dialer bug must not lose the attempt: it ends as an error, retried later
            log.exception("outbound dialer failed", extra={"attempt": plan.attempt.id})
            await self.outcomes.finish(plan.attempt.id, "error", {"error": f"{type(exc).__name__}: {exc}"})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sweep(self, now: float) -> list[str]:
        """Attempts of this process still dialing or ringing past ``connect_timeout_s`` never
        connected (no answer, no status from the network): end them so the target is retried."""
        stuck = [a for a in await asyncio.to_thread(self.store.attempts, None, True, self.instance)
                 if a.state in ("dialing", "ringing") and now - a.created_at >= self.options.connect_timeout_s]
        for a in stuck:
            await self.outcomes.finish(a.id, "no_connect", {"why": f"no answer or status within {self.options.connect_timeout_s:.0f} s"})
            for dialer in self.dialers.values():
                cancel = getattr(dialer, "cancel", None)
                if cancel is not None and a.channel == dialer.channel:
                    with contextlib.suppress(Exception):
                        await cancel(a)
        return [a.id for a in stuck]

    async def recover(self) -> list[str]:
        """At start: attempts this process left live when it stopped are ``interrupted`` (retried
        later); a call that in fact ran on elsewhere may still replace that with its outcome."""
        left = await asyncio.to_thread(self.store.attempts, None, True, self.instance)
        for a in left:
            await self.outcomes.finish(a.id, "interrupted", {"why": "the process stopped during the attempt"})
        if left:
            log.warning("outbound attempts left by a previous run marked interrupted", extra={"attempts": len(left)})
        return [a.id for a in left]

    # -- running -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await self.recover()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database was away for a moment: try again next poll
                log.exception("outbound scheduler pass failed; retrying")
            sleeper = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + self.options.poll_s))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            sleeper.cancel()
            stopper.cancel()

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait for the calls this scheduler placed (bounded)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
