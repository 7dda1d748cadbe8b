"""SIP dialog state (RFC 3261 section 12) and building in-dialog requests, no I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .message import (
    Headers,
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)  # RFC 3261 magic cookie


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # our address-of-record header value (From in our requests)
    remote_uri: str  # theirs (To in our requests)
    remote_target: str  # their Contact URI: Request-URI of our requests
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    remote_cseq: int = 0
    transport: str = "UDP"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uas(cls, invite: SipRequest, local_tag: str, transport: str) -> Dialog:
        """The dialog an incoming INVITE creates (12.1.1): route set = Record-Route in order."""
        contact = invite.headers.get_all("contact")
        if not contact:
            raise SipParseError("INVITE without Contact")
        from_addr = invite.from_addr
        if not from_addr.tag:
            raise SipParseError("INVITE without From tag")
        to = invite.to_addr
        to.params["tag"] = local_tag
        return cls(
            call_id=invite.call_id, local_tag=local_tag, remote_tag=from_addr.tag,
            local_uri=str(to), remote_uri=invite.headers.get("from") or "",
            remote_target=NameAddr.parse(contact[0]).uri, route_set=invite.headers.get_all("record-route"),
            local_cseq=1, remote_cseq=invite.cseq[0], transport=transport,
        )

    @classmethod
    def as_uac(cls, invite: SipRequest, resp: SipResponse, transport: str) -> Dialog:
        """The dialog a 2xx to our INVITE creates (12.1.2): route set = Record-Route reversed."""
        contact = resp.headers.get_all("contact")
        to = resp.to_addr
        if not to.tag:
            raise SipParseError("2xx without To tag")
        return cls(
            call_id=invite.call_id, local_tag=invite.from_addr.tag or "", remote_tag=to.tag,
            local_uri=invite.headers.get("from") or "", remote_uri=resp.headers.get("to") or "",
            remote_target=NameAddr.parse(contact[0]).uri if contact else invite.uri,
            route_set=list(reversed(resp.headers.get_all("record-route"))), local_cseq=invite.cseq[0], transport=transport,
        )

    def request(self, method: str, via_host: str, via_port: int, *, cseq: int | None = None, branch: str | None = None) -> SipRequest:
        """An in-dialog request (12.2.1.1) with loose routing; strict routers are not supported."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        h = Headers()
        h.add("Via", str(Via(self.transport, via_host, via_port, {"branch": branch or new_branch(), "rport": None})))
        h.add("Max-Forwards", "70")
        for route in self.route_set:
            h.add("Route", route)
        h.add("From", self.local_uri)
        h.add("To", self.remote_uri)
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        return SipRequest(headers=h, method=method, uri=self.remote_target)

    def next_hop(self) -> tuple[str, int, str]:
        """Where an in-dialog request goes: the first Route when there is one, else the target."""
        uri = SipUri.parse(NameAddr.parse(self.route_set[0]).uri if self.route_set else self.remote_target)
        transport = str(uri.params.get("transport") or self.transport).upper()
        return uri.host, uri.port or 5060, transport
