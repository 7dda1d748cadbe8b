"""Outbound calls (UAC): INVITE with digest auth, CANCEL on timeout or abandon, ACK (part of :class:`~.ua.SipUserAgent`).

A mixin: it uses the user agent's client transactions (``_request``), sending and call table."""

from __future__ import annotations

import asyncio
import secrets

from voicebot.logs import get_logger

from .dialog import Dialog, new_branch, new_tag
from .digest import Challenge, DigestError, digest_response
from .message import Headers, SipRequest, SipResponse, SipUri, Via
from .rtp_session import RtpSession
from .sdp import NoCommonCodec, SdpError, SessionDescription, make_offer, negotiate
from .sip_call import SipCall
from .ua_options import ALLOW

log = get_logger("voicebot.channels.sip.ua")  # one logger for the whole user agent, whichever module logs


class SipCallFailed(Exception):
    """An outbound INVITE got a final failure (``status`` 0 on timeout)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class OutboundDialMixin:
    """``dial()``: the bot places a call (an agent for an attended transfer, an outbound campaign)."""

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

