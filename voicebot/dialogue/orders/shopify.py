"""Orders from a Shopify store, through the Admin GraphQL API.

Built from Shopify's published Admin GraphQL reference: one POST per question to
``https://{shop}/admin/api/{version}/graphql.json`` with the app's access token in
``X-Shopify-Access-Token``. Orders are found by their name (``#1001``; the caller says "1001"),
customers by phone or e-mail (``customers(query: "phone:…")``), a customer's orders by cursor
pagination, newest first. Shopify limits GraphQL by query cost: a ``THROTTLED`` answer is
retried once the bucket has refilled (``extensions.cost.throttleStatus``), within the wait a
caller can bear (``max_wait_s``); so is an HTTP 429 with ``Retry-After``.

Cases the bot opens are tags on the order (``voicebot:1:RET-1001-1:260316``: the order's first case,
its reference, the day), so staff see
them in the admin and a Shopify Flow can act on them; a confirmed cancellation also cancels the
order (``orderCancel``: refund, restock, notify) unless ``cancel_orders`` is off. Shopify has no
customs status: a ``DELAYED`` tracking event whose message names customs counts as a hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from voicebot.config_types import reveal

from .models import Case, Customer, Item, Order, Shipment, TrackingEvent, same_phone
from .options import ShopifyOptions
from .remote import CASE_MARK, CASE_PREFIX, RemoteApi, Sleep, case_reference, day_of
from .store import OrderStoreError

ORDER_FIELDS = """
  id name createdAt cancelledAt displayFulfillmentStatus currencyCode tags
  totalPriceSet { shopMoney { amount currencyCode } }
  customer { id }
  shippingAddress { countryCodeV2 }
  lineItems(first: 50) { nodes { sku name quantity originalUnitPriceSet { shopMoney { amount } } } }
  fulfillments(first: 5) {
    createdAt displayStatus deliveredAt estimatedDeliveryAt inTransitAt
    trackingInfo(first: 1) { company number }
    events(first: 20) { nodes { status happenedAt city country message } }
  }
"""
CUSTOMER_FIELDS = "id firstName lastName email phone locale defaultAddress { countryCodeV2 }"

Q_ORDER = "query($q: String!) { orders(first: 5, query: $q) { nodes {" + ORDER_FIELDS + "} } }"
Q_CUSTOMERS = "query($q: String!) { customers(first: 5, query: $q) { nodes { " + CUSTOMER_FIELDS + " } } }"
Q_CUSTOMER = "query($id: ID!) { customer(id: $id) { " + CUSTOMER_FIELDS + " } }"
Q_CUSTOMER_ORDERS = ("query($id: ID!, $first: Int!, $after: String) { customer(id: $id) { "
                     "orders(first: $first, after: $after, sortKey: CREATED_AT, reverse: true) { "
                     "pageInfo { hasNextPage endCursor } nodes {" + ORDER_FIELDS + "} } } }")
M_TAGS_ADD = "mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { userErrors { field message } } }"
M_ORDER_CANCEL = ("mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: true, restock: true, "
                  "notifyCustomer: true) { job { id } orderCancelUserErrors { field message code } } }")

# Fulfillment.displayStatus -> the states the flows understand.
DISPLAY_STATUS = {
    "DELIVERED": "delivered", "PICKED_UP": "delivered",
    "OUT_FOR_DELIVERY": "out_for_delivery", "ATTEMPTED_DELIVERY": "out_for_delivery", "READY_FOR_PICKUP": "out_for_delivery",
    "IN_TRANSIT": "in_transit", "CONFIRMED": "in_transit", "FULFILLED": "in_transit", "MARKED_AS_FULFILLED": "in_transit",
    "SUBMITTED": "in_transit",
    "LABEL_PRINTED": "processing", "LABEL_PURCHASED": "processing",
    "FAILURE": "exception", "NOT_DELIVERED": "exception",
    "CANCELED": "cancelled", "LABEL_VOIDED": "cancelled",
}
# FulfillmentEvent.status -> tracking event codes.
EVENT_STATUS = {
    "CARRIER_PICKED_UP": "picked_up", "IN_TRANSIT": "in_transit", "OUT_FOR_DELIVERY": "out_for_delivery",
    "ATTEMPTED_DELIVERY": "out_for_delivery", "READY_FOR_PICKUP": "out_for_delivery", "DELIVERED": "delivered",
    "PICKED_UP": "delivered", "FAILURE": "exception", "DELAYED": "exception", "CONFIRMED": "in_transit",
    "LABEL_PRINTED": "processing", "LABEL_PURCHASED": "processing",
}
_CUSTOMS = re.compile(r"customs|douane|zoll|aduana|dogana|alfândega|таможн|海关|税関|세관", re.IGNORECASE)
_DUTIES = re.compile(r"dut(y|ies)|tax|fee|vat|import charge", re.IGNORECASE)
_DOCUMENTS = re.compile(r"document|invoice|paperwork|id\b|identif", re.IGNORECASE)
# voicebot:<n-th case of the order>:<reference>:<yymmdd>, within Shopify's 40 characters for a tag
_TAG = re.compile(rf"^{CASE_MARK}:(?P<seq>\d+):(?P<ref>(?P<prefix>[A-Z]+)-[\w-]+):(?P<day>\d{{6}})$")
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in CASE_PREFIX.items()}


def order_number(name: str) -> str:
    """Shopify's order name ``#1001`` -> ``1001`` (what a caller reads from the confirmation)."""
    return name.strip().lstrip("#").strip()


