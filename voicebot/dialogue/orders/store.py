"""The order store interface the flows use. The embedded default is :mod:`.sqlite_store`;
a merchant points the bot at their own system with :mod:`.http_store` (docs/order-api.md)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .models import Case, Customer, Order


class OrderStoreError(RuntimeError):
    """The store could not answer (database unreadable, merchant API down). The flows apologise
    and hand over instead of guessing."""


@runtime_checkable
class OrderStore(Protocol):
    async def get_order(self, order_id: str) -> Order | None:
        """The order with this id (case-insensitive), or None."""

    async def find_customer(self, *, customer_id: str | None = None, phone: str | None = None, email: str | None = None) -> Customer | None:
        """The customer matching one of the given keys, or None."""

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first."""

    async def create_case(self, kind: str, order_id: str, data: dict[str, Any]) -> Case:
        """Record a return, refund, investigation, damage claim, cancellation or address change
        and return it with its reference."""

    async def cases_for_order(self, order_id: str) -> list[Case]:
        """Cases already open for the order, oldest first."""
