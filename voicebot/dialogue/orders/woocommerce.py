"""Orders from a WooCommerce store, through its REST API v3 (``/wp-json/wc/v3``).

Built from WooCommerce's published REST API reference: a REST API key (consumer key and
secret) sent as HTTP Basic auth over HTTPS (or, where the host strips the Authorization header,
as ``consumer_key``/``consumer_secret`` query parameters); list endpoints paged with ``page`` and
``per_page`` and counted in ``X-WP-TotalPages``. WooCommerce has no tracking of its own: numbers
come from the Shipment Tracking extension (``/wp-json/wc-shipment-tracking/v3``) when it is there.

Customers are found by e-mail (``/customers?email=``); WooCommerce cannot filter customers by
phone, so a caller's number is searched in orders (their billing phone is a search field) and
compared digit by digit. A guest (customer id 0) is known by the e-mail on their orders. Cases the
bot opens are private order notes (``voicebot case RET-1001-1: return``); a confirmed cancellation
sets the order's status to ``cancelled`` unless ``cancel_orders`` is off.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from voicebot.config_types import reveal

from .models import Case, Customer, Item, Order, Shipment, TrackingEvent, same_phone
from .options import WooCommerceOptions
from .remote import CASE_MARK, CASE_PREFIX, RemoteApi, Sleep, case_reference, day_of
from .store import OrderStoreError

# WooCommerce order status -> the bot's order status.
ORDER_STATUS = {"pending": "processing", "on-hold": "processing", "processing": "processing", "failed": "processing",
                "checkout-draft": "processing", "completed": "shipped", "cancelled": "cancelled", "refunded": "cancelled",
                "trash": "cancelled"}
GUEST = "guest:"  # customer ids of guests: "guest:<e-mail>"
_NOTE = re.compile(rf"^{CASE_MARK} case (?P<ref>(?P<prefix>[A-Z]+)-[\w-]+): (?P<kind>[a-z_]+)")
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in CASE_PREFIX.items()}
TRUE_WORDS = ("1", "yes", "true", "on")


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The site URL without a trailing slash; plain HTTP only to this machine (the key would travel in clear)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OrderStoreError(f"dialogue.woocommerce.url {url!r} is not a web address; write e.g. https://shop.example.com")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise OrderStoreError(f"dialogue.woocommerce.url {url!r} is plain HTTP: the consumer secret would cross the network "
                              "in clear; use https://")
    return url.strip().rstrip("/")


def _meta(order: dict[str, Any], key: str) -> Any:
    return next((m.get("value") for m in order.get("meta_data") or [] if isinstance(m, dict) and m.get("key") == key), None)


def customer_id_of(order: dict[str, Any]) -> str:
    cid = order.get("customer_id") or 0
    if cid:
        return str(cid)
    return GUEST + str((order.get("billing") or {}).get("email") or "").lower()


def shipment_from(order: dict[str, Any], trackings: list[dict[str, Any]]) -> Shipment | None:
    """A shipment from the order's status and its Shipment Tracking items (latest last)."""
    status = str(order.get("status") or "")
    if not trackings and status != "completed":
        return None
    last = trackings[-1] if trackings else {}
    shipped = day_of(last.get("date_shipped")) or day_of(order.get("date_completed"))
    events = (TrackingEvent(shipped, "picked_up"),) if shipped else ()
    state = "cancelled" if status in ("cancelled", "refunded") else "in_transit"
    return Shipment(str(last.get("tracking_provider") or last.get("custom_tracking_provider") or ""),
                    str(last.get("tracking_number") or ""), state, None, None, events)


def order_from(order: dict[str, Any], trackings: list[dict[str, Any]], final_sale_meta: str = "final_sale") -> Order:
    """A WooCommerce order (``GET /orders/<id>``) as the bot's :class:`Order`."""
    if not isinstance(order, dict) or "id" not in order:
        raise ValueError("an order without an id")
    placed = day_of(order.get("date_created"))
    if placed is None:
        raise ValueError(f"order {order.get('id')}: date_created missing")
    items = tuple(Item(str(li.get("sku") or li.get("product_id") or li.get("name") or "?"), int(li.get("quantity") or 1),
                       float(li.get("price") or 0)) for li in order.get("line_items") or [])
    country = str((order.get("shipping") or {}).get("country") or (order.get("billing") or {}).get("country") or "")
    final_sale = str(_meta(order, final_sale_meta) or "").strip().lower() in TRUE_WORDS
    return Order(str(order.get("number") or order["id"]), customer_id_of(order), placed,
                 ORDER_STATUS.get(str(order.get("status") or ""), "processing"), str(order.get("currency") or ""),
                 float(order.get("total") or 0), country, items, shipment_from(order, trackings), final_sale)