def _money(obj: Any) -> float:
    try:
        return float(((obj or {}).get("shopMoney") or {}).get("amount") or 0)
    except (TypeError, ValueError):
        return 0.0


def _customs_reason(message: str) -> str:
    if _DUTIES.search(message):
        return "duties_due"
    if _DOCUMENTS.search(message):
        return "documents_required"
    return "inspection"


def shipment_from(fulfillment: dict[str, Any]) -> Shipment:
    """One Shopify fulfillment as a :class:`Shipment` (events oldest first)."""
    tracking = (fulfillment.get("trackingInfo") or [{}])[0] or {}
    events: list[TrackingEvent] = []
    for node in sorted(((fulfillment.get("events") or {}).get("nodes") or []), key=lambda e: str(e.get("happenedAt") or "")):
        day = day_of(node.get("happenedAt"))
        if day is None:
            continue
        message = str(node.get("message") or "")
        code, detail = EVENT_STATUS.get(str(node.get("status")), "in_transit"), ""
        if node.get("status") == "DELAYED" and _CUSTOMS.search(message):
            code, detail = "customs_hold", _customs_reason(message)
        events.append(TrackingEvent(day, code, str(node.get("city") or node.get("country") or ""), detail))
    status = DISPLAY_STATUS.get(str(fulfillment.get("displayStatus") or ""), "in_transit")
    if fulfillment.get("deliveredAt"):
        status = "delivered"
    elif events and events[-1].code == "customs_hold":
        status = "customs_hold"
    return Shipment(str(tracking.get("company") or ""), str(tracking.get("number") or ""), status,
                    day_of(fulfillment.get("estimatedDeliveryAt")), day_of(fulfillment.get("deliveredAt")), tuple(events))


