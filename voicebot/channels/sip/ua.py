"""The SIP user agent: answers calls (UAS), places calls (UAC), registers to a trunk.

``SipUserAgent(options, on_call)``: ``await ua.start()``; every confirmed incoming call runs
``await on_call(call)`` in its own task; when it returns the call is hung up. ``await ua.stop()``
hangs up every call and closes every socket.

Scope (RFC 3261 subset a PBX/trunk needs): INVITE with 100/180/200, 2xx retransmission until
ACK, CANCEL, BYE both ways, OPTIONS, re-INVITE (hold/unhold), INFO DTMF, REFER out with
NOTIFY progress, outbound INVITE and REGISTER with digest auth. Not supported: strict
routing, late offer (INVITE without SDP), PRACK/100rel, TLS/SRTP, forking of our own INVITEs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voicebot.config_types import reveal
from voicebot.logs import get_logger

from .clock import Clock, LoopClock, TimerHandle
from .dialog import Dialog, new_branch, new_tag
from .digest import Challenge, DigestError, digest_response
from .message import (
    Header,
    Headers,
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    canonical,
    make_response,
    parse_message,
)
from .rtp_session import RtpOptions, RtpSession
from .sdp import (
    MediaParams,
    NoCommonCodec,
    SdpError,
    SessionDescription,
    make_answer,
    make_offer,
    negotiate,
)
from .sip_call import SipCall
from .transaction import ClientTransaction, ResponseCache, Retransmitter, Timers
from .transport import SipTransports, Source

if TYPE_CHECKING:
    from voicebot.config import SipSettings

log = get_logger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, INFO"
_VERSION = re.compile(r"SIP/\d{1,3}\.\d{1,3}")
OnCall = Callable[[SipCall], Awaitable[None]]


@dataclass(frozen=True)
class RegistrationOptions:
    """Outbound registration to a trunk/PBX (``registrar`` e.g. ``sip:pbx.example.com:5060``)."""

    registrar: str
    username: str
    password: str
    aor: str | None = None  # defaults to sip:username@<registrar host>
    expires_s: int = 300
    retry_s: float = 30.0  # after a failed attempt


@dataclass(frozen=True)
class SipOptions:
    """Everything the user agent needs; defaults suit a bot on one host behind a PBX."""

    host: str = "127.0.0.1"  # address to bind SIP and RTP to
    port: int = 5070  # 0 = any free port (tests)
    transports: tuple[str, ...] = ("udp", "tcp")
    public_address: str | None = None  # address written in Via/Contact/SDP when behind NAT
    user: str = "bot"  # user part of our Contact
    user_agent: str = "voicebot"
    rtp: RtpOptions = field(default_factory=RtpOptions)
    allow_from: tuple[str, ...] = ()  # peer addresses/CIDRs allowed to send requests; empty = any
    # Messages per second per source address, with this burst; beyond, messages are dropped
    # unread. Behind kamailio every message comes from the proxy: size it for the proxy's rate.
    rate_limit_per_s: float = 200.0
    rate_limit_burst: int = 400
    max_calls: int = 200  # more concurrent calls get 503
    # Ring this long (180) before answering (200). Not 0: a proxy with parallel workers
    # (kamailio children) can deliver a 200 sent right behind the 180 before it.
    answer_delay_s: float = 0.1
    timers: Timers = field(default_factory=Timers)
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    registration: RegistrationOptions | None = None
    handler_grace_s: float = 5.0  # on stop, how long call handlers get to finish
    # New calls get 503 while the event loop runs this late (smoothed): past its capacity one
    # more call would make every call's audio late, so it is refused and the proxy tries
    # another bot. 0 = never (the library default; `voicebot serve` uses sip.overload_lag_s).
    overload_lag_s: float = 0.0

    @classmethod
    def from_settings(cls, sip: SipSettings, **overrides: object) -> SipOptions:
        """From the typed ``voicebot.config.SipSettings`` (the operator's defaults live there only)."""
        rtp = RtpOptions(host=sip.host, port_min=sip.rtp_port_min, port_max=sip.rtp_port_max, timeout_s=sip.rtp_timeout_s,
                         comedia=sip.comedia)
        registration = None
        password = reveal(sip.password)
        if sip.registrar:
            if not (sip.username and password):
                raise ValueError("sip.registrar is set: set sip.username and sip.password too (digest credentials of the trunk)")
            registration = RegistrationOptions(registrar=sip.registrar, username=sip.username, password=password)
        base = cls(host=sip.host, port=sip.port, transports=tuple(sip.transports), public_address=sip.public_address,
                   allow_from=tuple(sip.allow_from), rtp=rtp, registration=registration, max_calls=sip.max_calls,
                   rate_limit_per_s=sip.rate_limit_per_s, rate_limit_burst=sip.rate_limit_burst, overload_lag_s=sip.overload_lag_s)
        return _replace(base, **overrides)


def _replace(opts: SipOptions, **changes: object) -> SipOptions:
    import dataclasses

    return dataclasses.replace(opts, **changes)  # type: ignore[arg-type]


class SipCallFailed(Exception):
    """An outbound INVITE got a final failure (``status`` 0 on timeout)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class _RateLimiter:
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


@dataclass
class _InviteState:
    """Server side of an incoming INVITE (initial or re-INVITE) until it is ACKed."""

    request: SipRequest
    source: Source
    final: Retransmitter | None = None
    answered: bool = False
    answer_timer: TimerHandle | None = None


class SipUserAgent:
    def __init__(self, options: SipOptions, on_call: OnCall, *, clock: Clock | None = None) -> None:
        self.options = options
        self.on_call = on_call
        self.clock: Clock = clock or LoopClock()
        self.transports = SipTransports(options.host, options.port, options.transports, self._on_data)
        self.limiter = _RateLimiter(self.clock, options.rate_limit_per_s, options.rate_limit_burst)
        self._allow = [ipaddress.ip_network(a, strict=False) for a in options.allow_from]
        self._responses = ResponseCache(self.clock, options.timers)
        self._client: dict[tuple[str, str], ClientTransaction] = {}
        self._calls: dict[tuple[str, str], SipCall] = {}  # (Call-ID, our tag)
        self._invites: dict[tuple[str, str], tuple[SipCall, _InviteState]] = {}  # (Call-ID, branch) -> pending
        self._acks: dict[tuple[str, int], tuple[bytes, tuple[str, int, str]]] = {}  # our ACKs, re-sent on 2xx retransmit
        self._tasks: set[asyncio.Task] = set()
        self._handlers: dict[str, asyncio.Task] = {}
        self._register_task: asyncio.Task | None = None
        self.registered = asyncio.Event()
        # internal_errors: a message that reached the catch-all (a bug: answered 500); fuzzing keeps it at 0
        self.counters = {"calls": 0, "rejected_488": 0, "bad_request": 0, "forbidden": 0, "dropped_unparseable": 0,
                         "version_not_supported": 0, "internal_errors": 0, "refused_overload": 0}
        self.loop_lag = LoopLag(options.overload_lag_s)
        self.running = False

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self.transports.start()
        self.running = True
        if self.options.overload_lag_s > 0:
            self._spawn(self.loop_lag.run())
        if self.options.registration:
            self._register_task = self._spawn(self._register_loop(self.options.registration))
        log.info("sip user agent listening", extra={"host": self.options.host, "port": self.port, "transports": list(self.transports.enabled)})

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        if self._register_task:
            self._register_task.cancel()
        byes = [self._spawn(self._hangup(c, "shutdown")) for c in list(self._calls.values())]
        if byes:  # media stops at once; give the BYEs' answers a moment, not Timer F's 32 s
            await asyncio.wait(byes, timeout=4 * self.options.timers.t1)
        handlers = list(self._handlers.values())
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=self.options.handler_grace_s)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for tx in list(self._client.values()):
            tx.cancel()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transports.stop()

    @property
    def port(self) -> int:
        return self.transports.port

    @property
    def address(self) -> str:
        return self.options.public_address or self.options.host

    @property
    def active_calls(self) -> list[SipCall]:
        return list(self._calls.values())

    def _spawn(self, coro: Awaitable) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _rtp_options(self) -> RtpOptions:
        import dataclasses

        return dataclasses.replace(self.options.rtp, host=self.options.host)  # RTP binds where SIP does

    def _contact(self, transport: str = "UDP") -> str:
        suffix = ";transport=tcp" if transport == "TCP" else ""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"<sip:{self.options.user}@{host}:{self.port}{suffix}>"

    # --- sending ---------------------------------------------------------------------

    def _send_raw(self, data: bytes, host: str, port: int, transport: str) -> None:
        if transport == "UDP":
            try:
                self._send_udp(data, host, port)
            except (OSError, RuntimeError) as exc:
                log.warning("sip send failed", extra={"to": f"{host}:{port}", "error": str(exc)})
            return
        self._spawn(self._send_tcp(data, host, port))

    def _send_udp(self, data: bytes, host: str, port: int) -> None:
        udp = self.transports._udp
        if udp is None or udp.transport is None or udp.transport.is_closing():
            raise RuntimeError("UDP transport closed")
        udp.transport.sendto(data, (host, port))

    async def _send_tcp(self, data: bytes, host: str, port: int) -> None:
        try:
            await self.transports.send(data, host, port, "TCP")
        except OSError as exc:
            log.warning("sip tcp send failed", extra={"to": f"{host}:{port}", "error": str(exc)})

    def _reply_target(self, req: SipRequest, src: Source) -> tuple[str, int, str]:
        """Where responses go (RFC 3261 18.2.2 with RFC 3581 rport): the source for TCP and
        for rport, else the top Via's sent-by port on the source address."""
        if src.transport == "TCP":
            return src.host, src.port, "TCP"
        via = req.vias[0]
        port = src.port if "rport" in via.params else (via.port or 5060)
        return src.host, port, "UDP"

    def _respond(self, req: SipRequest, src: Source, status: int, reason: str | None = None, **kw: object) -> SipResponse:
        resp = make_response(req, status, reason, **kw)  # type: ignore[arg-type]
        resp.headers.add("Server", self.options.user_agent)
        data = resp.serialize()
        host, port, transport = self._reply_target(req, src)
        send = lambda d: self._send_raw(d, host, port, transport)
        send(data)
        if req.method != "ACK":
            self._responses.remember(self._tx_key(req), data, send)  # replayed on retransmission
        return resp

    @staticmethod
    def _tx_key(req: SipRequest) -> tuple[str, str, str]:
        return (req.vias[0].branch or "", req.method, req.call_id)

    async def _request(self, req: SipRequest, host: str, port: int, transport: str,
                       on_provisional: Callable[[SipResponse], None] | None = None) -> SipResponse | None:
        """Send a request in a client transaction; the final response, or None on timeout."""
        data = req.serialize()
        key = (req.vias[0].branch or "", req.method)
        tx = ClientTransaction(self.clock, lambda d: self._send_raw(d, host, port, transport), data, req.method,
                               self.options.timers, reliable=transport == "TCP", on_provisional=on_provisional)
        self._client[key] = tx
        try:
            return await tx.result
        finally:
            self._client.pop(key, None)

    # --- receiving -------------------------------------------------------------------

    def _allowed(self, host: str) -> bool:
        if not self._allow:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self._allow)

    def _on_data(self, data: bytes, src: Source) -> None:
        """Entry point for every message. Never raises: bad input gets 400 or is dropped."""
        if not self.limiter.allow(src.host):
            return
        try:
            msg = parse_message(data, stream=src.transport == "TCP")
        except SipParseError as exc:
            self._reject_unparseable(data, src, exc)
            return
        try:
            if isinstance(msg, SipResponse):
                self._on_response(msg, src)
            else:
                assert isinstance(msg, SipRequest)
                self._on_request(msg, src)
        except SipParseError as exc:
            if isinstance(msg, SipRequest) and msg.method != "ACK":
                self.counters["bad_request"] += 1
                self._safe_respond(msg, src, 400, exc.reason[:100])
        except Exception:  # never let one message take the process down
            self.counters["internal_errors"] += 1
            log.exception("sip message handling failed", extra={"call_id": msg.call_id, "peer": f"{src.host}:{src.port}"})
            if isinstance(msg, SipRequest) and msg.method != "ACK":
                self._safe_respond(msg, src, 500)

    def _safe_respond(self, req: SipRequest, src: Source, status: int, reason: str | None = None) -> None:
        try:
            self._respond(req, src, status, reason)
        except Exception as exc:  # noqa: BLE001 - answering a broken request must never raise into the loop
            log.debug("sip error response failed", extra={"call_id": req.call_id, "error": str(exc)})

    def _reject_unparseable(self, data: bytes, src: Source, exc: SipParseError) -> None:
        """A 400 needs Via/From/To/Call-ID/CSeq to be addressed; copy them raw when they are
        there, else drop (RFC 3261 16.3 / 18.3: unparseable datagrams are discarded)."""
        text = data.decode("utf-8", "replace")
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        first = head[0] if head else ""
        start = first.split(" ")
        # A request in another SIP version gets 505 (RFC 3261 8.2.? / 21.5.7) rather than silence.
        other_version = len(start) == 3 and _VERSION.fullmatch(start[2]) is not None and start[2] != "SIP/2.0"
        if first.startswith(("SIP/", "ACK ")) or not (first.endswith("SIP/2.0") or other_version):
            self.counters["dropped_unparseable"] += 1
            return
        keep = {"via": None, "from": None, "to": None, "call-id": None, "cseq": None}
        lines = []
        for line in head[1:]:
            name, colon, value = line.partition(":")
            key = canonical(name) if colon else ""
            if key in keep:
                lines.append(f"{name.strip()}: {value.strip()}")
                keep[key] = value.strip()
        if any(v is None for v in keep.values()):
            self.counters["dropped_unparseable"] += 1
            return
        try:
            via = Via.parse(str(keep["via"]).split(",")[0])
        except SipParseError:
            self.counters["dropped_unparseable"] += 1
            return
        if other_version:
            self.counters["version_not_supported"] += 1
            status_line = "SIP/2.0 505 Version Not Supported"
        else:
            self.counters["bad_request"] += 1
            status_line = "SIP/2.0 400 " + "".join(ch for ch in exc.reason if ch.isprintable())[:100]
        body = "\r\n".join([status_line, *lines, f"Server: {self.options.user_agent}", "Content-Length: 0", "", ""])
        port = src.port if src.transport == "TCP" or "rport" in via.params else (via.port or 5060)
        self._send_raw(body.encode(), src.host, port, src.transport)

    def _on_response(self, resp: SipResponse, src: Source) -> None:
        via = resp.vias[0]
        _, method = resp.cseq
        tx = self._client.get((via.branch or "", method))
        if tx is not None:
            tx.receive(resp)
            return
        if method == "INVITE" and 200 <= resp.status < 300:  # a retransmitted 2xx: our ACK got lost
            ack = self._acks.get((resp.call_id, resp.cseq[0]))
            if ack:
                data, (host, port, transport) = ack
                self._send_raw(data, host, port, transport)

    def _on_request(self, req: SipRequest, src: Source) -> None:
        if not self._allowed(src.host):
            self.counters["forbidden"] += 1
            if req.method != "ACK":
                self._respond(req, src, 403, "Forbidden (peer not in sip.allow_from)")
            return
        if src.transport == "UDP":
            via = req.vias[0]
            if via.host != src.host:
                via.params["received"] = src.host  # RFC 3261 18.2.1
            if "rport" in via.params:
                via.params["rport"] = str(src.port)
            vias = req.headers.get_all("via")
            req.headers.remove("via")
            req.headers.items.insert(0, Header("Via", ", ".join([str(via), *vias[1:]])))
        if req.method != "ACK" and self._responses.replay(self._tx_key(req)):
            return  # a retransmission: the cached response went out again
        handler = {
            "INVITE": self._on_invite, "ACK": self._on_ack, "CANCEL": self._on_cancel, "BYE": self._on_bye,
            "OPTIONS": self._on_options, "NOTIFY": self._on_notify, "INFO": self._on_info,
        }.get(req.method)
        if handler is None:
            self._respond(req, src, 405 if req.method in ("REFER", "SUBSCRIBE", "MESSAGE", "UPDATE", "PRACK", "REGISTER", "PUBLISH") else 501,
                          extra=[("Allow", ALLOW)])
            return
        handler(req, src)

    def _call_for(self, req: SipRequest) -> SipCall | None:
        tag = req.to_addr.tag
        return self._calls.get((req.call_id, tag)) if tag else None

    # --- INVITE (UAS) ----------------------------------------------------------------

    def _on_invite(self, req: SipRequest, src: Source) -> None:
        if req.to_addr.tag:
            self._on_reinvite(req, src)
            return
        if not self.running or len(self._calls) >= self.options.max_calls:
            self._respond(req, src, 503, "Service Unavailable (bot at capacity)", extra=[("Retry-After", "5")])
            return
        if self.loop_lag.overloaded:
            self.counters["refused_overload"] += 1
            log.warning("sip call refused: event loop overloaded", extra={"call_id": req.call_id, "lag_ms": round(self.loop_lag.lag * 1000)})
            self._respond(req, src, 503, "Service Unavailable (bot overloaded)", extra=[("Retry-After", "5")])
            return
        if not req.body or "sdp" not in (req.headers.get("content-type") or "").lower():
            self._respond(req, src, 488, "Not Acceptable Here (INVITE without SDP offer is not supported)")
            return
        media = self._negotiate(req)
        if isinstance(media, NoCommonCodec):
            self.counters["rejected_488"] += 1
            log.info("sip 488", extra={"call_id": req.call_id, "reason": media.reason})
            self._respond(req, src, 488, extra=[("Warning", f'304 {self.options.user_agent} "{media.reason}"')])
            return
        if not req.from_addr.tag:
            raise SipParseError("INVITE needs a From tag")
        _contact_uri(req)  # the dialog's remote target: where our BYE will go
        self._respond(req, src, 100)
        self._spawn(self._accept_invite(req, src, media))

    def _negotiate(self, req: SipRequest) -> MediaParams | NoCommonCodec:
        try:
            return negotiate(SessionDescription.parse(req.body), self.options.codecs)
        except SdpError as exc:  # a broken body is a bad request (400), not an offer we cannot meet (488)
            raise SipParseError(f"unreadable SDP: {exc}") from None

    async def _accept_invite(self, req: SipRequest, src: Source, media: MediaParams) -> None:
        local_tag = new_tag()
        dialog = Dialog.as_uas(req, local_tag, src.transport)
        rtp = RtpSession(self._rtp_options(), self.clock, signalling_host=src.host, call_id=req.call_id)
        call = SipCall(self, req.call_id, "inbound", dialog.local_uri, dialog.remote_uri, rtp)
        call.dialog = dialog
        rtp.on_dtmf = call._dtmf
        rtp.on_timeout = lambda: self._spawn(self._hangup(call, "rtp_timeout"))
        try:
            await rtp.open()
        except OSError as exc:
            log.error("no rtp port", extra={"call_id": req.call_id, "error": str(exc)})
            self._respond(req, src, 503, "Service Unavailable (no RTP port)")
            return
        rtp.set_media(media)
        state = _InviteState(req, src)
        self._calls[(req.call_id, local_tag)] = call
        self._invites[(req.call_id, req.vias[0].branch or "")] = (call, state)
        self.counters["calls"] += 1
        log.info("sip call incoming", extra={"call_id": req.call_id, "from": call.caller_uri, "to": call.callee_uri, "codec": media.codec})
        self._respond(req, src, 180, to_tag=local_tag, contact=self._contact(src.transport))
        if self.options.answer_delay_s > 0:
            state.answer_timer = self.clock.call_later(self.options.answer_delay_s, lambda: self._answer(call, state, media))
        else:
            self._answer(call, state, media)

    def _answer(self, call: SipCall, state: _InviteState, media: MediaParams, version: int = 1) -> None:
        if call.ended.done():
            return
        state.answered = True
        sdp = make_answer(media, self.address, call.rtp.port, session_id=abs(hash(call.call_id)) % 10**9, version=version)
        assert call.dialog is not None
        resp = make_response(state.request, 200, to_tag=call.dialog.local_tag, contact=self._contact(state.source.transport),
                             body=sdp, content_type="application/sdp", extra=[("Allow", ALLOW), ("Server", self.options.user_agent)])
        host, port, transport = self._reply_target(state.request, state.source)
        data = resp.serialize()
        send = lambda d: self._send_raw(d, host, port, transport)
        self._responses.remember(self._tx_key(state.request), data, send)

        def no_ack() -> None:
            log.warning("sip 2xx never acknowledged", extra={"call_id": call.call_id})
            self._spawn(self._hangup(call, "no_ack"))

        state.final = Retransmitter(self.clock, send, data, self.options.timers, cap=self.options.timers.t2, on_timeout=no_ack)
        if not call.answered.done():
            call.answered.set_result(True)

    def _on_ack(self, req: SipRequest, src: Source) -> None:
        call = self._call_for(req)
        if call is None:
            return  # ACK to a non-2xx final, or stray: nothing to do
        for key, (c, state) in list(self._invites.items()):
            if c is call and state.answered and state.request.cseq[0] == req.cseq[0]:
                if state.final:
                    state.final.stop()
                del self._invites[key]
        if not call.confirmed and call.direction == "inbound":
            call.confirmed = True
            self._handlers[call.call_id] = self._spawn(self._run_handler(call))

    async def _run_handler(self, call: SipCall) -> None:
        try:
            await self.on_call(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sip call handler failed", extra={"call_id": call.call_id})
        finally:
            self._handlers.pop(call.call_id, None)
            if call.is_up:
                await self._hangup(call, "handler_done")

    def _on_cancel(self, req: SipRequest, src: Source) -> None:
        entry = self._invites.get((req.call_id, req.vias[0].branch or ""))
        if entry is None:
            self._respond(req, src, 481)
            return
        call, state = entry
        self._respond(req, src, 200)
        if state.answered:
            return  # too late: the 2xx is out; the caller will BYE
        if state.answer_timer:
            state.answer_timer.cancel()
        self._respond(state.request, state.source, 487, to_tag=call.dialog.local_tag if call.dialog else None)
        del self._invites[(req.call_id, req.vias[0].branch or "")]
        self._end(call, "cancelled")

    def _on_reinvite(self, req: SipRequest, src: Source) -> None:
        call = self._call_for(req)
        if call is None or call.dialog is None:
            self._respond(req, src, 481)
            return
        dialog = call.dialog
        if req.cseq[0] <= dialog.remote_cseq:
            self._respond(req, src, 500, "Server Internal Error (CSeq out of order)", extra=[("Retry-After", "1")])
            return
        if any(c is call and not s.answered for c, s in self._invites.values()):
            self._respond(req, src, 491)
            return
        contact = _contact_uri(req) if req.headers.get_all("contact") else None
        dialog.remote_cseq = req.cseq[0]
        if contact:
            dialog.remote_target = contact  # target refresh (12.2.2)
        media = self._negotiate(req) if req.body else call.rtp.media
        if isinstance(media, NoCommonCodec) or media is None:
            self._respond(req, src, 488)
            return
        call.rtp.set_media(media)
        log.info("sip re-invite", extra={"call_id": call.call_id, "on_hold": media.on_hold})
        state = _InviteState(req, src)
        self._invites[(req.call_id, req.vias[0].branch or "")] = (call, state)
        call._sdp_version = getattr(call, "_sdp_version", 1) + 1  # type: ignore[attr-defined]
        self._answer(call, state, media, version=call._sdp_version)  # type: ignore[attr-defined]

    # --- other requests --------------------------------------------------------------

    def _on_bye(self, req: SipRequest, src: Source) -> None:
        call = self._call_for(req)
        if call is None:
            self._respond(req, src, 481)
            return
        self._respond(req, src, 200)
        log.info("sip bye from far end", extra={"call_id": call.call_id})
        self._end(call, "far_end_bye")

    def _on_options(self, req: SipRequest, src: Source) -> None:
        self._respond(req, src, 200, extra=[("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", "")],
                      contact=self._contact(src.transport))

    def _on_notify(self, req: SipRequest, src: Source) -> None:
        call = self._call_for(req)
        if call is None:
            self._respond(req, src, 481)
            return
        self._respond(req, src, 200)
        event = (req.headers.get("event") or "").split(";")[0].strip().lower()
        if event == "refer":
            status = _sipfrag_status(req.body)
            state = (req.headers.get("subscription-state") or "").lower()
            log.info("sip refer progress", extra={"call_id": call.call_id, "status": status, "state": state})
            if status is not None:
                call._notify_refer(status)
            elif state.startswith("terminated"):
                call._notify_refer(500)

    def _on_info(self, req: SipRequest, src: Source) -> None:
        call = self._call_for(req)
        if call is None:
            self._respond(req, src, 481)
            return
        self._respond(req, src, 200)
        if "dtmf" in (req.headers.get("content-type") or "").lower():
            for line in req.body.decode("utf-8", "replace").splitlines():
                name, _, value = line.partition("=")
                if name.strip().lower() == "signal" and value.strip():
                    call._dtmf(value.strip()[0])

    # --- ending calls ----------------------------------------------------------------

    def _end(self, call: SipCall, reason: str) -> None:
        """Tear down local state of a call (idempotent)."""
        if call.ended.done():
            return
        call.rtp.close()
        for key, (c, state) in list(self._invites.items()):
            if c is call:
                if state.final:
                    state.final.stop()
                if state.answer_timer:
                    state.answer_timer.cancel()
                del self._invites[key]
        if call.dialog:
            self._calls.pop((call.call_id, call.dialog.local_tag), None)
        if call._refer_result and not call._refer_result.done():
            call._refer_result.set_result(0)
        if not call.answered.done():
            call.answered.set_result(False)
        call.ended.set_result(reason)
        log.info("sip call ended", extra={"call_id": call.call_id, "reason": reason, "rtp": call.rtp.stats.__dict__})

    async def _hangup(self, call: SipCall, reason: str) -> None:
        if call.ended.done():
            return
        pending = [s for c, s in self._invites.values() if c is call and not s.answered and s.request.method == "INVITE"
                   and not s.request.to_addr.tag]
        if pending and call.direction == "inbound":
            self._respond(pending[0].request, pending[0].source, 480, to_tag=call.dialog.local_tag if call.dialog else None)
            self._end(call, reason)
            return
        dialog = call.dialog
        if dialog is None:
            self._end(call, reason)
            return
        try:
            bye = dialog.request("BYE", self.address, self.port)
            bye.headers.add("User-Agent", self.options.user_agent)
            host, port, transport = dialog.next_hop()
        except (SipParseError, ValueError) as exc:  # nowhere to send it: the call still ends here, its socket and slot freed
            log.warning("sip bye cannot be addressed; call ended locally", extra={"call_id": call.call_id, "error": str(exc)})
            self._end(call, reason)
            return
        self._end(call, reason)  # stop media now; the BYE's answer does not change anything
        resp = await self._request(bye, host, port, transport)
        if resp is None:
            log.info("sip bye unanswered", extra={"call_id": call.call_id})

    # --- REFER (blind transfer) --------------------------------------------------------

    async def _refer(self, call: SipCall, target_uri: str, timeout_s: float) -> bool:
        if not call.is_up or call.dialog is None:
            return False
        req = call.dialog.request("REFER", self.address, self.port)
        req.headers.add("Contact", self._contact(call.dialog.transport))
        req.headers.add("Refer-To", f"<{target_uri}>")
        req.headers.add("Referred-By", f"<sip:{self.options.user}@{self.address}:{self.port}>")
        call._refer_result = asyncio.get_running_loop().create_future()
        host, port, transport = call.dialog.next_hop()
        log.info("sip refer", extra={"call_id": call.call_id, "target": target_uri})
        resp = await self._request(req, host, port, transport)
        if resp is None or not 200 <= resp.status < 300:
            log.info("sip refer refused", extra={"call_id": call.call_id, "status": resp.status if resp else "timeout"})
            return False
        status = await self._wait(call._refer_result, timeout_s)
        return status is not None and 200 <= status < 300

    async def _wait(self, fut: asyncio.Future, timeout_s: float):  # type: ignore[no-untyped-def]
        """Wait on the UA clock (virtual in unit tests)."""
        handle = self.clock.call_later(timeout_s, lambda: fut.done() or fut.set_result(None))
        try:
            return await fut
        finally:
            handle.cancel()

    # --- outbound calls (UAC) ----------------------------------------------------------

    async def dial(self, target_uri: str, *, from_user: str | None = None, timeout_s: float = 30.0,
                   auth: tuple[str, str] | None = None, via: str | None = None,
                   abandon: asyncio.Future | None = None) -> SipCall:
        """Place a call (e.g. the bot calls an agent for an attended transfer). Returns the
        answered :class:`SipCall`; raises :class:`SipCallFailed` otherwise. ``via`` is an
        outbound proxy URI; ``auth`` (username, password) answers a 401/407; ``abandon`` done
        before the answer (the caller hung up) CANCELs the INVITE."""
        target = SipUri.parse(target_uri)
        hop = SipUri.parse(via) if via else target
        transport = str(hop.params.get("transport") or "udp").upper()
        host, port = hop.host, hop.port or 5060
        call_id = f"{secrets.token_hex(8)}@{self.address}"
        local_tag = new_tag()
        me = f"<sip:{from_user or self.options.user}@{self.address}>;tag={local_tag}"
        rtp = RtpSession(self._rtp_options(), self.clock, signalling_host=host, call_id=call_id)
        await rtp.open()
        call = SipCall(self, call_id, "outbound", me, f"<{target_uri}>", rtp)
        rtp.on_dtmf = call._dtmf
        rtp.on_timeout = lambda: self._spawn(self._hangup(call, "rtp_timeout"))
        cseq = 1
        auth_header: tuple[str, str] | None = None
        ringing = lambda r: log.info("sip outbound progress", extra={"call_id": call_id, "status": r.status})
        try:
            for _attempt in range(2):
                invite = self._build_invite(target_uri, me, call_id, cseq, transport, rtp.port, auth_header)
                invite_task = asyncio.ensure_future(self._request(invite, host, port, transport, on_provisional=ringing))
                deadline = self.clock.call_later(
                    timeout_s, lambda t=invite_task, i=invite: t.done() or self._cancel_invite(i, host, port, transport))
                give_up = lambda _f, t=invite_task, i=invite: t.done() or self._cancel_invite(i, host, port, transport)
                if abandon is not None:
                    abandon.add_done_callback(give_up)
                try:
                    resp = await invite_task
                finally:
                    deadline.cancel()
                    if abandon is not None:
                        abandon.remove_done_callback(give_up)
                if resp is None:
                    raise SipCallFailed(0, "no answer (timeout)")
                if resp.status in (401, 407) and auth and auth_header is None:
                    self._ack_failure(invite, resp, host, port, transport)
                    name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
                    try:
                        challenge = Challenge.parse(resp.headers.get(name) or "")
                    except DigestError as exc:
                        raise SipCallFailed(resp.status, str(exc)) from exc
                    cseq += 1
                    auth_header = ("Authorization" if resp.status == 401 else "Proxy-Authorization",
                                   digest_response(challenge, username=auth[0], password=auth[1], method="INVITE", uri=target_uri))
                    continue
                if resp.status >= 300:
                    self._ack_failure(invite, resp, host, port, transport)
                    raise SipCallFailed(resp.status, resp.reason)
                return self._confirm_outbound(call, invite, resp, transport)
            raise SipCallFailed(401, "authentication failed")
        except BaseException:
            if not call.ended.done():
                self._end(call, "dial_failed")
            rtp.close()
            raise

    def _build_invite(self, target_uri: str, me: str, call_id: str, cseq: int, transport: str, rtp_port: int,
                      auth_header: tuple[str, str] | None) -> SipRequest:
        h = Headers()
        h.add("Via", str(Via(transport, self.address, self.port, {"branch": new_branch(), "rport": None})))
        h.add("Max-Forwards", "70")
        h.add("From", me)
        h.add("To", f"<{target_uri}>")
        h.add("Call-ID", call_id)
        h.add("CSeq", f"{cseq} INVITE")
        h.add("Contact", self._contact(transport))
        h.add("Allow", ALLOW)
        h.add("User-Agent", self.options.user_agent)
        if auth_header:
            h.add(*auth_header)
        h.add("Content-Type", "application/sdp")
        body = make_offer(self.address, rtp_port, session_id=secrets.randbelow(10**9))
        return SipRequest(headers=h, body=body, method="INVITE", uri=target_uri)

    def _cancel_invite(self, invite: SipRequest, host: str, port: int, transport: str) -> None:
        h = Headers()
        for name in ("via", "from", "to", "call-id"):
            h.add(name.title() if name != "call-id" else "Call-ID", invite.headers.get(name) or "")
        h.add("Max-Forwards", "70")
        h.add("CSeq", f"{invite.cseq[0]} CANCEL")
        cancel = SipRequest(headers=h, method="CANCEL", uri=invite.uri)
        self._spawn(self._request(cancel, host, port, transport))

    def _ack_failure(self, invite: SipRequest, resp: SipResponse, host: str, port: int, transport: str) -> None:
        """ACK for a non-2xx final response: same branch, hop by hop (17.1.1.3)."""
        h = Headers()
        h.add("Via", invite.headers.get_all("via")[0])
        h.add("Max-Forwards", "70")
        h.add("From", invite.headers.get("from") or "")
        h.add("To", resp.headers.get("to") or "")
        h.add("Call-ID", invite.call_id)
        h.add("CSeq", f"{invite.cseq[0]} ACK")
        self._send_raw(SipRequest(headers=h, method="ACK", uri=invite.uri).serialize(), host, port, transport)

    def _confirm_outbound(self, call: SipCall, invite: SipRequest, resp: SipResponse, transport: str) -> SipCall:
        dialog = Dialog.as_uac(invite, resp, transport)
        call.dialog = dialog
        ack = dialog.request("ACK", self.address, self.port, cseq=invite.cseq[0])
        hop = dialog.next_hop()
        data = ack.serialize()
        self._acks[(call.call_id, invite.cseq[0])] = (data, hop)
        self._send_raw(data, *hop)
        self._calls[(call.call_id, dialog.local_tag)] = call
        try:
            media = negotiate(SessionDescription.parse(resp.body), self.options.codecs)
        except SdpError as exc:
            media = NoCommonCodec(str(exc))
        if isinstance(media, NoCommonCodec):
            self._spawn(self._hangup(call, "no_common_codec"))
            raise SipCallFailed(488, media.reason)
        call.rtp.set_media(media)
        call.confirmed = True
        call.answered.set_result(True)
        call.ended.add_done_callback(lambda _f: self._acks.pop((call.call_id, invite.cseq[0]), None))
        log.info("sip outbound answered", extra={"call_id": call.call_id, "codec": media.codec})
        return call

    # --- REGISTER ----------------------------------------------------------------------

    async def _register_loop(self, reg: RegistrationOptions) -> None:
        registrar = SipUri.parse(reg.registrar)
        transport = str(registrar.params.get("transport") or "udp").upper()
        aor = reg.aor or f"sip:{reg.username}@{registrar.host}"
        call_id = f"{secrets.token_hex(8)}@{self.address}"
        tag = new_tag()
        cseq = 0
        while self.running:
            expires = 0
            auth: tuple[str, str] | None = None
            for _attempt in range(2):
                cseq += 1
                h = Headers()
                h.add("Via", str(Via(transport, self.address, self.port, {"branch": new_branch(), "rport": None})))
                h.add("Max-Forwards", "70")
                h.add("From", f"<{aor}>;tag={tag}")
                h.add("To", f"<{aor}>")
                h.add("Call-ID", call_id)
                h.add("CSeq", f"{cseq} REGISTER")
                h.add("Contact", self._contact(transport))
                h.add("Expires", str(reg.expires_s))
                h.add("User-Agent", self.options.user_agent)
                if auth:
                    h.add(*auth)
                req = SipRequest(headers=h, method="REGISTER", uri=f"{registrar.scheme}:{registrar.host}" + (f":{registrar.port}" if registrar.port else ""))
                resp = await self._request(req, registrar.host, registrar.port or 5060, transport)
                if resp is not None and resp.status in (401, 407) and auth is None:
                    name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
                    try:
                        ch = Challenge.parse(resp.headers.get(name) or "")
                    except DigestError as exc:
                        log.error("sip register: cannot answer challenge", extra={"error": str(exc)})
                        break
                    auth = ("Authorization" if resp.status == 401 else "Proxy-Authorization",
                            digest_response(ch, username=reg.username, password=reg.password, method="REGISTER", uri=req.uri))
                    continue
                if resp is not None and 200 <= resp.status < 300:
                    expires = _granted_expires(resp, reg.expires_s)
                    self.registered.set()
                    log.info("sip registered", extra={"registrar": reg.registrar, "expires": expires})
                else:
                    self.registered.clear()
                    log.error("sip register failed: check sip registration username/password and registrar",
                              extra={"registrar": reg.registrar, "status": resp.status if resp else "timeout"})
                break
            await self._sleep(max(5.0, expires * 0.8) if expires else reg.retry_s)

    async def _sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = self.clock.call_later(seconds, lambda: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            handle.cancel()


def _granted_expires(resp: SipResponse, asked: int) -> int:
    for contact in resp.headers.get_all("contact"):
        try:
            value = NameAddr.parse(contact).params.get("expires")
        except SipParseError:
            continue
        if value and value.isdecimal():
            return int(value)
    value = resp.headers.get("expires")
    return int(value) if value and value.strip().isdecimal() else asked


def _sipfrag_status(body: bytes) -> int | None:
    """``SIP/2.0 200 OK`` (message/sipfrag, RFC 3420) -> 200."""
    first = body.decode("utf-8", "replace").strip().split("\r\n")[0].split("\n")[0]
    parts = first.split()
    if len(parts) >= 2 and parts[0] == "SIP/2.0" and parts[1].isdecimal():
        return int(parts[1])
    return None


__all__ = ["RegistrationOptions", "SipCall", "SipCallFailed", "SipOptions", "SipUserAgent"]


def _contact_uri(req: SipRequest) -> str:
    """The request's Contact as a SIP(S) URI we can send to, or SipParseError (answered 400).

    ``*`` is only meaningful in REGISTER; a target we could never address would leave a
    call that cannot be hung up properly."""
    contacts = req.headers.get_all("contact")
    if not contacts:
        raise SipParseError(f"{req.method} needs a Contact header")
    uri = NameAddr.parse(contacts[0]).uri
    if not uri.lower().startswith(("sip:", "sips:")):
        raise SipParseError("Contact must be a sip: or sips: URI")
    SipUri.parse(uri)  # raises SipParseError when unusable
    return uri
