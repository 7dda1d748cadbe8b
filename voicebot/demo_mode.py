"""Demo mode said on every page: while the sample order store answers callers, each HTML page the
server sends (desk, QA, knowledge base, the in-app demo page) carries a banner saying so, and every
response an ``X-Voicebot-Demo`` header.

One ASGI wrapper rather than a line in each page's template: pages come from several packages
(jinja2 templates, static files, inline HTML), and a page added later gets the banner too.
"""

from __future__ import annotations

import html
import re
from typing import Any

from voicebot.dialogue.orders.factory import DEMO_WARNING

HEADER = (b"x-voicebot-demo", b"sample orders of fictional customers (dialogue.order_store: demo)")
BANNER = ('<div role="alert" data-demo-banner style="background:#b00020;color:#fff;font:600 14px/1.4 sans-serif;'
          f'padding:8px 12px;text-align:center">{html.escape(DEMO_WARNING)}</div>')
_BODY = re.compile(rb"<body[^>]*>", re.IGNORECASE)

Scope = dict[str, Any]
Message = dict[str, Any]


def with_banner(page: bytes, banner: str = BANNER) -> bytes:
    """``page`` with ``banner`` right after its ``<body>`` tag (at the start when it has none)."""
    found = _BODY.search(page)
    at = found.end() if found else 0
    return page[:at] + banner.encode() + page[at:]


class DemoBanner:
    """ASGI middleware: HTML responses get :data:`BANNER`, every HTTP response :data:`HEADER`.

    An HTML body is held until its last part (pages are small), then sent whole with its
    Content-Length corrected; anything else streams through untouched, WebSockets included."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") == "HEAD":  # a HEAD answer has no body to mark
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def send_marked(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), HEADER]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                message = {**message, "headers": headers}
                if content_type.startswith(b"text/html"):
                    start = message  # sent with the body, once its length is known
                    return
                await send(message)
                return
            if message["type"] == "http.response.body" and start is not None:
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = with_banner(b"".join(parts))
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_marked)