def order_from(node: dict[str, Any], final_sale_tag: str = "final-sale") -> Order:
    """A Shopify ``Order`` node as the bot's :class:`Order`."""
    if not isinstance(node, dict) or not node.get("name"):
        raise ValueError("an order without a name")
    fulfillments = [f for f in node.get("fulfillments") or [] if f]
    shipment = shipment_from(max(fulfillments, key=lambda f: str(f.get("createdAt") or ""))) if fulfillments else None
    display = str(node.get("displayFulfillmentStatus") or "")
    if node.get("cancelledAt"):
        status = "cancelled"
    elif shipment is not None and shipment.status == "delivered":
        status = "delivered"
    elif display in ("FULFILLED", "PARTIALLY_FULFILLED", "IN_PROGRESS") or (shipment is not None and shipment.status != "processing"):
        status = "shipped"
    else:
        status = "processing"
    items = tuple(Item(str(li.get("sku") or li.get("name") or "?"), int(li.get("quantity") or 1), _money(li.get("originalUnitPriceSet")))
                  for li in ((node.get("lineItems") or {}).get("nodes") or []))
    tags = [str(t) for t in node.get("tags") or []]
    placed = day_of(node.get("createdAt"))
    if placed is None:
        raise ValueError(f"order {node.get('name')}: createdAt missing")
    return Order(order_number(str(node["name"])), str((node.get("customer") or {}).get("id") or ""), placed, status,
                 str(node.get("currencyCode") or ((node.get("totalPriceSet") or {}).get("shopMoney") or {}).get("currencyCode") or ""),
                 _money(node.get("totalPriceSet")), str((node.get("shippingAddress") or {}).get("countryCodeV2") or ""),
                 items, shipment, final_sale_tag in tags)


def customer_from(node: dict[str, Any]) -> Customer:
    name = " ".join(p for p in (node.get("firstName"), node.get("lastName")) if p)
    locale = str(node.get("locale") or "").split("-")[0].lower()
    return Customer(str(node["id"]), name, str(node.get("email") or ""), str(node.get("phone") or ""),
                    str((node.get("defaultAddress") or {}).get("countryCodeV2") or ""), locale)


def cases_from_tags(order_id: str, tags: list[str]) -> list[Case]:
    """The bot's cases on an order, oldest first, from its tags (other tags are the shop's own)."""
    found = []
    for tag in tags:
        if (m := _TAG.match(tag)) and m.group("prefix") in _KIND_OF_PREFIX:
            d = m.group("day")
            found.append((int(m.group("seq")), Case(m.group("ref"), _KIND_OF_PREFIX[m.group("prefix")], order_id,
                                                    date(2000 + int(d[:2]), int(d[2:4]), int(d[4:])))))
    return [case for _, case in sorted(found, key=lambda sc: sc[0])]


