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
import re
from collections.abc import Awaitable, Callable

from voicebot.logs import get_logger

from .admission import AllowList, LoopLag, RateLimiter
from .answer import InboundInviteMixin, InviteState
from voicebot.clock import Clock, LoopClock
from .dial import OutboundDialMixin, SipCallFailed
from .message import (
    Header,
    SipParseError,
    SipRequest,
    SipResponse,
    Via,
    canonical,
    make_response,
    parse_message,
)
from .registration import RegistrationMixin
from .rtp_session import RtpOptions
from .sip_call import SipCall
from .transaction import ClientTransaction, ResponseCache
from .transport import SipTransports, Source
from .ua_options import ALLOW, RegistrationOptions, SipOptions

log = get_logger(__name__)

_VERSION = re.compile(r"SIP/\d{1,3}\.\d{1,3}")
OnCall = Callable[[SipCall], Awaitable[None]]


class SipUserAgent(InboundInviteMixin, OutboundDialMixin, RegistrationMixin):
    """One SIP endpoint: transports, transactions, the call table, and the requests inside a
    dialog. Answering INVITEs (:mod:`.answer`), dialling (:mod:`.dial`) and registering
    (:mod:`.registration`) are its mixins; admission checks are in :mod:`.admission`."""

    def __init__(self, options: SipOptions, on_call: OnCall, *, clock: Clock | None = None) -> None:
        self.options = options
        self.on_call = on_call
        self.clock: Clock = clock or LoopClock()
        self.transports = SipTransports(options.host, options.port, options.transports, self._on_data)
        self.limiter = RateLimiter(self.clock, options.rate_limit_per_s, options.rate_limit_burst)
        self.allow_list = AllowList(options.allow_from)
        self._responses = ResponseCache(self.clock, options.timers)
        self._client: dict[tuple[str, str], ClientTransaction] = {}
        self._calls: dict[tuple[str, str], SipCall] = {}  # (Call-ID, our tag)
        self._invites: dict[tuple[str, str], tuple[SipCall, InviteState]] = {}  # (Call-ID, branch) -> pending
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
        if not self.allow_list.allows(src.host):
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



def _sipfrag_status(body: bytes) -> int | None:
    """``SIP/2.0 200 OK`` (message/sipfrag, RFC 3420) -> 200."""
    first = body.decode("utf-8", "replace").strip().split("\r\n")[0].split("\n")[0]
    parts = first.split()
    if len(parts) >= 2 and parts[0] == "SIP/2.0" and parts[1].isdecimal():
        return int(parts[1])
    return None



__all__ = ["ALLOW", "LoopLag", "OnCall", "RegistrationOptions", "SipCall", "SipCallFailed", "SipOptions", "SipUserAgent"]
