"""A local stand-in for Shopify's Admin GraphQL API, for the order-store adapter's tests.

Written from Shopify's published reference (shopify.dev/docs/api/admin-graphql, rate limits,
search syntax): the subset of the schema the bot reads, executed by graphql-core, so a query
with a field Shopify does not have fails here as it would there. Like Shopify it checks the
``X-Shopify-Access-Token`` header, limits by calculated query cost (a leaky bucket answering
``THROTTLED`` with ``extensions.cost.throttleStatus``), pages with cursors, and searches with
``field:value`` terms joined by ``OR``. Its clock is the test's: a throttled client that
"sleeps" advances it, and nothing waits on the wall clock.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, UTC
from typing import Any

from aiohttp import web
from graphql import build_schema, graphql

from voicebot.dialogue.orders.models import Customer, Order
from voicebot.dialogue.orders.seed import SampleData

SDL = """
scalar DateTime
scalar Decimal
scalar URL

enum FulfillmentDisplayStatus { ATTEMPTED_DELIVERY CANCELED CONFIRMED DELIVERED FAILURE FULFILLED IN_TRANSIT
  LABEL_PRINTED LABEL_PURCHASED LABEL_VOIDED MARKED_AS_FULFILLED NOT_DELIVERED OUT_FOR_DELIVERY READY_FOR_PICKUP
  PICKED_UP SUBMITTED }
enum FulfillmentEventStatus { ATTEMPTED_DELIVERY CARRIER_PICKED_UP CONFIRMED DELAYED DELIVERED FAILURE IN_TRANSIT
  LABEL_PRINTED LABEL_PURCHASED OUT_FOR_DELIVERY PICKED_UP READY_FOR_PICKUP }
enum OrderDisplayFulfillmentStatus { FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT
  RESTOCKED SCHEDULED UNFULFILLED REQUEST_DECLINED }
enum OrderSortKeys { CREATED_AT ID ORDER_NUMBER PROCESSED_AT TOTAL_PRICE UPDATED_AT }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! endCursor: String startCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: String! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type MailingAddress { countryCodeV2: String city: String }

type Customer {
  id: ID! firstName: String lastName: String email: String phone: String locale: String!
  defaultAddress: MailingAddress
  orders(first: Int, after: String, sortKey: OrderSortKeys, reverse: Boolean, query: String): OrderConnection!
}
type CustomerConnection { nodes: [Customer!]! pageInfo: PageInfo! }

type LineItem { sku: String name: String! quantity: Int! originalUnitPriceSet: MoneyBag! }
type LineItemConnection { nodes: [LineItem!]! pageInfo: PageInfo! }
type FulfillmentTrackingInfo { company: String number: String url: URL }
type FulfillmentEvent { status: FulfillmentEventStatus! happenedAt: DateTime! city: String country: String message: String }
type FulfillmentEventConnection { nodes: [FulfillmentEvent!]! pageInfo: PageInfo! }
type Fulfillment {
  createdAt: DateTime! displayStatus: FulfillmentDisplayStatus deliveredAt: DateTime estimatedDeliveryAt: DateTime
  inTransitAt: DateTime
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  events(first: Int, after: String): FulfillmentEventConnection!
}
type Order {
  id: ID! name: String! createdAt: DateTime! cancelledAt: DateTime
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus! currencyCode: String! tags: [String!]!
  totalPriceSet: MoneyBag! customer: Customer shippingAddress: MailingAddress
  lineItems(first: Int, after: String): LineItemConnection!
  fulfillments(first: Int): [Fulfillment!]!
}
type OrderConnection { nodes: [Order!]! pageInfo: PageInfo! }

