"""A local stand-in for the WooCommerce REST API v3 and the Shipment Tracking extension.

Written from WooCommerce's published REST API reference (woocommerce.github.io/woocommerce-rest-api-docs)
and the Shipment Tracking extension's REST documentation: the order, customer, order-note and
shipment-tracking resources the bot reads, HTTP Basic auth with a consumer key and secret (or
the same in the query string), ``page``/``per_page`` paging with ``X-WP-Total`` and
``X-WP-TotalPages`` headers, ``search`` over billing fields, and WordPress-style error bodies
(``{"code", "message", "data": {"status"}}``).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from voicebot.dialogue.orders.models import Customer, Order
from voicebot.dialogue.orders.seed import SampleData

STATUS = {"processing": "processing", "shipped": "completed", "delivered": "completed", "cancelled": "cancelled"}


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"code": code, "message": message, "data": {"status": status}}, status=status)


def _iso(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T10:00:00"


def _national(phone: str) -> str:
    """How shops often store a phone: national digits with spaces ("+1 202 555 0112" -> "202 555 0112")."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"{digits[-10:-7]} {digits[-7:-4]} {digits[-4:]}"


@dataclass
class WooStandIn:
    key: str
    secret: str
    tracking_extension: bool = True
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    trackings: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    status_queue: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    _note_id: int = 100

    # -- data ---------------------------------------------------------------------------------
    def add_customer(self, c: Customer, number: int, *, guest: bool = False) -> int:
        first, _, last = c.name.partition(" ")
        billing = {"first_name": first, "last_name": last, "email": c.email, "phone": _national(c.phone), "country": c.country}
        if not guest:
            self.customers[number] = {"id": number, "email": c.email, "first_name": first, "last_name": last, "billing": billing,
                                      "shipping": {"country": c.country}}
        return 0 if guest else number

    def add_order(self, o: Order, customer: Customer, customer_number: int) -> dict[str, Any]:
        first, _, last = customer.name.partition(" ")
        oid = int(o.id)
        s = o.shipment
        status = STATUS[o.status] if not (o.status == "shipped" and s is None) else "processing"
        self.orders[oid] = {
            "id": oid, "number": str(oid), "status": status, "currency": o.currency, "date_created": _iso(o.placed_on),
            "date_completed": _iso(s.events[0].day) if s and s.events else None, "total": f"{o.total:.2f}",
            "customer_id": customer_number,
            "billing": {"first_name": first, "last_name": last, "email": customer.email, "phone": _national(customer.phone),
                        "country": customer.country},
            "shipping": {"first_name": first, "last_name": last, "country": o.country},
            "line_items": [{"id": n + 1, "name": i.sku, "product_id": 40 + n, "sku": i.sku, "quantity": i.quantity,
                            "price": i.price} for n, i in enumerate(o.items)],
            "meta_data": [{"id": 1, "key": "final_sale", "value": "yes"}] if o.final_sale else [],
        }
        if s is not None:
            self.trackings[oid] = [{"tracking_id": f"t{oid}", "tracking_provider": s.carrier, "tracking_link": "",
                                    "tracking_number": s.tracking_number,
                                    "date_shipped": (s.events[0].day if s.events else o.placed_on).isoformat()}]
        return self.orders[oid]

    @classmethod
    def from_sample(cls, data: SampleData, key: str, secret: str, *, guests: tuple[str, ...] = (), **kw: Any) -> WooStandIn:
        """The sample store, numeric order ids only (WooCommerce's are numbers); ``guests``: customer ids who never registered."""
        shop = cls(key=key, secret=secret, **kw)
        numbers = {c.id: shop.add_customer(c, 10 + i, guest=c.id in guests) for i, c in enumerate(data.customers)}
        people = {c.id: c for c in data.customers}
        for o in data.orders:
            if o.id.isdigit():
                shop.add_order(o, people[o.customer_id], numbers[o.customer_id])
        return shop

    # -- the API ------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            key, secret = request.query.get("consumer_key", ""), request.query.get("consumer_secret", "")
        if not key:
            return _error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
        if key != self.key:
            return _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        if secret != self.secret:
            return _error("woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.", 401)
        return None

    @staticmethod
    def _paged(request: web.Request, items: list[Any]) -> web.Response:
        per_page = min(int(request.query.get("per_page", 10)), 100)
        page = int(request.query.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        return web.json_response(chunk, headers={"X-WP-Total": str(len(items)),
                                                 "X-WP-TotalPages": str(max(1, math.ceil(len(items) / per_page)))})

    def app(self) -> web.Application:
        @web.middleware
        async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
            self.requests.append(f"{request.method} {request.path}?{'&'.join(k + '=' + v for k, v in request.query.items() if 'consumer' not in k)}")
            if self.status_queue:
                status, headers = self.status_queue.pop(0)
                return web.json_response({"code": "too_many_requests", "message": "Too many requests."}, status=status, headers=headers)
            refused = self._authorized(request)
            return refused or await handler(request)

        async def order(request: web.Request) -> web.Response:
            o = self.orders.get(int(request.match_info["id"]))
            if o is None:
                return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            if request.method == "PUT":
                body = await request.json()
                o.update({k: v for k, v in body.items() if k == "status"})
            return web.json_response(o)

        async def orders(request: web.Request) -> web.Response:
            q = request.query
            found = list(self.orders.values())
            if "customer" in q:
                found = [o for o in found if str(o["customer_id"]) == q["customer"]]
            if term := q.get("search", "").lower():
                found = [o for o in found if any(term in str(v).lower() for v in (o["billing"]["email"], o["billing"]["phone"],
                                                                                   o["billing"]["last_name"], o["number"]))]
            found.sort(key=lambda o: o["date_created"], reverse=q.get("order", "desc") == "desc")
            return self._paged(request, found)

        async def customers(request: web.Request) -> web.Response:
            email = request.query.get("email", "").lower()
            found = [c for c in self.customers.values() if not email or c["email"].lower() == email]
            return self._paged(request, found)

        async def customer(request: web.Request) -> web.Response:
            c = self.customers.get(int(request.match_info["id"]))
            return web.json_response(c) if c else _error("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)

        async def notes(request: web.Request) -> web.Response:
            oid = int(request.match_info["id"])
            if oid not in self.orders:
                return _error("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
            if request.method == "POST":
                body = await request.json()
                self._note_id += 1
                note = {"id": self._note_id, "author": "voicebot", "date_created": "2026-03-16T10:00:00", "note": body["note"],
                        "customer_note": bool(body.get("customer_note"))}
                self.notes.setdefault(oid, []).append(note)
                return web.json_response(note, status=201)
            return web.json_response(list(reversed(self.notes.get(oid, []))))  # newest first, as WooCommerce lists them

        async def trackings(request: web.Request) -> web.Response:
            if not self.tracking_extension:
                return _error("rest_no_route", "No route was found matching the URL and request method.", 404)
            oid = int(request.match_info["id"])
            return web.json_response(self.trackings.get(oid, []))

        app = web.Application(middlewares=[gate])
        app.router.add_route("GET", "/wp-json/wc/v3/orders/{id:\\d+}", order)
        app.router.add_route("PUT", "/wp-json/wc/v3/orders/{id:\\d+}", order)
        app.router.add_get("/wp-json/wc/v3/orders", orders)
        app.router.add_get("/wp-json/wc/v3/customers", customers)
        app.router.add_get("/wp-json/wc/v3/customers/{id:\\d+}", customer)
        app.router.add_route("GET", "/wp-json/wc/v3/orders/{id:\\d+}/notes", notes)
        app.router.add_route("POST", "/wp-json/wc/v3/orders/{id:\\d+}/notes", notes)
        app.router.add_get("/wp-json/wc-shipment-tracking/v3/orders/{id:\\d+}/shipment-trackings", trackings)
        return app
