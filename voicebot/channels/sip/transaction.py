"""SIP retransmission and transaction timers (RFC 3261 sections 13.3.1.4, 17), on a :class:`Clock`.

No sockets here: each piece gets a ``send(data)`` callable, so unit tests drive them with a
virtual clock and a list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from voicebot.clock import Clock, TimerHandle
from .message import SipResponse

Send = Callable[[bytes], None]


@dataclass(frozen=True)
class Timers:
    t1: float = 0.5  # RTT estimate
    t2: float = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
    t4: float = 5.0  # how long the network may hold a message

    @property
    def timeout(self) -> float:
        return 64 * self.t1  # Timer B / F / H


class Retransmitter:
    """Send ``data`` now and again at T1, 2*T1, ... (capped at ``cap``) until :meth:`stop`;
    after ``timeout`` seconds call ``on_timeout``.

    Used for a 2xx to INVITE until its ACK (13.3.1.4) and for requests over UDP (Timers A/E).
    """

    def __init__(self, clock: Clock, send: Send, data: bytes, timers: Timers, *, cap: float | None, on_timeout: Callable[[], None], retransmit: bool = True) -> None:
        self._clock = clock
        self._send = send
        self.data = data
        self._cap = cap
        self._interval = timers.t1
        self._on_timeout = on_timeout
        self._retransmit = retransmit
        self._handle: TimerHandle | None = None
        self._deadline = clock.call_later(timers.timeout, self._expire)
        self.sent = 0
        self.stopped = False
        self._fire(first=True)

    def _fire(self, first: bool = False) -> None:
        if self.stopped:
            return
        self._send(self.data)
        self.sent += 1
        if not self._retransmit:
            return
        delay = self._interval
        self._interval = min(self._interval * 2, self._cap) if self._cap else self._interval * 2
        self._handle = self._clock.call_later(delay, self._fire)

    def slow_down(self, interval: float) -> None:
        """After a provisional response a non-INVITE request retransmits at T2 (17.1.2.2)."""
        self._interval = interval

    def stop_retransmitting(self) -> None:
        """Stop resending but keep the timeout (INVITE after a provisional response)."""
        if self._handle:
            self._handle.cancel()
            self._handle = None
        self._retransmit = False

    def stop(self) -> None:
        self.stopped = True
        if self._handle:
            self._handle.cancel()
        self._deadline.cancel()

    def _expire(self) -> None:
        if self.stopped:
            return
        self.stop()
        self._on_timeout()


class ClientTransaction:
    """One outgoing request waiting for its final response (``result`` is None on timeout)."""

    def __init__(self, clock: Clock, send: Send, data: bytes, method: str, timers: Timers, *, reliable: bool,
                 on_provisional: Callable[[SipResponse], None] | None = None) -> None:
        self.method = method
        self.result: asyncio.Future[SipResponse | None] = asyncio.get_running_loop().create_future()
        self._timers = timers
        self._on_provisional = on_provisional
        cap = None if method == "INVITE" else timers.t2
        self._rt = Retransmitter(clock, send, data, timers, cap=cap, on_timeout=self._timeout, retransmit=not reliable)

    def receive(self, resp: SipResponse) -> None:
        if resp.status < 200:
            if self.method == "INVITE":
                self._rt.stop_retransmitting()
            else:
                self._rt.slow_down(self._timers.t2)
            if self._on_provisional:
                self._on_provisional(resp)
            return
        self._rt.stop()
        if not self.result.done():
            self.result.set_result(resp)

    def _timeout(self) -> None:
        if not self.result.done():
            self.result.set_result(None)

    def cancel(self) -> None:
        self._rt.stop()
        if not self.result.done():
            self.result.set_result(None)


class ResponseCache:
    """Final responses of server transactions, re-sent when the request is retransmitted
    (17.2), forgotten after 64*T1."""

    def __init__(self, clock: Clock, timers: Timers) -> None:
        self._clock = clock
        self._timers = timers
        self._entries: dict[tuple[str, str, str], tuple[bytes, Send]] = {}

    def remember(self, key: tuple[str, str, str], data: bytes, send: Send) -> None:
        fresh = key not in self._entries
        self._entries[key] = (data, send)
        if fresh:
            self._clock.call_later(self._timers.timeout, lambda: self._entries.pop(key, None))

    def replay(self, key: tuple[str, str, str]) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return False
        data, send = entry
        send(data)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
