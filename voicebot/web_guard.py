"""What the signed-in web pages (agent desk, QA) need against other sites and password guessing.

Cross-site requests: the desk's session cookie rides along with any request a browser makes
to the bot, so a page on another site could post to the desk's API in an agent's name.
State-changing requests are refused unless their ``Origin`` (or, without one, ``Referer``)
is this server itself, and the desk's JSON API only takes ``application/json`` bodies: a
cross-site form or ``text/plain`` post cannot carry that type without a CORS preflight,
which the bot never grants. A request with neither header is refused too (browsers send
``Origin`` on every POST/PUT/PATCH/DELETE; only a stripped or forged request lacks both).

Sign-in: :class:`SignInThrottle` counts failures per agent id and per client address, locks
either out for a while after too many, and every failure answers after the same fixed delay,
so neither the answer nor its timing tells whether an agent id exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.netloc.lower() or None if parts.scheme in ("http", "https") else None


def request_origin(request: Request) -> str | None:
    """The host:port the request says it came from (``Origin``, else ``Referer``); None if neither."""
    origin = request.headers.get("origin")
    if origin is not None:
        return _netloc(origin) or "null"  # "null" (sandboxed frame, file://) never matches a host
    referer = request.headers.get("referer")
    if referer:
        return _netloc(referer) or "null"
    return None


def refuse_cross_site(request: Request, public_host: str | None = None) -> None:
    """403 unless a state-changing request comes from a page of this server (its Host, or ``public_host``)."""
    if request.method not in STATE_CHANGING:
        return
    came_from = request_origin(request)
    if came_from is None:
        raise HTTPException(403, "refused: no Origin or Referer header; use the page this server serves")
    own = {h.lower() for h in (request.headers.get("host"), public_host) if h}
    if came_from not in own:
        raise HTTPException(403, f"cross-site request refused (from {came_from}); use the page this server serves")


def require_json(request: Request) -> None:
    """415 unless the body is declared ``application/json`` (what no cross-site form can send)."""
    if request.method not in STATE_CHANGING or request.method == "DELETE":
        return
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise HTTPException(415, "send the request body as application/json")


def json_api_guard(public_host: Callable[[], str | None] = lambda: None) -> Callable[[Request], None]:
    """A FastAPI dependency for a JSON API's state-changing routes: same-origin and JSON only."""

    def guard(request: Request) -> None:
        refuse_cross_site(request, public_host())
        require_json(request)

    return guard


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class SignInThrottle:
    """Failed sign-ins per agent id and per client address; thread-safe, bounded in memory.

    ``max_failures`` failures within ``window_s`` lock that id (or address) for ``lockout_s``.
    Unknown ids are counted like real ones, so a lock-out reveals nothing either.
    """

    MAX_KEYS = 10_000  # a spray of made-up ids must not grow memory without bound

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, lockout_s: float = 900.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.lockout_s, self.now = max_failures, window_s, lockout_s, now
        self._keys: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: now)."""
        t = self.now()
        with self._lock:
            return max((self._keys[k].locked_until - t for k in keys if k in self._keys), default=0.0) if keys else 0.0

    def failed(self, *keys: str) -> None:
        t = self.now()
        with self._lock:
            if len(self._keys) > self.MAX_KEYS:
                self._keys = {k: v for k, v in self._keys.items() if v.locked_until > t}
            for key in keys:
                f = self._keys.setdefault(key, _Failures())
                f.times = [x for x in f.times if t - x < self.window_s] + [t]
                if len(f.times) >= self.max_failures:
                    f.locked_until = t + self.lockout_s
                    f.times.clear()

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)
