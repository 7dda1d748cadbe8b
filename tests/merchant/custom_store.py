"""A merchant's own OrderStore, as a package of theirs would hold it (loaded by import path in the tests)."""

from __future__ import annotations

from datetime import date
from typing import Any

from voicebot.dialogue.orders.models import Case, Customer, Item, Order, same_phone


class ErpStore:
    """Answers from an in-memory ERP export; ``region`` comes from ``dialogue.order_store_options``."""

    def __init__(self, region: str, currency: str = "EUR") -> None:
        self.region, self.currency = region, currency
        self.customer = Customer("ERP-1", "Ada Example", "ada@example.org", "+12025550142", region, "en")
        self.order = Order("ERP1001", "ERP-1", date(2026, 3, 10), "processing", currency, 79.0, region, (Item("earbuds-x2", 1, 79.0),))
        self.cases: list[Case] = []

    async def get_order(self, order_id: str) -> Order | None:
        return self.order if order_id.upper() == self.order.id else None

    async def find_customer(self, *, customer_id: str | None = None, phone: str | None = None, email: str | None = None) -> Customer | None:
        return self.customer if customer_id == "ERP-1" or same_phone(phone, self.customer.phone) or email == self.customer.email else None

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        return [self.order] if customer_id == "ERP-1" else []

    async def create_case(self, kind: str, order_id: str, data: dict[str, Any]) -> Case:
        case = Case(f"ERP-{kind[:3].upper()}-{len(self.cases) + 1}", kind, order_id, date(2026, 3, 16), data)
        self.cases.append(case)
        return case

    async def cases_for_order(self, order_id: str) -> list[Case]:
        return [c for c in self.cases if c.order_id == order_id]


class NotAStore:
    def __init__(self) -> None:
        pass

    def get_order(self, order_id: str) -> None:  # not async, and the other four are missing
        return None


def broken(**_: Any) -> Any:
    raise ConnectionError("ERP at erp.example.internal:5432 refused the connection")
