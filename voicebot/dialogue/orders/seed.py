"""Realistic sample data for the embedded store, dated relative to the day it is seeded.

Every sample customer has the same set of order situations (the ``KINDS`` below), so demos
and the task-success evaluation can find "the order stuck in customs" for any language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .models import Customer, Item, Order, Shipment, TrackingEvent

# id, name, email, phone, country, language, currency, carrier, hub city. The people are made up
# and so are their numbers, all from ranges reserved for fiction: +44 7700 900xxx (Ofcom's
# drama range) and +1 NXX 555-01xx (NANPA's), whatever country the sample customer lives in.
_PEOPLE = (
    ("C001", "Emma Thompson", "emma.thompson@example.co.uk", "+447700900123", "GB", "en", "GBP", "Royal Mail", "London"),
    ("C002", "Lukas Müller", "lukas.mueller@example.de", "+12025550102", "DE", "de", "EUR", "DHL", "Leipzig"),
    ("C003", "María García", "maria.garcia@example.es", "+12025550103", "ES", "es", "EUR", "Correos", "Madrid"),
    ("C004", "João Silva", "joao.silva@example.com.br", "+12025550104", "BR", "pt", "BRL", "Correios", "São Paulo"),
    ("C005", "Camille Martin", "camille.martin@example.fr", "+12025550105", "FR", "fr", "EUR", "Colissimo", "Roissy"),
    ("C006", "Giulia Rossi", "giulia.rossi@example.it", "+12025550106", "IT", "it", "EUR", "Poste Italiane", "Milano"),
    ("C007", "Ivan Petrov", "ivan.petrov@example.ru", "+12025550107", "RU", "ru", "RUB", "CDEK", "Moskva"),
    ("C008", "Wang Fang", "wang.fang@example.cn", "+12025550108", "CN", "zh", "CNY", "SF Express", "Shanghai"),
    ("C009", "Sato Yuki", "yuki.sato@example.jp", "+12025550109", "JP", "ja", "JPY", "Yamato", "Tokyo"),
    ("C010", "Kim Minjun", "minjun.kim@example.kr", "+12025550110", "KR", "ko", "KRW", "CJ Logistics", "Incheon"),
    ("C011", "Ahmed Al-Farsi", "ahmed.alfarsi@example.ae", "+12025550111", "AE", "ar", "AED", "Aramex", "Dubai"),
    ("C012", "Somchai Srisuk", "somchai.srisuk@example.co.th", "+12025550112", "TH", "th", "THB", "Kerry Express", "Bangkok"),
    ("C013", "Budi Santoso", "budi.santoso@example.co.id", "+12025550113", "ID", "id", "IDR", "J&T Express", "Jakarta"),
    ("C014", "Nguyen Van An", "an.nguyen@example.vn", "+12025550114", "VN", "vi", "VND", "Viettel Post", "Ha Noi"),
    ("C015", "John Miller", "john.miller@example.com", "+14155550123", "US", "en", "USD", "UPS", "Louisville"),
)

# Prices in EUR; converted with rough fixed rates so that amounts look local.
_RATES = {"EUR": 1, "GBP": 0.85, "USD": 1.1, "BRL": 6, "RUB": 100, "CNY": 8, "JPY": 160, "KRW": 1500, "AED": 4, "THB": 38, "IDR": 17000, "VND": 27000}
PRODUCTS = {"coat-wool-red": 189.0, "earbuds-x2": 79.0, "shoes-run-blue": 119.0, "mug-set-4": 34.0, "backpack-leather": 149.0, "watch-s3": 249.0}

# The situations every sample customer has, in this order.
KINDS = ("in_transit", "customs_hold", "delivered", "processing", "late_in_transit", "delivered_long_ago")
_CUSTOMS_REASONS = ("duties_due", "documents_required", "inspection")
_ITEMS = (
    ("earbuds-x2",),
    ("coat-wool-red",),
    ("shoes-run-blue", "mug-set-4"),
    ("backpack-leather",),
    ("watch-s3",),
    ("mug-set-4",),
)


@dataclass(frozen=True)
class SampleData:
    customers: tuple[Customer, ...]
    orders: tuple[Order, ...]

    def order_of(self, customer_id: str, kind: str) -> Order:
        """The sample order of ``customer_id`` in situation ``kind`` (one of KINDS)."""
        index = KINDS.index(kind)
        mine = [o for o in self.orders if o.customer_id == customer_id]
        return mine[index]

    def customer_for_language(self, language: str) -> Customer:
        return next(c for c in self.customers if c.language == language)


def _order_id(ci: int, k: int) -> str:
    if k == KINDS.index("delivered_long_ago"):  # merchants also use alphanumeric ids
        return f"A{(ci * 7919 + 1234) % 9000 + 1000}{'KXRMTPQ'[ci % 7]}"
    return str(10000 + (ci * 6151 + k * 2713 + 45712) % 90000)


def sample_data(today: date) -> SampleData:
    """Fifteen customers in fifteen countries, six orders each, dated relative to ``today``."""
    d = lambda n: today - timedelta(days=n)  # noqa: E731 - days ago
    customers, orders = [], []
    for ci, (cid, name, email, phone, country, lang, cur, carrier, hub) in enumerate(_PEOPLE):
        customers.append(Customer(cid, name, email, phone, country, lang))
        rate = _RATES[cur]
        for k, kind in enumerate(KINDS):
            items = tuple(Item(sku, 1, round(PRODUCTS[sku] * rate, 2)) for sku in _ITEMS[k])
            total = round(sum(i.price for i in items), 2)
            tn = f"{''.join(ch for ch in carrier if ch.isalpha())[:2].upper()}{(ci + 1) * 100000 + k * 3571 + 424242:09d}{country}"
            shipment: Shipment | None
            final_sale = False
            if kind == "in_transit":
                placed = d(4)
                shipment = Shipment(carrier, tn, "in_transit", expected_delivery=d(-3), events=(
                    TrackingEvent(d(3), "picked_up", "Rotterdam"), TrackingEvent(d(1), "arrived_country", hub)))
                status = "shipped"
            elif kind == "customs_hold":
                placed = d(16)
                shipment = Shipment(carrier, tn, "customs_hold", expected_delivery=d(3), events=(
                    TrackingEvent(d(14), "picked_up", "Rotterdam"), TrackingEvent(d(11), "arrived_country", hub),
                    TrackingEvent(d(10), "customs_hold", hub, _CUSTOMS_REASONS[ci % 3])))
                status = "shipped"
            elif kind == "delivered":
                placed = d(9)
                shipment = Shipment(carrier, tn, "delivered", expected_delivery=d(5), delivered_on=d(5), events=(
                    TrackingEvent(d(8), "picked_up", "Rotterdam"), TrackingEvent(d(6), "out_for_delivery", hub),
                    TrackingEvent(d(5), "delivered", hub, "left at front door")))
                status = "delivered"
            elif kind == "processing":
                placed = d(1)
                shipment = None
                status = "processing"
            elif kind == "late_in_transit":
                placed = d(15)
                shipment = Shipment(carrier, tn, "in_transit", expected_delivery=d(4), events=(
                    TrackingEvent(d(13), "picked_up", "Rotterdam"), TrackingEvent(d(9), "departed_hub", "Rotterdam")))
                status = "shipped"
            else:  # delivered_long_ago: outside the return window, sold as final sale
                placed = d(70)
                shipment = Shipment(carrier, tn, "delivered", expected_delivery=d(62), delivered_on=d(62), events=(
                    TrackingEvent(d(66), "picked_up", "Rotterdam"), TrackingEvent(d(62), "delivered", hub)))
                status = "delivered"
                final_sale = True
            orders.append(Order(_order_id(ci, k), cid, placed, status, cur, total, country, items, shipment, final_sale))
    return SampleData(tuple(customers), tuple(orders))
