"""Clocks: the call's notion of time, passed in rather than read from the wall.

Every timer in the bot (the pipeline's playout, SIP's retransmissions and RTP timeouts, the
outbound scheduler) asks a :class:`Clock`. Live, that is the event loop's clock
(:class:`LoopClock`, or :class:`RealClock` counting from the call's start) or UNIX time
(:class:`WallClock`, for calendars). In tests and ``--fast`` replays it is a
:class:`VirtualClock`, which only moves when told to (``advance``): a scripted caller timeline
("caller speaks 0.5-2.5 s, interrupts at 5.0 s") or a SIP timer ladder runs in milliseconds
of real time, with no wall-clock sleeps, and produces the same timeline every run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the clock's epoch."""

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` (on the event loop) ``delay`` seconds from now."""


class LoopClock:
    """The running event loop's monotonic clock (its epoch is arbitrary)."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class RealClock(LoopClock):
    """The event loop's clock, counting from when this clock was made (the call's start)."""

    def __init__(self) -> None:
        self._t0 = asyncio.get_running_loop().time()

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self._t0


class WallClock(LoopClock):
    """UNIX time (calendars and time zones need it); sleeping on the event loop."""

    def now(self) -> float:
        return time.time()


class _VirtualTimer:
    def __init__(self, callback: Callable[[], None] | None = None, future: asyncio.Future[None] | None = None) -> None:
        self.callback, self.future = callback, future
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def live(self) -> bool:
        return not self.cancelled and (self.future is None or not self.future.done())


class VirtualClock:
    """Time advances only through :meth:`advance` / :meth:`set`; timers fire in deadline order.

    A due callback runs inside ``advance`` with ``now()`` at its own deadline (so a timer it
    re-arms lands where a live one would); a due sleeper is woken and resumes once the caller
    yields to the event loop, by which time ``now()`` is the new time.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (deadline, next(self._seq), _VirtualTimer(future=fut)))
        await fut

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _VirtualTimer(callback=callback)
        heapq.heappush(self._timers, (self._now + max(0.0, delay), next(self._seq), timer))
        return timer

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    def set(self, t: float) -> None:
        """Move to ``t`` (never backwards), firing every timer due by then, including ones that
        fired timers arm on the way."""
        while self._timers and self._timers[0][0] <= t:
            deadline, _, timer = heapq.heappop(self._timers)
            if not timer.live:
                continue
            self._now = max(self._now, deadline)
            if timer.future is not None:
                timer.future.set_result(None)
            elif timer.callback is not None:
                timer.callback()
        self._now = max(self._now, t)

    @property
    def pending(self) -> int:
        """Timers and sleepers still waiting."""
        return sum(1 for _, _, timer in self._timers if timer.live)
