"""Which order store serves the calls: ``dialogue.order_store`` by name or by import path.

Built in: ``demo`` (the seeded sample store, fictional customers), ``http`` (a merchant API
written to docs/order-api.md), ``shopify`` and ``woocommerce``. There is no default: a bot that
guessed would answer real callers from made-up orders, so with none set the bot refuses to start
and says how to set one (``voicebot serve --demo`` chooses the sample store for a try-out). Anything else is
``package.module:factory``: a class or function the bot imports and calls with
``dialogue.order_store_options`` as keyword arguments; what it returns must have the five
methods of :class:`~voicebot.dialogue.orders.store.OrderStore` (checked at start).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path
from typing import Any

from voicebot.config_types import reveal
from voicebot.logs import get_logger

from .store import OrderStore, OrderStoreError

log = get_logger(__name__)

BUILT_IN = ("demo", "http", "shopify", "woocommerce")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
STORE_METHODS = ("get_order", "find_customer", "orders_for_customer", "create_case", "cases_for_order")
DEMO_FILE = "demo-orders.sqlite3"
DEMO_WARNING = ("DEMO ORDER STORE: callers are answered from seeded sample orders of fictional customers "
                "(--demo, dialogue.order_store: demo). Connect your shop: dialogue.order_store shopify, woocommerce, http "
                "or package.module:factory (docs/order-stores.md).")
NO_STORE = ("no order store is configured, so the bot cannot answer about orders. Connect your shop: set "
            "dialogue.order_store to shopify, woocommerce, http or package.module:factory (docs/order-stores.md), "
            "e.g. VOICEBOT_DIALOGUE__ORDER_STORE=shopify; or, to try the bot with sample orders of fictional "
            "customers, start it with --demo (never for real callers).")


class OrderStoreConfigError(ValueError):
    """``dialogue.order_store`` names a store the bot cannot build; the message says what to set."""


class NoOrderStoreError(OrderStoreConfigError):
    """No ``dialogue.order_store`` at all (and no ``--demo``): the operator must choose one."""


def choose_demo(options: Any, demo: bool, flag: str = "--demo") -> str | None:
    """Apply a command's ``--demo`` to the ``dialogue:`` options; a message when it cannot be.

    ``--demo`` with no store set chooses the sample store; with another store set it is refused
    (a demo flag left in a start script must not hide the shop's real orders). Without ``--demo``
    an unset store is refused with :data:`NO_STORE`."""
    name = options.order_store
    if demo:
        if name not in (None, "demo"):
            return (f"{flag} answers from sample orders, but dialogue.order_store is {name!r}: "
                    f"drop {flag} to serve your shop's orders, or unset dialogue.order_store to try the demo")
        options.order_store = "demo"
        return None
    return NO_STORE if name is None else None


def check_store_name(value: str | None) -> str | None:
    """A built-in name or ``package.module:factory`` (None: not set); ValueError otherwise (settings validation)."""
    if value is None or not value.strip():
        return None
    name = value.strip()
    if name == "sqlite":
        raise ValueError("'sqlite' is now called 'demo' (the seeded sample store); write dialogue.order_store: demo")
    if name in BUILT_IN or _IMPORT_PATH.match(name):
        return name
    raise ValueError(f"{value!r} is not an order store; use one of {', '.join(BUILT_IN)} or package.module:factory "
                     "(your own OrderStore, see docs/order-stores.md)")


def import_factory(path: str) -> Any:
    """``"mypkg.orders:MyStore"`` -> the object; OrderStoreConfigError saying why not."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise OrderStoreConfigError(f"dialogue.order_store {path!r}: cannot import {module_name} ({exc}); "
                                    "install the package into the bot's Python or fix the path") from None
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise OrderStoreConfigError(f"dialogue.order_store {path!r}: {module_name} has no {attr}")
    if not callable(obj):
        raise OrderStoreConfigError(f"dialogue.order_store {path!r}: {attr} is not a class or function")
    return obj


def check_store(store: Any, where: str) -> OrderStore:
    """The store, if it has every OrderStore method as a coroutine function; else OrderStoreConfigError."""
    missing = [m for m in STORE_METHODS if not callable(getattr(store, m, None))]
    not_async = [m for m in STORE_METHODS if m not in missing and not inspect.iscoroutinefunction(getattr(store, m))]
    if missing or not_async:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"not async: {', '.join(not_async)}"] if not_async else [])
        raise OrderStoreConfigError(f"{where} does not make an OrderStore ({'; '.join(parts)}); "
                                    "see voicebot/dialogue/orders/store.py for the five methods")
    return store


def make_store(settings: Any, options: Any) -> OrderStore:
    """The order store ``options.order_store`` names (``options``: the ``dialogue:`` section)."""
    name = options.order_store
    if name is None:
        raise NoOrderStoreError(NO_STORE)
    if name == "demo":
        from .sqlite_store import SqliteOrderStore

        log.warning(DEMO_WARNING)
        return SqliteOrderStore(Path(settings.home) / DEMO_FILE, today=options.today)
    if name == "http":
        if not options.order_api_url:
            raise OrderStoreConfigError("dialogue.order_store is 'http' but dialogue.order_api_url is empty; "
                                        "set it to the merchant API base URL (docs/order-api.md)")
        from .http_store import HttpOrderStore, HttpStoreOptions

        return HttpOrderStore(HttpStoreOptions(options.order_api_url, os.environ.get(options.order_api_token_env)))
    if name == "shopify":
        from .shopify import ShopifyOrderStore

        sh = options.shopify
        if not sh.shop_domain or not reveal(sh.access_token):
            raise OrderStoreConfigError("dialogue.order_store is 'shopify': set dialogue.shopify.shop_domain (your-shop.myshopify.com) "
                                        "and dialogue.shopify.access_token (VOICEBOT_DIALOGUE__SHOPIFY__ACCESS_TOKEN)")
        return ShopifyOrderStore(sh, today=options.today)
    if name == "woocommerce":
        from .woocommerce import WooCommerceOrderStore

        wc = options.woocommerce
        if not wc.url or not reveal(wc.consumer_key) or not reveal(wc.consumer_secret):
            raise OrderStoreConfigError("dialogue.order_store is 'woocommerce': set dialogue.woocommerce.url, consumer_key and "
                                        "consumer_secret (a REST API key with read/write access)")
        try:
            return WooCommerceOrderStore(wc, today=options.today)
        except OrderStoreError as exc:
            raise OrderStoreConfigError(str(exc)) from None
    factory = import_factory(name)
    try:
        store = factory(**dict(options.order_store_options))
    except TypeError as exc:
        raise OrderStoreConfigError(f"dialogue.order_store {name!r} refused dialogue.order_store_options: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the merchant's code: say what it raised, and where
        raise OrderStoreConfigError(f"dialogue.order_store {name!r} failed to start: {type(exc).__name__}: {exc}") from None
    return check_store(store, f"dialogue.order_store {name!r}")
