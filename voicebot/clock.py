"""Clocks: the call's notion of time, passed in rather than read from the wall.

``RealClock`` follows the event loop's monotonic clock. ``VirtualClock`` only moves when
told to (``advance``), so tests and ``--fast`` replays run a scripted caller timeline
("caller speaks 0.5-2.5 s, interrupts at 5.0 s") in milliseconds of real time, with no
wall-clock sleeps, and produce the same timeline every run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the clock's epoch."""

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""


class RealClock:
    def __init__(self) -> None:
        self._t0 = asyncio.get_running_loop().time()

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """Time advances only through :meth:`advance`; sleepers wake in deadline order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    def set(self, t: float) -> None:
        self._now = max(self._now, t)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
