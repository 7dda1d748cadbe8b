"""Test helpers: a raw UDP SIP/RTP peer on loopback and message builders."""

from __future__ import annotations

import asyncio
import secrets
import socket

from voicebot.channels.sip.message import (
    SipMessage,
    SipRequest,
    SipResponse,
    parse_message,
)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A free even port for UDP (and the same number free for TCP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            if port % 2 or port > 65000:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


class UdpPeer(asyncio.DatagramProtocol):
    """A loopback UDP socket that records what it receives."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    @classmethod
    async def open(cls, port: int = 0) -> UdpPeer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", port))
        peer.port = peer.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        return peer

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        self.queue.put_nowait((data, addr))

    def send(self, data: bytes | SipMessage, port: int, host: str = "127.0.0.1") -> None:
        raw = data.serialize() if isinstance(data, SipMessage) else data
        assert self.transport is not None
        self.transport.sendto(raw, (host, port))

    async def recv_raw(self, timeout: float = 3.0) -> tuple[bytes, tuple[str, int]]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def recv(self, timeout: float = 3.0) -> SipMessage:
        data, _ = await self.recv_raw(timeout)
        return parse_message(data)

    async def expect_status(self, status: int, timeout: float = 3.0) -> SipResponse:
        """Skip other messages until a response with ``status`` arrives."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.01, end - loop.time()))
            if isinstance(msg, SipResponse) and msg.status == status:
                return msg

    async def expect_request(self, method: str, timeout: float = 3.0) -> SipRequest:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.01, end - loop.time()))
            if isinstance(msg, SipRequest) and msg.method == method:
                return msg

    def drain(self) -> list[bytes]:
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait()[0])
        return out

    def close(self) -> None:
        if self.transport:
            self.transport.close()


def sdp_offer(rtp_port: int, formats: str = "0 8 101", extra: str = "", host: str = "127.0.0.1") -> bytes:
    lines = [
        "v=0", f"o=tester 1 1 IN IP4 {host}", "s=-", f"c=IN IP4 {host}", "t=0 0", f"m=audio {rtp_port} RTP/AVP {formats}",
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15",
        "a=rtpmap:9 G722/8000", "a=rtpmap:18 G729/8000",
    ]
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n").encode()


class Dialer:
    """Builds the requests of one caller dialog, like a phone would."""

    def __init__(self, sip_port: int, bot_port: int, rtp_port: int = 40000, transport: str = "UDP", user: str = "+4930123456") -> None:
        self.sip_port = sip_port
        self.bot_port = bot_port
        self.rtp_port = rtp_port
        self.transport = transport
        self.call_id = secrets.token_hex(6) + "@tester"
        self.from_tag = secrets.token_hex(4)
        self.to_tag: str | None = None
        self.cseq = 1
        self.user = user
        self.invite_branch = ""
        self.record_route: list[str] = []

    def request(self, method: str, *, body: bytes = b"", cseq: int | None = None, branch: str | None = None,
                content_type: str = "application/sdp", extra: list[str] | None = None, uri: str | None = None) -> bytes:
        branch = branch or "z9hG4bK" + secrets.token_hex(6)
        if method == "INVITE" and self.to_tag is None:
            self.invite_branch = branch
        to = f"<sip:bot@127.0.0.1:{self.bot_port}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} {uri or f'sip:bot@127.0.0.1:{self.bot_port}'} SIP/2.0",
            f"Via: SIP/2.0/{self.transport} 127.0.0.1:{self.sip_port};branch={branch};rport",
            "Max-Forwards: 70",
            f'From: "Tester" <sip:{self.user}@127.0.0.1:{self.sip_port}>;tag={self.from_tag}',
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq if cseq is not None else self.cseq} {method}",
            f"Contact: <sip:tester@127.0.0.1:{self.sip_port}>",
            *(self.record_route and [f"Record-Route: {r}" for r in self.record_route] or []),
            *(extra or []),
        ]
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def invite(self, **kw) -> bytes:  # type: ignore[no-untyped-def]
        kw.setdefault("body", sdp_offer(self.rtp_port))
        return self.request("INVITE", **kw)

    def ack(self, cseq: int | None = None) -> bytes:
        return self.request("ACK", cseq=cseq if cseq is not None else self.cseq)

    def next(self, method: str, **kw) -> bytes:  # type: ignore[no-untyped-def]
        self.cseq += 1
        return self.request(method, **kw)

    def respond(self, req: SipRequest, status: int, reason: str = "OK", body: bytes = b"", extra: list[str] | None = None) -> bytes:
        from voicebot.channels.sip.message import make_response

        resp = make_response(req, status, reason, body=body, content_type="message/sipfrag" if body else None,
                             extra=[tuple(e.split(": ", 1)) for e in (extra or [])])  # type: ignore[misc]
        return resp.serialize()


async def until(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    """Wait (bounded) until ``predicate()`` holds: loopback packets need a few loop turns."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def sent_so_far(peer: UdpPeer, ua_port: int) -> list[bytes]:
    """Everything the UA has sent ``peer`` until now, with no sleep guessing how long "nothing came" takes.

    An OPTIONS probe from ``peer`` is answered after whatever the UA sent it before (the UA
    handles datagrams in order and one socket pair on loopback keeps its order), so the
    messages ahead of the probe's answer are all there is."""
    probe = Dialer(peer.port, ua_port)  # a Call-ID of its own: outside any dialog
    peer.send(probe.request("OPTIONS", uri=f"sip:127.0.0.1:{ua_port}"), ua_port)
    got: list[bytes] = []
    while probe.call_id.encode() not in (raw := (await peer.recv_raw())[0]):
        got.append(raw)
    return got
