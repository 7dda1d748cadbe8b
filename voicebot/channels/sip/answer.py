"""Incoming INVITEs (UAS): admission, 100/180/200 with the 2xx retransmitted until ACK,
CANCEL, and re-INVITE (hold/unhold, target refresh) (part of :class:`~.ua.SipUserAgent`).

A mixin: it uses the user agent's responses (``_respond``), call table and handler tasks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from voicebot.logs import get_logger

from voicebot.clock import TimerHandle
from .dialog import Dialog, new_tag
from .message import NameAddr, SipParseError, SipRequest, SipUri, make_response
from .rtp_session import RtpSession
from .sdp import MediaParams, NoCommonCodec, SdpError, SessionDescription, make_answer, negotiate
from .sip_call import SipCall
from .transaction import Retransmitter
from .transport import Source
from .ua_options import ALLOW

log = get_logger("voicebot.channels.sip.ua")  # one logger for the whole user agent, whichever module logs


@dataclass
class InviteState:
    """Server side of an incoming INVITE (initial or re-INVITE) until it is ACKed."""

    request: SipRequest
    source: Source
    final: Retransmitter | None = None
    answered: bool = False
    answer_timer: TimerHandle | None = None


class InboundInviteMixin:
    """Answers calls: every confirmed call runs the user agent's ``on_call`` in its own task."""

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
        state = InviteState(req, src)
        self._calls[(req.call_id, local_tag)] = call
        self._invites[(req.call_id, req.vias[0].branch or "")] = (call, state)
        self.counters["calls"] += 1
        log.info("sip call incoming", extra={"call_id": req.call_id, "from": call.caller_uri, "to": call.callee_uri, "codec": media.codec})
        self._respond(req, src, 180, to_tag=local_tag, contact=self._contact(src.transport))
        if self.options.answer_delay_s > 0:
            state.answer_timer = self.clock.call_later(self.options.answer_delay_s, lambda: self._answer(call, state, media))
        else:
            self._answer(call, state, media)

    def _answer(self, call: SipCall, state: InviteState, media: MediaParams, version: int = 1) -> None:
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
        state = InviteState(req, src)
        self._invites[(req.call_id, req.vias[0].branch or "")] = (call, state)
        call._sdp_version = getattr(call, "_sdp_version", 1) + 1  # type: ignore[attr-defined]
        self._answer(call, state, media, version=call._sdp_version)  # type: ignore[attr-defined]



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