def customer_from(c: dict[str, Any]) -> Customer:
    billing = c.get("billing") or {}
    name = " ".join(p for p in (c.get("first_name") or billing.get("first_name"), c.get("last_name") or billing.get("last_name")) if p)
    return Customer(str(c["id"]), name, str(c.get("email") or billing.get("email") or ""), str(billing.get("phone") or ""),
                    str(billing.get("country") or ""), "")


def guest_from(order: dict[str, Any]) -> Customer:
    billing = order.get("billing") or {}
    name = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)
    return Customer(customer_id_of(order), name, str(billing.get("email") or ""), str(billing.get("phone") or ""),
                    str(billing.get("country") or ""), "")


def cases_from_notes(order_id: str, notes: list[dict[str, Any]]) -> list[Case]:
    """The bot's cases on an order, oldest first, from its private notes."""
    found = []
    for n in notes:
        m = _NOTE.match(str(n.get("note") or ""))
        if m and m.group("prefix") in _KIND_OF_PREFIX:
            case = Case(m.group("ref"), _KIND_OF_PREFIX[m.group("prefix")], order_id, day_of(n.get("date_created")) or date.min)
            found.append((str(n.get("date_created") or ""), int(n.get("id") or 0), case))
    return [case for *_, case in sorted(found, key=lambda f: (f[0], f[1]))]  # WooCommerce lists notes newest first


