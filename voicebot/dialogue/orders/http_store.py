"""Order store backed by a merchant's own HTTP API (the endpoints are in docs/order-api.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from .models import Case, Customer, Order
from .store import OrderStoreError
from .wire import case_from_json, customer_from_json, order_from_json


@dataclass(frozen=True)
class HttpStoreOptions:
    base_url: str  # e.g. https://shop.example.com/voicebot/v1 (no trailing slash needed)
    token: str | None = None  # sent as "Authorization: Bearer <token>" when set
    timeout_s: float = 4.0  # a caller is waiting: fail fast and hand over rather than hang


class HttpOrderStore:
    """One aiohttp session per store; call :meth:`close` on shutdown."""

    def __init__(self, options: HttpStoreOptions) -> None:
        self.options = options
        self._base = options.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None) -> Any:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json"}
            if self.options.token:
                headers["Authorization"] = f"Bearer {self.options.token}"
            self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.options.timeout_s))
        url = self._base + path
        try:
            async with self._session.request(method, url, params=params, json=body) as resp:
                if resp.status == 404:
                    return None
                if resp.status >= 400:
                    text = (await resp.text())[:200]
                    raise OrderStoreError(f"order API {method} {url} answered {resp.status}: {text}; check the merchant endpoint (docs/order-api.md)")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OrderStoreError(f"order API {method} {url} failed: {exc!r}; is the merchant endpoint up?") from exc

    def _parse(self, fn: Any, obj: Any, what: str) -> Any:
        try:
            return fn(obj)
        except (ValueError, TypeError, KeyError) as exc:
            raise OrderStoreError(f"order API sent a malformed {what}: {exc}; see docs/order-api.md") from exc

    async def get_order(self, order_id: str) -> Order | None:
        obj = await self._request("GET", f"/orders/{quote(order_id.strip(), safe='')}")
        return None if obj is None else self._parse(order_from_json, obj, "order")

    async def find_customer(self, *, customer_id: str | None = None, phone: str | None = None, email: str | None = None) -> Customer | None:
        params = {k: v for k, v in (("id", customer_id), ("phone", phone), ("email", email)) if v}
        if not params:
            return None
        obj = await self._request("GET", "/customers", params=params)
        return None if obj is None else self._parse(customer_from_json, obj, "customer")

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        obj = await self._request("GET", f"/customers/{quote(customer_id, safe='')}/orders")
        return [] if obj is None else [self._parse(order_from_json, o, "order") for o in obj.get("orders", [])]

    async def create_case(self, kind: str, order_id: str, data: dict[str, Any]) -> Case:
        obj = await self._request("POST", f"/orders/{quote(order_id, safe='')}/cases", body={"kind": kind, "data": data})
        if obj is None:
            raise OrderStoreError(f"order API does not know order {order_id} when creating a {kind} case")
        return self._parse(case_from_json, obj, "case")

    async def cases_for_order(self, order_id: str) -> list[Case]:
        obj = await self._request("GET", f"/orders/{quote(order_id, safe='')}/cases")
        return [] if obj is None else [self._parse(case_from_json, c, "case") for c in obj.get("cases", [])]
