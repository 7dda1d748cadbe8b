"""The in-app channel's server side: options, admission (token + origin), live calls, and the
glue between a browser connection (WebRTC or WebSocket) and an :class:`~.channel.InappCall`."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from voicebot.config_types import validate_section
from voicebot.logs import get_logger

from .options import InappOptions
from .protocol import (
    BadMessage,
    Offer,
    error_message,
    parse_client_message,
)
from .tokens import SessionClaims, TokenError, origin_allowed, verify_token

log = get_logger(__name__)


def options_from(settings: Any, env: Mapping[str, str] | None = None) -> InappOptions:
    """``settings.inapp`` (the typed section, or a mapping), with the older variables
    VOICEBOT_INAPP_SECRET and VOICEBOT_INAPP_ORIGINS (comma-separated) filling what it leaves unset."""
    env = os.environ if env is None else env
    section = getattr(settings, "inapp", None)
    if isinstance(section, InappOptions):
        opts = section.model_copy()
    else:
        opts = validate_section(InappOptions, dict(section or {}), "inapp.")
    updates: dict[str, Any] = {}
    if opts.secret is None and env.get("VOICEBOT_INAPP_SECRET"):
        updates["secret"] = env["VOICEBOT_INAPP_SECRET"]
    if not opts.allowed_origins and env.get("VOICEBOT_INAPP_ORIGINS"):
        updates["allowed_origins"] = env["VOICEBOT_INAPP_ORIGINS"]
    if updates:
        opts = validate_section(InappOptions, {**opts.model_dump(exclude_unset=True), **updates}, "inapp.")
    return opts


class Refused(Exception):
    """A call the server will not take: HTTP ``status``, a ``code`` and a message for the page."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self)}}


def admit(options: InappOptions, token: str, origin: str | None, own_origin: str | None) -> SessionClaims:
    """Token and page origin checked; the claims, or :class:`Refused`."""
    if not origin_allowed(origin, options.allowed_origins, own_origin):
        raise Refused(403, "wrong_origin", f"this page's origin ({origin or 'none'}) may not start calls; "
                                           "add it to VOICEBOT_INAPP_ORIGINS")
    try:
        claims = verify_token(token, options.effective_secret, max_ttl_s=options.token_max_ttl_s)
    except TokenError as exc:
        raise Refused(401, exc.reason, str(exc)) from None
    if claims.origin and not origin_allowed(origin, (claims.origin,), None):
        raise Refused(403, "wrong_origin", "this session token was issued for another site")
    return claims


class InappCalls:
    """Live in-app calls by id (and WebRTC peer id), the session tokens used, and the last ended calls' summaries."""

    MAX_USED_TOKENS = 100_000  # tokens live at most token_max_ttl_s; this only bounds a flood

    def __init__(self, keep: int = 100) -> None:
        self.calls: dict[str, Any] = {}
        self.by_pc: dict[str, Any] = {}
        self.ended: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._keep = keep
        self._changed = asyncio.Condition()
        self._used: dict[str, float] = {}  # token digest -> its expiry: each token starts one call

    def claim_token(self, token: str, claims: SessionClaims, now: float | None = None) -> None:
        """Mark ``token`` as having started a call; :class:`Refused` if it already did (a replay).

        A token is a session for one call: a copied or logged token cannot open a second one.
        Kept until the token expires (it is refused after that anyway)."""
        t = time.time() if now is None else now
        if len(self._used) > self.MAX_USED_TOKENS // 2:
            self._used = {k: exp for k, exp in self._used.items() if exp > t}
        key = hashlib.sha256(token.encode()).hexdigest()
        if key in self._used and self._used[key] > t:
            raise Refused(401, "token_used", "this session token has already started a call; reload the page for a new one")
        if len(self._used) >= self.MAX_USED_TOKENS:
            raise Refused(503, "busy", "too many calls are starting; please try again in a minute")
        self._used[key] = float(claims.expires_at)

    def release_token(self, token: str) -> None:
        """The call never started (its offer could not be answered): the token may be used again."""
        self._used.pop(hashlib.sha256(token.encode()).hexdigest(), None)

    def __len__(self) -> int:
        return len(self.calls)

    def add(self, link: Any) -> None:
        self.calls[link.call.call_id] = link
        if getattr(link, "pc_id", None):
            self.by_pc[link.pc_id] = link

    def finish(self, link: Any, summary: dict[str, Any]) -> None:
        self.calls.pop(link.call.call_id, None)
        if getattr(link, "pc_id", None):
            self.by_pc.pop(link.pc_id, None)
        self.ended[link.call.call_id] = summary
        while len(self.ended) > self._keep:
            self.ended.popitem(last=False)

    def status(self, call_id: str) -> dict[str, Any] | None:
        if call_id in self.calls:
            link = self.calls[call_id]
            return {"call_id": call_id, "live": True, "state": link.call.state_name, "channel": link.call.ctx.channel,
                    "waiting_for_agent": link.call.waiting_for_agent}
        if call_id in self.ended:
            return {"call_id": call_id, "live": False, **self.ended[call_id]}
        return None


def summarize(call: Any, reason_hint: str = "") -> dict[str, Any]:
    res = call.result
    events = list(call.state.events.events)
    end = next((e for e in reversed(events) if e.kind == "call_end"), None)
    return {
        "state": "ended",
        "end_reason": (res.end_reason if res else None) or (end.data.get("reason") if end else reason_hint),
        "outcome": (res.outcome if res else None) or (end.data.get("outcome") if end else "error"),
        "events": [e.kind for e in events],
        "captions": [{"kind": e.kind, "text": e.data.get("text")} for e in events if e.kind in ("transcript", "bot_reply")],
    }


def new_call_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def parse_message_or_error(raw: bytes | str, send: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
    """A page message, or None after telling the page what was wrong (the call goes on)."""
    try:
        return parse_client_message(raw)
    except BadMessage as exc:
        send(error_message(exc.code, str(exc)))
        return None


__all__ = ["InappCalls", "InappOptions", "Offer", "Refused", "admit", "options_from", "summarize"]
