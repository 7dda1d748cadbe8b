"""A call's RTP socket on the event loop, read to the bottom on every wake-up.

Why not asyncio's datagram transport: it reads one datagram per readiness callback, i.e. one
per socket per loop iteration. With many calls the loop iterates slower than every 20 ms, so
each socket's backlog grows until the kernel drops packets: at 20 concurrent calls on two
busy cores the bot heard about 64 % of what the callers sent. Reading everything queued at
each wake-up (bounded, so a flood cannot hold the loop) keeps up with any number of calls the
loop can serve at all.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

OnDatagram = Callable[[bytes, tuple[str, int]], None]


class UdpEndpoint:
    MAX_PER_WAKE = 256  # datagrams read per wake-up at most (12 s of one call's audio); the rest next time
    RCVBUF = 1 << 20  # ask the kernel for room for a long stall (it caps this at net.core.rmem_max)

    def __init__(self, sock: socket.socket, on_datagram: OnDatagram) -> None:
        self._sock = sock
        self._on_datagram = on_datagram
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self.send_errors = 0  # sends the kernel refused (full buffer, unreachable): the packet is lost, the call goes on
        self._loop.add_reader(sock.fileno(), self._drain)

    @classmethod
    async def bind(cls, host: str, port: int, on_datagram: OnDatagram) -> UdpEndpoint:
        """A non-blocking UDP socket bound to ``host:port``; OSError when the port is taken."""
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cls.RCVBUF)
            except OSError:
                pass  # the default buffer still works, with less room for a stall
            sock.bind((host, port))
        except BaseException:
            sock.close()
            raise
        return cls(sock, on_datagram)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def is_closing(self) -> bool:
        return self._closed

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._closed:
            return
        try:
            self._sock.sendto(data, addr)
        except (OSError, OverflowError, ValueError):  # EAGAIN, ICMP-refused, a bad address: one packet lost
            self.send_errors += 1

    def _drain(self) -> None:
        for _ in range(self.MAX_PER_WAKE):
            if self._closed:
                return
            try:
                data, addr = self._sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # a pending ICMP error (port unreachable) surfaces here: skip it
                continue
            self._on_datagram(data, (addr[0], addr[1]))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.remove_reader(self._sock.fileno())
        except (ValueError, OSError, RuntimeError):  # the loop is already closed at shutdown
            pass
        self._sock.close()
