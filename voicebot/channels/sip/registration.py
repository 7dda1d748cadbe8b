"""REGISTER to a trunk/PBX with digest auth, refreshed before it expires (part of :class:`~.ua.SipUserAgent`).

A mixin: it uses the user agent's client transactions (``_request``), Contact and clock."""

from __future__ import annotations

import asyncio
import secrets

from voicebot.logs import get_logger

from .dialog import new_branch, new_tag
from .digest import Challenge, DigestError, digest_response
from .message import Headers, NameAddr, SipParseError, SipRequest, SipResponse, SipUri, Via
from .ua_options import RegistrationOptions

log = get_logger("voicebot.channels.sip.ua")  # one logger for the whole user agent, whichever module logs


class RegistrationMixin:
    """Keeps ``registered`` set while the registrar accepts us."""

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

