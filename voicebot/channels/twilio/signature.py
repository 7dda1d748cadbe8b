"""``X-Twilio-Signature`` verification, on the URL exactly as Twilio signed it.

Twilio signs the URL it requested (its scheme and host, not ours) plus the sorted POST form
fields, with the account's Auth Token; a WebSocket handshake is signed on its ``wss://`` URL
with no parameters. Behind ngrok or a load balancer the request this server sees has another
scheme and host, so the URL is rebuilt from the configured public host, else from the
``X-Forwarded-Proto``/``X-Forwarded-Host`` headers the proxy adds.

The HMAC itself is the twilio library's :class:`RequestValidator` (it also tries the URL with
and without the default port, as Twilio's signers differ there); this module only decides which
URL and parameters to hand it and what to do with the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from voicebot.config_types import SecretStr, reveal
from voicebot.logs import get_logger

log = get_logger(__name__)

_WS_SCHEME = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
_HTTP_SCHEME = {"wss": "https", "ws": "http", "https": "https", "http": "http"}


def _first(value: str | None) -> str | None:
    """First entry of a comma-separated forwarded header (the client-facing proxy's value)."""
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def url_as_signed(
    request_url: str,
    headers: Mapping[str, str],
    public_host: str | None = None,
    *,
    websocket: bool = False,
) -> str:
    """The URL Twilio requested, rebuilt from what this server received.

    ``public_host`` (settings ``server.public_host``) wins: Twilio only ever reaches the bot
    through it, over https/wss. Otherwise the forwarded headers, otherwise the request itself.
    Path and query string are kept as received. ``headers`` lookups are case-insensitive when
    given a Starlette ``Headers``; plain dicts should use lower-case keys.
    """
    parts = urlsplit(request_url)
    scheme, netloc = parts.scheme, parts.netloc
    if public_host:
        scheme, netloc = "https", public_host.split("://", 1)[-1].rstrip("/")
    else:
        fwd_proto = _first(headers.get("x-forwarded-proto"))
        fwd_host = _first(headers.get("x-forwarded-host"))
        if fwd_proto:
            scheme = fwd_proto.lower()
        if fwd_host:
            netloc = fwd_host
    scheme = (_WS_SCHEME if websocket else _HTTP_SCHEME).get(scheme, scheme)
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason: str  # "valid" | "missing" | "invalid" | "no_auth_token" | "disabled"
    url: str


class SignatureVerifier:
    """Checks Twilio's signature on webhooks and WebSocket handshakes.

    ``verify=False`` (settings ``twilio.verify_signatures: false``) is for local development
    only: every request is accepted and a warning is logged loudly at start-up.
    """

    def __init__(self, auth_token: str | SecretStr | None, public_host: str | None, verify: bool = True) -> None:
        auth_token = reveal(auth_token)  # the settings keep it as a SecretStr
        self.public_host = public_host
        self.verify = verify
        self._validator = RequestValidator(auth_token) if auth_token else None
        if not verify:
            log.warning(
                "TWILIO SIGNATURE VERIFICATION IS OFF (twilio.verify_signatures: false): anyone who "
                "finds this server can fake calls. Only for local development; remove the setting "
                "before exposing the server."
            )
        elif not auth_token:
            log.error(
                "twilio.auth_token is not set: every Twilio webhook and stream will be refused with "
                "403. Set VOICEBOT_TWILIO__AUTH_TOKEN (Twilio console > Account > API keys & tokens)."
            )

    def check(
        self,
        request_url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        *,
        websocket: bool = False,
    ) -> SignatureCheck:
        url = url_as_signed(request_url, headers, self.public_host, websocket=websocket)
        if not self.verify:
            return SignatureCheck(True, "disabled", url)
        if self._validator is None:
            return SignatureCheck(False, "no_auth_token", url)
        signature = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER)
        if not signature:
            return SignatureCheck(False, "missing", url)
        algorithm = get_signature_algorithm(
            headers.get(SIGNATURE_SETTINGS_HEADER.lower()) or headers.get(SIGNATURE_SETTINGS_HEADER)
        )
        # Starlette's FormData has getlist(), which RequestValidator uses for repeated fields.
        ok = self._validator.validate(url, params if params is not None else {}, signature, algorithm)
        return SignatureCheck(ok, "valid" if ok else "invalid", url)
