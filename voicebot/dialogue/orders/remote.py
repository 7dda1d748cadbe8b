"""What every shop-platform adapter needs from HTTP: one session, timeouts, rate limits, errors.

A caller is on the line while the bot waits, so each request has a short timeout and a
throttled request waits only within a small budget (``max_wait_s``): a ``429`` or ``503`` with
``Retry-After`` is retried when that wait fits, otherwise the store says so and the flows hand
the caller to a person. Every failure is an :class:`OrderStoreError` naming the platform, the
request and what the operator should check; nothing is guessed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from .models import CASE_KINDS, Case
from .store import OrderStoreError

Sleep = Callable[[float], Awaitable[None]]
# Case references the bot reads out: the kind's prefix, the shop's order number, a counter.
CASE_PREFIX = {"return": "RET", "refund": "REF", "investigation": "INV", "damage_claim": "CLM", "cancellation": "CAN",
               "address_change": "ADR"}
CASE_MARK = "voicebot"  # what marks the bot's cases on the platform (tags, notes)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON (None for an empty body)


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class RemoteApi:
    """One platform's HTTP client: ``await api.request("GET", url)`` -> :class:`Answer`."""

    def __init__(self, platform: str, *, headers: dict[str, str] | None = None, auth: aiohttp.BasicAuth | None = None,
                 timeout_s: float = 4.0, max_wait_s: float = 2.0, sleep: Sleep = asyncio.sleep, hint: str = "") -> None:
        self.platform = platform
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.auth = auth
        self.timeout_s = timeout_s
        self.max_wait_s = max_wait_s
        self.sleep = sleep  # tests pass a recorder: no test waits on the wall clock
        self.hint = hint  # what to check when the platform refuses the credentials
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self.headers, auth=self.auth,
                                                  timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def wait(self, seconds: float, budget: list[float], what: str) -> None:
        """Spend ``seconds`` of the request's waiting budget, or fail when it does not fit."""
        if seconds > budget[0]:
            raise OrderStoreError(f"{self.platform} is rate-limiting the bot ({what}: asked to wait {seconds:.1f} s, "
                                  f"more than the {self.max_wait_s:.1f} s a caller can wait); calls go to a person meanwhile")
        budget[0] -= seconds
        await self.sleep(seconds)

    async def request(self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None,
                      budget: list[float] | None = None, ok_statuses: tuple[int, ...] = (404,)) -> Answer:
        """The answer to one request, after waiting out ``429``/``503`` + ``Retry-After`` within the budget.

        Statuses below 400, and those in ``ok_statuses``, are returned; any other is an OrderStoreError."""
        budget = budget if budget is not None else [self.max_wait_s]
        while True:
            try:
                async with self._client().request(method, url, params=params, json=json) as resp:
                    text = await resp.text()
                    status, headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise OrderStoreError(f"{self.platform} {method} {_shown(url)} failed: {exc!r}; is the shop reachable "
                                      f"from the bot (address, firewall, timeout {self.timeout_s} s)?") from exc
            if status in (429, 503):
                delay = retry_after_s(headers.get("retry-after"))
                await self.wait(1.0 if delay is None else delay, budget, f"HTTP {status}")
                continue
            body = _json(text) if text.strip() else None
            if status < 400 or status in ok_statuses:
                if status < 400 and text.strip() and body is _NOT_JSON:
                    raise OrderStoreError(f"{self.platform} {method} {_shown(url)} answered {status} with a body that is not JSON: "
                                          f"{text[:120]!r}; is the URL the shop's API?")
                return Answer(status, headers, None if body is _NOT_JSON else body)
            if status in (401, 403):
                raise OrderStoreError(f"{self.platform} refused the bot's credentials ({status} on {method} {_shown(url)}): "
                                      f"{_detail(body, text)}; {self.hint}")
            raise OrderStoreError(f"{self.platform} {method} {_shown(url)} answered {status}: {_detail(body, text)}")


_NOT_JSON = object()


def _json(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _detail(body: Any, text: str) -> str:
    if isinstance(body, dict):
        for key in ("message", "errors", "error"):
            if key in body:
                return str(body[key])[:200]
    return text[:200]


def _shown(url: str) -> str:
    """The URL without its query string (WooCommerce's may hold the consumer secret)."""
    return url.split("?", 1)[0]


def case_reference(kind: str, order_id: str, existing: list[Case]) -> str:
    """``RET-1001-1``, ``RET-1001-2``: readable on the phone, unique per order and kind."""
    if kind not in CASE_KINDS:
        raise ValueError(f"unknown case kind {kind!r}; use one of {CASE_KINDS}")
    n = sum(1 for c in existing if c.kind == kind) + 1
    return f"{CASE_PREFIX[kind]}-{order_id}-{n}"


def day_of(value: Any) -> date | None:
    """The date part of an ISO timestamp (``2026-03-12T10:00:00Z``); None when empty or unreadable."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