type QueryRoot {
  orders(first: Int, after: String, query: String, sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
  customers(first: Int, after: String, query: String): CustomerConnection!
  customer(id: ID!): Customer
  order(id: ID!): Order
}

type UserError { field: [String!] message: String! }
type Job { id: ID! done: Boolean! }
type OrderCancelUserError { field: [String!] message: String! code: String }
type TagsAddPayload { userErrors: [UserError!]! }
type OrderCancelPayload { job: Job orderCancelUserErrors: [OrderCancelUserError!]! }
type Mutation {
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  orderCancel(orderId: ID!, reason: OrderCancelReason!, refund: Boolean!, restock: Boolean!, notifyCustomer: Boolean,
              staffNote: String): OrderCancelPayload
}
schema { query: QueryRoot mutation: Mutation }
"""
SCHEMA = build_schema(SDL)
TERM = re.compile(r'(?P<field>\w+):(?P<value>"(?:[^"\\]|\\.)*"|\S+)|(?P<conn>OR|AND)')
STATUS_TO_DISPLAY = {"in_transit": "IN_TRANSIT", "customs_hold": "IN_TRANSIT", "delivered": "DELIVERED",
                     "out_for_delivery": "OUT_FOR_DELIVERY", "processing": "LABEL_PURCHASED", "exception": "FAILURE"}
EVENT_TO_STATUS = {"picked_up": "CARRIER_PICKED_UP", "departed_hub": "IN_TRANSIT", "arrived_country": "IN_TRANSIT",
                   "in_transit": "IN_TRANSIT", "out_for_delivery": "OUT_FOR_DELIVERY", "delivered": "DELIVERED",
                   "customs_hold": "DELAYED", "exception": "FAILURE"}
CUSTOMS_MESSAGES = {"duties_due": "Held at customs: import duties and taxes are due",
                    "documents_required": "Held at customs: documents required from the recipient",
                    "inspection": "Held at customs for inspection"}


def _iso(day: date | None) -> str | None:
    return None if day is None else datetime.combine(day, time(10), UTC).isoformat().replace("+00:00", "Z")


def _money(amount: float, currency: str) -> dict[str, Any]:
    m = {"amount": f"{amount:.2f}", "currencyCode": currency}
    return {"shopMoney": m, "presentmentMoney": m}


def _cursor(i: int) -> str:
    return base64.b64encode(f"cursor:{i}".encode()).decode()


def _page(items: list[Any], first: int | None, after: str | None) -> dict[str, Any]:
    start = int(base64.b64decode(after).decode().split(":")[1]) + 1 if after else 0
    n = min(first or 50, 250)
    chunk = items[start:start + n]
    end = start + len(chunk) - 1
    return {"nodes": chunk, "pageInfo": {"hasNextPage": start + n < len(items), "hasPreviousPage": start > 0,
                                         "endCursor": _cursor(end) if chunk else None, "startCursor": _cursor(start) if chunk else None}}


def search_terms(query: str | None) -> list[tuple[str, str]]:
    """``name:"#1001" OR name:"1001"`` -> [("name", "#1001"), ("name", "1001")] (OR only: all the bot sends)."""
    terms = []
    for m in TERM.finditer(query or ""):
        if m.group("field"):
            value = m.group("value")
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            terms.append((m.group("field").lower(), value))
    return terms


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


@dataclass
class ShopifyStandIn:
    """The shop's data (Shopify-shaped) and its rate-limit bucket on a test-controlled clock."""

    token: str
    api_version: str = "2025-07"
    maximum_available: float = 1000.0
    restore_rate: float = 50.0
    now: float = 0.0  # seconds, advanced by the test (its fake sleep)
    orders: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    status_queue: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # forced HTTP answers (429 + Retry-After)
    delay_s: float = 0.0  # answer this late (wall clock: for the timeout test only)
    url: str = ""  # where the test serves it

    def __post_init__(self) -> None:
        self.available = self.maximum_available
        self._last = self.now

    # -- data ---------------------------------------------------------------------------------
    def add_customer(self, c: Customer, number: int) -> str:
        first, _, last = c.name.partition(" ")
        gid = f"gid://shopify/Customer/{number}"
        self.customers[gid] = {"id": gid, "firstName": first, "lastName": last, "email": c.email, "phone": c.phone,
                               "locale": c.language, "defaultAddress": {"countryCodeV2": c.country}}
        return gid

    def add_order(self, o: Order, customer_gid: str, number: int, tags: tuple[str, ...] = ()) -> dict[str, Any]:
        s = o.shipment
        fulfillments = []
        if s is not None:
            events = [{"status": EVENT_TO_STATUS[e.code], "happenedAt": _iso(e.day), "city": e.location, "country": None,
                       "message": CUSTOMS_MESSAGES.get(e.detail, e.detail) if e.code == "customs_hold" else (e.detail or None)}
                      for e in s.events]
            fulfillments.append({"createdAt": _iso(o.placed_on), "displayStatus": STATUS_TO_DISPLAY[s.status],
                                 "deliveredAt": _iso(s.delivered_on), "estimatedDeliveryAt": _iso(s.expected_delivery),
                                 "inTransitAt": _iso(s.events[0].day) if s.events else None,
                                 "trackingInfo": [{"company": s.carrier, "number": s.tracking_number, "url": None}],
                                 "events": events})
        node = {"id": f"gid://shopify/Order/{number}", "name": f"#{o.id}", "createdAt": _iso(o.placed_on),
                "cancelledAt": None, "displayFulfillmentStatus": "FULFILLED" if s else "UNFULFILLED", "currencyCode": o.currency,
                "tags": list(tags) + (["final-sale"] if o.final_sale else []), "totalPriceSet": _money(o.total, o.currency),
                "customer": {"__ref": customer_gid}, "shippingAddress": {"countryCodeV2": o.country},
                "lineItems": [{"sku": i.sku, "name": i.sku, "quantity": i.quantity, "originalUnitPriceSet": _money(i.price, o.currency)}
                              for i in o.items],
                "fulfillments": fulfillments}
        self.orders.append(node)
        return node

    @classmethod
    def from_sample(cls, data: SampleData, token: str, **kw: Any) -> ShopifyStandIn:
        shop = cls(token=token, **kw)
        gids = {c.id: shop.add_customer(c, 7000 + i) for i, c in enumerate(data.customers)}
        for i, o in enumerate(data.orders):
            shop.add_order(o, gids[o.customer_id], 5000 + i)
        return shop

    def order(self, name: str) -> dict[str, Any]:
        return next(o for o in self.orders if o["name"] == f"#{name}")

    # -- cost ---------------------------------------------------------------------------------
    def _refill(self) -> None:
        self.available = min(self.maximum_available, self.available + (self.now - self._last) * self.restore_rate)
        self._last = self.now

    @staticmethod
    def requested_cost(variables: dict[str, Any], query: str) -> int:
        """A rough calculated cost: connections cost their ``first`` (Shopify's rule of thumb)."""
        firsts = [int(n) for n in re.findall(r"first:\s*(\d+)", query)]
        page = int(variables.get("first") or 1)
        return 2 + sum(firsts) + page * 10

    # -- resolvers ----------------------------------------------------------------------------
    def _order_view(self, node: dict[str, Any]) -> dict[str, Any]:
        view = dict(node)
        view["customer"] = self.customers.get(node["customer"]["__ref"]) if node.get("customer") else None
        return view

    def _orders_matching(self, query: str | None) -> list[dict[str, Any]]:
        terms = search_terms(query)
        if not terms:
            return list(self.orders)
        out = []
        for node in self.orders:
            for f, v in terms:
                if f == "name" and node["name"].lower() == v.lower():
                    out.append(node)
                    break
        return out

    def _customers_matching(self, query: str | None) -> list[dict[str, Any]]:
        out = []
        for c in self.customers.values():
            for f, v in search_terms(query):
                if (f == "email" and (c["email"] or "").lower() == v.lower()) or (f == "phone" and _digits(c["phone"] or "") == _digits(v)):
                    out.append(c)
                    break
        return out

    def root(self) -> dict[str, Any]:
        shop = self

        def orders(info: Any, first: int | None = None, after: str | None = None, query: str | None = None, **_: Any) -> Any:
            return _page([shop._order_view(n) for n in shop._orders_matching(query)], first, after)

        def customers(info: Any, first: int | None = None, after: str | None = None, query: str | None = None) -> Any:
            return _page([shop._customer_view(c) for c in shop._customers_matching(query)], first, after)

        def customer(info: Any, id: str) -> Any:
            c = shop.customers.get(id)
            return shop._customer_view(c) if c else None

        def tags_add(info: Any, id: str, tags: list[str]) -> Any:
            node = next((o for o in shop.orders if o["id"] == id), None)
            if node is None:
                return {"userErrors": [{"field": ["id"], "message": "Resource not found"}]}
            node["tags"] = sorted(set(node["tags"]) | set(tags))
            return {"userErrors": []}

        def order_cancel(info: Any, orderId: str, reason: str, refund: bool, restock: bool, **_: Any) -> Any:  # noqa: N803
            node = next((o for o in shop.orders if o["id"] == orderId), None)
            if node is None:
                return {"job": None, "orderCancelUserErrors": [{"field": ["orderId"], "message": "Order not found", "code": "NOT_FOUND"}]}
            node["cancelledAt"] = _iso(date(2026, 3, 16))
            shop.cancelled.append(node["name"])
            return {"job": {"id": "gid://shopify/Job/1", "done": False}, "orderCancelUserErrors": []}

        return {"orders": orders, "customers": customers, "customer": customer, "tagsAdd": tags_add, "orderCancel": order_cancel}

    def _customer_view(self, c: dict[str, Any]) -> dict[str, Any]:
        view = dict(c)
        shop = self

        def orders(info: Any, first: int | None = None, after: str | None = None, reverse: bool = False, **_: Any) -> Any:
            mine = [shop._order_view(n) for n in shop.orders if n["customer"]["__ref"] == c["id"]]
            mine.sort(key=lambda n: n["createdAt"], reverse=reverse)
            return _page(mine, first, after)

        view["orders"] = orders
        return view

    # -- the HTTP endpoint --------------------------------------------------------------------
    def app(self) -> web.Application:
        async def endpoint(request: web.Request) -> web.Response:
            import asyncio

            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if request.match_info["version"] != self.api_version:
                return web.json_response({"errors": "Not Found"}, status=404)
            if request.headers.get("X-Shopify-Access-Token") != self.token:
                return web.json_response({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                                         status=401)
            if self.status_queue:
                status, headers = self.status_queue.pop(0)
                return web.json_response({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."},
                                         status=status, headers=headers)
            body = await request.json()
            query, variables = body.get("query", ""), body.get("variables") or {}
            self.requests.append({"query": query, "variables": variables, "at": self.now})
            self._refill()
            cost = self.requested_cost(variables, query)
            throttle = {"maximumAvailable": self.maximum_available, "currentlyAvailable": self.available, "restoreRate": self.restore_rate}
            if cost > self.available:
                return web.json_response({"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None, "throttleStatus": throttle}}})
            self.available -= cost
            result = await graphql(SCHEMA, query, root_value=self.root(), variable_values=variables,
                                   field_resolver=_resolver)
            out: dict[str, Any] = {"data": result.data}
            if result.errors:
                out["errors"] = [{"message": e.message, "locations": [{"line": loc.line, "column": loc.column} for loc in e.locations or []]}
                                 for e in result.errors]
            out["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": {
                **throttle, "currentlyAvailable": self.available}}}
            return web.json_response(out)

        app = web.Application()
        app.router.add_post("/admin/api/{version}/graphql.json", endpoint)
        return app


def _resolver(source: Any, info: Any, **args: Any) -> Any:
    """Dicts hold values or resolver functions; list fields with ``first`` are cut to it; connections of plain lists are paged."""
    value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
    if callable(value):
        return value(info, **args)
    if info.field_name in ("lineItems", "events") and isinstance(value, list):
        return _page(value, args.get("first"), args.get("after"))
    if info.field_name in ("trackingInfo", "fulfillments") and isinstance(value, list) and args.get("first"):
        return value[: args["first"]]
    return value