class WooCommerceOrderStore:
    """The five OrderStore methods over one store's REST API; ``close()`` on shutdown."""

    def __init__(self, options: WooCommerceOptions, *, today: Callable[[], date] = date.today, sleep: Sleep | None = None) -> None:
        self.options = options
        self._today = today
        site = check_url(options.url)
        self.base = f"{site}/wp-json/wc/v3"
        self.tracking_base = f"{site}/wp-json/wc-shipment-tracking/v3"
        key, secret = reveal(options.consumer_key) or "", reveal(options.consumer_secret) or ""
        self._query_auth = {"consumer_key": key, "consumer_secret": secret} if options.query_string_auth else {}
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.api = RemoteApi("WooCommerce", auth=None if options.query_string_auth else aiohttp.BasicAuth(key, secret),
                             timeout_s=options.timeout_s, max_wait_s=options.max_wait_s,
                             hint="check dialogue.woocommerce.consumer_key and consumer_secret (a key with Read/Write permission)",
                             **kwargs)
        self._tracking_missing = False

    async def close(self) -> None:
        await self.api.close()

    async def _get(self, path: str, params: dict[str, Any] | None = None, *, base: str | None = None) -> tuple[int, Any, dict[str, str]]:
        answer = await self.api.request("GET", (base or self.base) + path, params={**(params or {}), **self._query_auth})
        return answer.status, answer.body, answer.headers

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        answer = await self.api.request(method, self.base + path, params=self._query_auth or None, json=body, ok_statuses=())
        return answer.body

    def _parse(self, order: dict[str, Any], trackings: list[dict[str, Any]]) -> Order:
        try:
            return order_from(order, trackings, self.options.final_sale_meta)
        except (ValueError, TypeError, KeyError) as exc:
            raise OrderStoreError(f"WooCommerce sent an order the bot cannot read: {exc}") from exc

    async def _trackings(self, order_id: Any) -> list[dict[str, Any]]:
        """Shipment Tracking items of an order; [] when the extension is not installed (said once in the log)."""
        if not self.options.shipment_tracking or self._tracking_missing:
            return []
        status, body, _ = await self._get(f"/orders/{order_id}/shipment-trackings", base=self.tracking_base)
        if status == 404 and isinstance(body, dict) and body.get("code") == "rest_no_route":
            from voicebot.logs import get_logger

            get_logger(__name__).warning("WooCommerce has no Shipment Tracking extension: tracking numbers are not known; "
                                         "set dialogue.woocommerce.shipment_tracking false to stop asking")
            self._tracking_missing = True
            return []
        return [t for t in body or [] if isinstance(t, dict)] if status < 400 and isinstance(body, list) else []

    async def _raw_order(self, order_id: str) -> dict[str, Any] | None:
        oid = order_id.strip().lstrip("#")
        if not oid.isdigit():  # WooCommerce order numbers are numbers
            return None
        status, body, _ = await self._get(f"/orders/{oid}")
        return body if status < 400 and isinstance(body, dict) else None

    async def _order(self, raw: dict[str, Any]) -> Order:
        trackings = await self._trackings(raw["id"]) if raw.get("status") in ("completed", "processing") else []
        return self._parse(raw, trackings)

    async def get_order(self, order_id: str) -> Order | None:
        raw = await self._raw_order(order_id)
        return None if raw is None else await self._order(raw)

    async def _search_orders(self, term: str, per_page: int = 20) -> list[dict[str, Any]]:
        status, body, _ = await self._get("/orders", {"search": term, "per_page": per_page, "orderby": "date", "order": "desc"})
        return [o for o in body or [] if isinstance(o, dict)] if status < 400 and isinstance(body, list) else []

    async def _customer(self, customer_id: str) -> Customer | None:
        if customer_id.startswith(GUEST):
            email = customer_id[len(GUEST):]
            orders = [o for o in await self._search_orders(email) if str((o.get("billing") or {}).get("email") or "").lower() == email]
            return guest_from(orders[0]) if orders else None
        if not customer_id.isdigit():
            return None
        status, body, _ = await self._get(f"/customers/{customer_id}")
        return customer_from(body) if status < 400 and isinstance(body, dict) else None

    async def find_customer(self, *, customer_id: str | None = None, phone: str | None = None, email: str | None = None) -> Customer | None:
        if customer_id:
            return await self._customer(customer_id)
        if email:
            wanted = email.strip().lower()
            status, body, _ = await self._get("/customers", {"email": wanted})
            if status < 400 and isinstance(body, list):
                match = next((c for c in body if str(c.get("email") or "").lower() == wanted), None)
                if match:
                    return customer_from(match)
            return await self._customer(GUEST + wanted)
        if phone:
            digits = re.sub(r"\D", "", phone)
            if len(digits) < 7:
                return None
            # The billing phone is searched as the text the shop stored ("+1 202…", "(202) 555-0112"):
            # the forms a shop writes, then the last four digits as a wide net; a match is digit by digit.
            for term, per_page in ((phone.strip(), 20), (digits, 20), (digits[-10:], 20), (digits[-7:], 20), (digits[-4:], 100)):
                for order in await self._search_orders(term, per_page):
                    if same_phone(str((order.get("billing") or {}).get("phone") or ""), phone):
                        cid = customer_id_of(order)
                        return await self._customer(cid) if not cid.startswith(GUEST) else guest_from(order)
        return None

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        if customer_id.startswith(GUEST):
            email = customer_id[len(GUEST):]
            raws = [o for o in await self._search_orders(email, self.options.max_orders)
                    if str((o.get("billing") or {}).get("email") or "").lower() == email]
            return [await self._order(o) for o in raws]
        raws: list[dict[str, Any]] = []
        page = 1
        while len(raws) < self.options.max_orders:
            per_page = min(10, self.options.max_orders)
            status, body, headers = await self._get("/orders", {"customer": customer_id, "per_page": per_page, "page": page,
                                                                "orderby": "date", "order": "desc"})
            if status >= 400 or not isinstance(body, list):
                break
            raws += [o for o in body if isinstance(o, dict)]
            if page >= int(headers.get("x-wp-totalpages") or 1) or not body:
                break
            page += 1
        return [await self._order(o) for o in raws[: self.options.max_orders]]

    async def create_case(self, kind: str, order_id: str, data: dict[str, Any]) -> Case:
        raw = await self._raw_order(order_id)
        if raw is None:
            raise OrderStoreError(f"WooCommerce does not know order {order_id} when opening a {kind} case")
        oid = str(raw["id"])
        number = str(raw.get("number") or oid)
        existing = await self.cases_for_order(number)
        reference = case_reference(kind, number, existing)
        note = f"{CASE_MARK} case {reference}: {kind} {json.dumps(data, ensure_ascii=False, default=str)}"
        await self._send("POST", f"/orders/{quote(oid)}/notes", {"note": note, "customer_note": False})
        if kind == "cancellation" and self.options.cancel_orders:
            await self._send("PUT", f"/orders/{quote(oid)}", {"status": "cancelled"})
        return Case(reference, kind, number, self._today(), dict(data))

    async def cases_for_order(self, order_id: str) -> list[Case]:
        raw = await self._raw_order(order_id)
        if raw is None:
            return []
        status, body, _ = await self._get(f"/orders/{raw['id']}/notes", {"type": "internal"})
        notes = [n for n in body or [] if isinstance(n, dict)] if status < 400 and isinstance(body, list) else []
        return cases_from_notes(str(raw.get("number") or raw["id"]), notes)
