"""Who the user agent listens to and when it refuses new calls: per-source rate limit, the
peer allow-list, and the event loop's lag (past it one more call would make every call late).

Each is a small object the user agent consults; none of them sends anything."""

from __future__ import annotations

import asyncio
import ipaddress

from voicebot.clock import Clock


class RateLimiter:
    """Token bucket per source address."""

    def __init__(self, clock: Clock, rate: float, burst: int) -> None:
        self.clock, self.rate, self.burst = clock, rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self.dropped = 0

    def allow(self, host: str) -> bool:
        now = self.clock.now()
        tokens, last = self._buckets.get(host, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[host] = (tokens, now)
            self.dropped += 1
            return False
        if len(self._buckets) > 10_000:
            self._buckets.clear()  # a spoofed-source flood must not grow memory without bound
        self._buckets[host] = (tokens - 1, now)
        return True


class AllowList:
    """Peer addresses/CIDRs allowed to send requests (``sip.allow_from``); empty allows any."""

    def __init__(self, networks: tuple[str, ...]) -> None:
        self._nets = [ipaddress.ip_network(a, strict=False) for a in networks]

    def allows(self, host: str) -> bool:
        if not self._nets:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self._nets)


class LoopLag:
    """How late the event loop wakes a sleeper (smoothed over ~1 s): the bot's load as its calls feel it.

    Wall time on purpose (not the UA's clock): it measures the real loop."""

    PERIOD_S = 0.05

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.lag = 0.0

    @property
    def overloaded(self) -> bool:
        return self.limit_s > 0 and self.lag > self.limit_s

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.PERIOD_S)
            late = max(0.0, loop.time() - t0 - self.PERIOD_S)
            self.lag += (late - self.lag) * 0.1  # ~0.5 s of memory: one GC pause is no overload, a busy loop is

