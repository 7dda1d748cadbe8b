"""SIP over UDP and TCP (RFC 3261 section 18) on asyncio.

Every received message goes to one callback as ``(data, Source)``; replies are sent with
:meth:`SipTransports.send`, over the TCP connection the request came on when there is one.
Framing errors close the TCP connection; nothing here raises into the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from voicebot.logs import get_logger

from .message import SipParseError, frame_stream

log = get_logger(__name__)

MAX_TCP_CONNECTIONS = 512


@dataclass(frozen=True)
class Source:
    host: str
    port: int
    transport: str  # "UDP" | "TCP"


Receiver = Callable[[bytes, Source], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, receive: Receiver) -> None:
        self.receive = receive
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if data.strip(b"\r\n") == b"":
            return  # keep-alive
        self.receive(data, Source(addr[0], addr[1], "UDP"))

    def error_received(self, exc: Exception) -> None:
        log.debug("sip udp error", extra={"error": str(exc)})


class SipTransports:
    """The UDP socket and TCP listener of one user agent."""

    def __init__(self, host: str, port: int, transports: tuple[str, ...], receive: Receiver) -> None:
        self.host = host
        self.port = port
        self.enabled = tuple(t.upper() for t in transports)
        self._receive = receive
        self._udp: _Udp | None = None
        self._tcp_server: asyncio.AbstractServer | None = None
        self._conns: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if "UDP" in self.enabled:
            _, proto = await loop.create_datagram_endpoint(lambda: _Udp(self._receive), local_addr=(self.host, self.port))
            self._udp = proto
            if self.port == 0:  # tests ask for any free port
                self.port = proto.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        if "TCP" in self.enabled:
            self._tcp_server = await asyncio.start_server(self._on_tcp, self.host, self.port)
            if self.port == 0:
                self.port = self._tcp_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._udp and self._udp.transport:
            self._udp.transport.close()
        if self._tcp_server:
            self._tcp_server.close()
        for writer in list(self._conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp_server:
            await self._tcp_server.wait_closed()
        self._conns.clear()

    def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._read_tcp(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if len(self._conns) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        await self._pump(reader, writer, (peer[0], peer[1]))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: tuple[str, int]) -> None:
        """Frame messages off one connection (incoming or ours) until it closes or breaks."""
        self._conns[key] = writer
        buf = b""
        try:
            while chunk := await reader.read(65536):
                buf += chunk
                while True:
                    msg, buf = frame_stream(buf)
                    if msg is None:
                        break
                    self._receive(msg, Source(key[0], key[1], "TCP"))
        except SipParseError as exc:
            log.warning("sip tcp framing error, closing connection", extra={"peer": f"{key[0]}:{key[1]}", "error": exc.reason})
        except (ConnectionError, OSError):
            pass
        finally:
            if self._conns.get(key) is writer:
                del self._conns[key]
            writer.close()

    async def send(self, data: bytes, host: str, port: int, transport: str = "UDP") -> None:
        """Send one message; opens a TCP connection when none to that peer exists."""
        if transport.upper() == "TCP":
            writer = self._conns.get((host, port))
            if writer is None or writer.is_closing():
                reader, writer = await asyncio.open_connection(host, port)
                self._conns[(host, port)] = writer
                task = asyncio.get_running_loop().create_task(self._pump(reader, writer, (host, port)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            writer.write(data)
            await writer.drain()
            return
        if self._udp is None or self._udp.transport is None:
            raise RuntimeError("SIP UDP transport is not started")
        self._udp.transport.sendto(data, (host, port))
