"""Short-lived signed session tokens for the in-app widget, and the page-origin check.

The shop's backend (behind the shop's own login) issues a token with :func:`issue_token`
and hands it to its page; the page gives it to the bot server, which checks it with
:func:`verify_token`. The token carries who the customer is and their language, so the bot
can greet by name and look up their orders without asking.

Format: ``v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>``. Why not a JWT library: none
is installed, and a fixed algorithm leaves no ``alg`` header to confuse. Pure code, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from voicebot.dialogue.nlu_types import LANGUAGES

VERSION = "v1"
MAX_TOKEN_CHARS = 2048
MAX_NAME_CHARS = 80
MAX_ID_CHARS = 128


class TokenError(ValueError):
    """The token is refused. ``reason`` is a short code for logs and for the widget."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SessionClaims:
    customer_id: str | None
    customer_name: str | None
    language: str | None
    origin: str | None  # the page origin the token was issued for (None: any allowed origin)
    issued_at: int
    expires_at: int
    token_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise TokenError("malformed", "token is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < 16:
        raise ValueError("the in-app token secret must be at least 16 bytes (set VOICEBOT_INAPP_SECRET)")
    return key


def _sign(secret: str | bytes, signed: str) -> str:
    return _b64(hmac.new(_key(secret), signed.encode("ascii"), hashlib.sha256).digest())


def issue_token(secret: str | bytes, *, customer_id: str | None = None, customer_name: str | None = None,
                language: str | None = None, origin: str | None = None, ttl_s: int = 300, now: float | None = None) -> str:
    """A token valid for ``ttl_s`` seconds (keep it short: the page asks again for a new call)."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not supported; use one of {', '.join(LANGUAGES)}")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    iat = int(time.time() if now is None else now)
    claims = {"sub": customer_id, "name": customer_name, "lang": language, "origin": normalize_origin(origin) if origin else None,
              "iat": iat, "exp": iat + int(ttl_s), "jti": secrets.token_hex(8)}
    body = _b64(json.dumps({k: v for k, v in claims.items() if v is not None}, separators=(",", ":")).encode())
    signed = f"{VERSION}.{body}"
    return f"{signed}.{_sign(secret, signed)}"


def verify_token(token: str, secret: str | bytes, *, now: float | None = None, max_ttl_s: int = 3600, leeway_s: int = 5) -> SessionClaims:
    """The token's claims, or :class:`TokenError` (malformed, bad_signature, expired, ...)."""
    if not isinstance(token, str) or not token:
        raise TokenError("missing", "no session token: the page must get one from the shop's backend")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("malformed", "session token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenError("malformed", "not a voicebot session token")
    if not hmac.compare_digest(_sign(secret, f"{parts[0]}.{parts[1]}"), parts[2]):
        raise TokenError("bad_signature", "session token signature is invalid (forged, or signed with another secret)")
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("malformed", f"session token claims unreadable: {exc}") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("iat"), int) or not isinstance(claims.get("exp"), int):
        raise TokenError("malformed", "session token lacks iat/exp")
    t = time.time() if now is None else now
    if claims["exp"] - claims["iat"] > max_ttl_s:
        raise TokenError("too_long_lived", f"session tokens may live at most {max_ttl_s} s")
    if t > claims["exp"] + leeway_s:
        raise TokenError("expired", "session token expired: reload the page to get a new one")
    if t < claims["iat"] - leeway_s:
        raise TokenError("not_yet_valid", "session token issued in the future (check the clocks)")
    lang = claims.get("lang")
    if lang is not None and lang not in LANGUAGES:
        raise TokenError("malformed", f"unsupported language {lang!r} in session token")

    def text(name: str, limit: int) -> str | None:
        v = claims.get(name)
        if v is None:
            return None
        if not isinstance(v, str) or len(v) > limit:
            raise TokenError("malformed", f"session token claim {name!r} must be a string of at most {limit} characters")
        v = "".join(ch for ch in v if ch.isprintable()).strip()
        return v or None

    return SessionClaims(customer_id=text("sub", MAX_ID_CHARS), customer_name=text("name", MAX_NAME_CHARS), language=lang,
                         origin=text("origin", 256), issued_at=claims["iat"], expires_at=claims["exp"], token_id=str(claims.get("jti", "")))


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped (``https://Shop.example:443`` -> ``https://shop.example``)."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an origin: {origin!r}")
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origin_allowed(origin: str | None, allowed: tuple[str, ...], own_origin: str | None) -> bool:
    """The page's ``Origin`` header against the allow-list. An empty list allows the bot
    server's own origin only (its demo page). ``*`` allows any (never in production)."""
    if not origin:
        return False
    try:
        o = normalize_origin(origin)
    except ValueError:
        return False
    if "*" in allowed:
        return True
    candidates = set()
    for a in allowed:
        try:
            candidates.add(normalize_origin(a))
        except ValueError:
            continue
    if own_origin:
        candidates.add(normalize_origin(own_origin))
    return o in candidates