def _quoted(value: str) -> str:
    """A value for Shopify's search syntax: quoted, with quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ShopifyOrderStore:
    """The five OrderStore methods over one shop's Admin GraphQL API; ``close()`` on shutdown."""

    def __init__(self, options: ShopifyOptions, *, today: Callable[[], date] = date.today, sleep: Sleep | None = None) -> None:
        self.options = options
        self._today = today
        domain = options.shop_domain.strip().rstrip("/")
        base = domain if domain.startswith(("http://", "https://")) else f"https://{domain}"
        self.url = f"{base}/admin/api/{options.api_version}/graphql.json"
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.api = RemoteApi("Shopify", headers={"X-Shopify-Access-Token": reveal(options.access_token) or "",
                                                 "Content-Type": "application/json"},
                             timeout_s=options.timeout_s, max_wait_s=options.max_wait_s,
                             hint="check dialogue.shopify.access_token and that the app has read_orders, read_customers "
                                  "and write_orders", **kwargs)

    async def close(self) -> None:
        await self.api.close()

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """``data`` of one GraphQL request; throttling waited out within the budget, errors raised."""
        budget = [self.options.max_wait_s]
        while True:
            answer = await self.api.request("POST", self.url, json={"query": query, "variables": variables}, budget=budget,
                                            ok_statuses=())
            body = answer.body if isinstance(answer.body, dict) else {}
            errors = body.get("errors") or []
            if any(((e or {}).get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                await self.api.wait(self._refill_s(body), budget, "GraphQL query cost")
                continue
            if errors:
                messages = "; ".join(str((e or {}).get("message", e)) for e in errors)[:300]
                raise OrderStoreError(f"Shopify GraphQL refused the query: {messages}; check dialogue.shopify.api_version "
                                      f"({self.options.api_version}) is one Shopify still supports")
            data = body.get("data")
            if not isinstance(data, dict):
                raise OrderStoreError(f"Shopify answered without data (HTTP {answer.status}); is {self.url} the shop's Admin API?")
            return data

    @staticmethod
    def _refill_s(body: dict[str, Any]) -> float:
        """How long until the bucket holds the query's cost again (Shopify's throttleStatus)."""
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            need = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
            rate = float(status.get("restoreRate") or 0)
        except (TypeError, ValueError):
            return 1.0
        return max(0.0, need) / rate if rate > 0 else 1.0

    def _order(self, node: dict[str, Any]) -> Order:
        try:
            return order_from(node, self.options.final_sale_tag)
        except (ValueError, TypeError, KeyError) as exc:
            raise OrderStoreError(f"Shopify sent an order the bot cannot read: {exc}") from exc

    async def _order_node(self, order_id: str) -> dict[str, Any] | None:
        wanted = order_number(order_id).upper()
        if not wanted:
            return None
        query = f"name:{_quoted(wanted)} OR name:{_quoted('#' + wanted)}"
        data = await self.graphql(Q_ORDER, {"q": query})
        nodes = ((data.get("orders") or {}).get("nodes") or [])
        return next((n for n in nodes if order_number(str(n.get("name") or "")).upper() == wanted), None)

    async def get_order(self, order_id: str) -> Order | None:
        node = await self._order_node(order_id)
        return None if node is None else self._order(node)

    async def find_customer(self, *, customer_id: str | None = None, phone: str | None = None, email: str | None = None) -> Customer | None:
        if customer_id:
            data = await self.graphql(Q_CUSTOMER, {"id": customer_id})
            node = data.get("customer")
            return customer_from(node) if node else None
        if email:
            data = await self.graphql(Q_CUSTOMERS, {"q": f"email:{_quoted(email.strip())}"})
            nodes = ((data.get("customers") or {}).get("nodes") or [])
            return next((customer_from(n) for n in nodes if str(n.get("email") or "").lower() == email.strip().lower()), None)
        if phone:
            data = await self.graphql(Q_CUSTOMERS, {"q": f"phone:{_quoted(phone.strip())}"})
            nodes = ((data.get("customers") or {}).get("nodes") or [])
            return next((customer_from(n) for n in nodes if same_phone(str(n.get("phone") or ""), phone)), None)
        return None

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        orders: list[Order] = []
        after: str | None = None
        while len(orders) < self.options.max_orders:
            first = min(10, self.options.max_orders - len(orders))
            data = await self.graphql(Q_CUSTOMER_ORDERS, {"id": customer_id, "first": first, "after": after})
            page = ((data.get("customer") or {}).get("orders") or {})
            orders += [self._order(n) for n in page.get("nodes") or []]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                break
            after = str(info["endCursor"])
        return orders

    async def create_case(self, kind: str, order_id: str, data: dict[str, Any]) -> Case:
        node = await self._order_node(order_id)
        if node is None:
            raise OrderStoreError(f"Shopify does not know order {order_id} when opening a {kind} case")
        number = order_number(str(node["name"]))
        existing = cases_from_tags(number, [str(t) for t in node.get("tags") or []])
        reference = case_reference(kind, number, existing)
        today = self._today()
        tag = f"{CASE_MARK}:{len(existing) + 1}:{reference}:{today:%y%m%d}"
        result = await self.graphql(M_TAGS_ADD, {"id": node["id"], "tags": [tag]})
        errors = ((result.get("tagsAdd") or {}).get("userErrors") or [])
        if errors:
            raise OrderStoreError(f"Shopify did not tag order {number} with the {kind} case: {errors}")
        if kind == "cancellation" and self.options.cancel_orders:
            result = await self.graphql(M_ORDER_CANCEL, {"id": node["id"]})
            errors = ((result.get("orderCancel") or {}).get("orderCancelUserErrors") or [])
            if errors:
                raise OrderStoreError(f"Shopify did not cancel order {number}: {errors}; the case {reference} is tagged for staff")
        return Case(reference, kind, number, today, dict(data))

    async def cases_for_order(self, order_id: str) -> list[Case]:
        node = await self._order_node(order_id)
        if node is None:
            return []
        return cases_from_tags(order_number(str(node["name"])), [str(t) for t in node.get("tags") or []])
