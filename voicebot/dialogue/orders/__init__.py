"""Orders, customers and shipments: the store interface, the embedded SQLite store and the
HTTP adapter for a merchant's own system."""

from .models import Case, Customer, Item, Order, Shipment, TrackingEvent, same_phone
from .store import OrderStore, OrderStoreError

__all__ = ["Case", "Customer", "Item", "Order", "OrderStore", "OrderStoreError", "Shipment", "TrackingEvent", "same_phone"]
