"""Optional LLM backend: any OpenAI-compatible ``/chat/completions`` endpoint (a local server
such as llama.cpp, vLLM or Ollama works). Off by default; the built-in flows never need it.

The model may only call three tools — ``kb_lookup``, ``list_my_orders`` and ``get_order`` —
and the order tools answer only for the caller whose identity the session has verified.
Its final text goes through the same compliance guard as every other reply.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

import aiohttp

from ..logs import get_logger
from .orders.wire import order_to_json

if TYPE_CHECKING:
    from .engine import LlmOptions
    from .session import CustomerServiceSession

log = get_logger(__name__)
_FACT = re.compile(r"[A-Za-z]*\d[\w-]*")  # numbers, dates, ids, references: must survive a rephrasing

TOOLS = [
    {"type": "function", "function": {
        "name": "kb_lookup", "description": "Search the shop's knowledge base (policies, shipping times, product facts). The only source of facts.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "list_my_orders", "description": "The verified caller's orders (id, status, items).",
        "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {
        "name": "get_order", "description": "One of the verified caller's orders with shipment and tracking events.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
]

SYSTEM_PROMPT = (
    "You are the phone assistant of {shop}. Answer in the language with ISO code '{lang}', in at most three short "
    "spoken sentences, no markdown, no lists. State facts, policies, times and amounts ONLY as returned by the tools; "
    "if the tools do not answer the question, say you do not have that information and offer a human colleague. "
    "Never promise compensation, discounts or anything the knowledge base does not say. Never ask for card details "
    "and never suggest paying outside the shop's website or app. Only discuss orders returned by the order tools."
)


REPHRASE_PROMPT = (
    "Rephrase the assistant's reply below so it sounds natural when spoken on the phone, in the language with ISO code "
    "'{lang}'. Keep every fact, number, date, order id, tracking number and reference exactly as written; add nothing, "
    "promise nothing new, drop nothing. Answer with the reply only."
)


class LlmError(RuntimeError):
    pass


class LlmBackend:
    def __init__(self, options: LlmOptions) -> None:
        self.options = options
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _complete(self, messages: list[dict[str, Any]], tools: bool = True) -> dict[str, Any]:
        if self._http is None or self._http.closed:
            headers = {"Content-Type": "application/json"}
            if key := os.environ.get(self.options.api_key_env):
                headers["Authorization"] = f"Bearer {key}"
            self._http = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.options.timeout_s))
        url = self.options.base_url.rstrip("/") + "/chat/completions"
        body: dict[str, Any] = {"model": self.options.model, "messages": messages, "temperature": self.options.temperature}
        if tools:
            body |= {"tools": TOOLS, "tool_choice": "auto"}
        try:
            async with self._http.post(url, json=body) as resp:
                if resp.status >= 400:
                    raise LlmError(f"LLM endpoint {url} answered {resp.status}: {(await resp.text())[:200]}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LlmError(f"LLM endpoint {url} failed: {exc!r}; check dialogue.llm.base_url") from exc
        try:
            return data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LlmError(f"LLM endpoint {url} sent no choices[0].message: {str(data)[:200]}") from exc

    async def rephrase(self, text: str, lang: str) -> str | None:
        """The same reply in more natural words, or None when the model changed a fact.

        Every number and identifier of the original must survive: a rephrasing that loses
        "RET-100001" or turns "5 to 10" into "a few" is thrown away.
        """
        msg = await self._complete([{"role": "system", "content": REPHRASE_PROMPT.format(lang=lang)},
                                    {"role": "user", "content": text}], tools=False)
        new = (msg.get("content") or "").strip()
        if not new:
            return None
        facts = set(_FACT.findall(text))
        if not facts <= set(_FACT.findall(new)):
            log.info("llm rephrasing dropped facts; keeping the original", extra={"missing": sorted(facts - set(_FACT.findall(new)))})
            return None
        return new

    async def answer(self, question: str, lang: str, session: CustomerServiceSession) -> str | None:
        """A reply to a free-form question, or None when the model gave none."""
        st = session.state
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT.format(shop=session.res.shop_name, lang=lang)}]
        for h in st.history[-8:-1]:  # the conversation so far, without the question itself
            messages.append({"role": "assistant" if h["role"] == "bot" else "user", "content": h["text"]})
        messages.append({"role": "user", "content": question})
        for _ in range(self.options.max_tool_rounds + 1):
            msg = await self._complete(messages)
            calls = msg.get("tool_calls") or []
            if not calls:
                content = (msg.get("content") or "").strip()
                return content or None
            messages.append({"role": "assistant", "content": msg.get("content") or "", "tool_calls": calls})
            for call in calls:
                fn = call.get("function") or {}
                result = await self.run_tool(str(fn.get("name")), fn.get("arguments") or "{}", lang, session)
                messages.append({"role": "tool", "tool_call_id": call.get("id", ""), "content": json.dumps(result, ensure_ascii=False)})
        log.warning("llm used every tool round without answering", extra={"call_id": session.call.call_id})
        return None

    async def run_tool(self, name: str, arguments: str | dict[str, Any], lang: str, session: CustomerServiceSession) -> dict[str, Any]:
        """Carry out one tool call, within what this caller may see."""
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        except json.JSONDecodeError:
            return {"error": "arguments are not valid JSON"}
        st, res = session.state, session.res
        if name == "kb_lookup":
            return {"results": res.kb.search(str(args.get("query", "")), lang)}
        if name in ("list_my_orders", "get_order"):
            if not (st.verified and st.customer):
                return {"error": "the caller's identity is not verified; ask for the order number and the email on the order"}
            if name == "list_my_orders":
                orders = await res.store.orders_for_customer(st.customer.id)
                for o in orders:
                    st.allowed.add(o.id)
                return {"orders": [{"id": o.id, "status": o.status, "items": [res.kb.name(i.sku, lang) for i in o.items]} for o in orders]}
            order = await res.store.get_order(str(args.get("order_id", "")))
            if order is None or order.customer_id != st.customer.id:
                return {"error": "no such order for this caller"}
            st.allowed.add(order.id)
            if order.shipment:
                st.allowed.add(order.shipment.tracking_number)
            return {"order": order_to_json(order)}
        return {"error": f"unknown tool {name!r}; use kb_lookup, list_my_orders or get_order"}
