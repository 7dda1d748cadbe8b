"""Settings of the shop-platform order stores (``dialogue.shopify``, ``dialogue.woocommerce``).

Kept free of network imports so that ``voicebot.config`` stays cheap to load; the adapters
themselves are :mod:`.shopify` and :mod:`.woocommerce`.
"""

from __future__ import annotations

from pydantic import Field

from voicebot.config_types import Flag, Secret, Section, Seconds


class ShopifyOptions(Section):
    """A Shopify store through the Admin GraphQL API (a custom app's Admin API access token).

    The app needs the scopes ``read_orders``, ``read_customers`` and, for cases, ``write_orders``."""

    shop_domain: str = ""  # your-shop.myshopify.com (or a full https:// URL: tests point it at a stand-in)
    access_token: Secret | None = None  # sent as X-Shopify-Access-Token; VOICEBOT_DIALOGUE__SHOPIFY__ACCESS_TOKEN
    api_version: str = "2025-07"  # a supported Admin API version (YYYY-MM)
    timeout_s: Seconds = 4.0  # per request: a caller is waiting, so fail fast and hand over
    max_wait_s: float = Field(2.0, ge=0)  # the most a throttled request waits (429 Retry-After, query cost) before giving up
    max_orders: int = Field(20, ge=1, le=250)  # a customer's most recent orders looked at ("where is my red coat?")
    cancel_orders: Flag = True  # a confirmed cancellation cancels the order in Shopify (refund, restock); false: tag it for staff
    final_sale_tag: str = "final-sale"  # an order with this tag is not returnable


class WooCommerceOptions(Section):
    """A WooCommerce store through its REST API v3 (a REST API key: consumer key and secret)."""

    url: str = ""  # the site's address, e.g. https://shop.example.com (the API is under /wp-json/wc/v3)
    consumer_key: Secret | None = None  # ck_...; VOICEBOT_DIALOGUE__WOOCOMMERCE__CONSUMER_KEY
    consumer_secret: Secret | None = None  # cs_...
    # Sent as HTTP Basic auth; some hosts strip the Authorization header, then the keys go in the query string.
    query_string_auth: Flag = False
    timeout_s: Seconds = 4.0
    max_wait_s: float = Field(2.0, ge=0)  # the most a 429 (Retry-After) is waited for
    max_orders: int = Field(20, ge=1, le=100)
    shipment_tracking: Flag = True  # read tracking numbers from the Shipment Tracking extension's endpoint
    cancel_orders: Flag = True  # a confirmed cancellation sets the order's status to cancelled; false: a note for staff
    final_sale_meta: str = "final_sale"  # an order meta key whose value "yes"/"1"/"true" marks it not returnable
