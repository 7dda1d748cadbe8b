"""Product questions, answered only from the knowledge base's product facts."""

from __future__ import annotations

from .base import Flow, Pending


def find_product(f: Flow, hint: str, text: str) -> str | None:
    """A product the caller names (their own orders' products first)."""
    kb = f.res.kb
    own: list[str] = []
    if f.state.order:
        own = [i.sku for i in f.state.order.items]
    for source in (hint, text):
        if not source:
            continue
        if own and (m := kb.match_products(source, f.lang, own)):
            return m[0]
        if m := kb.match_products(source, f.lang):
            return m[0]
    return None


async def product_question(f: Flow, hint: str, text: str) -> bool:
    """Answer when the product is known; otherwise ask which one. True when answered."""
    pid = find_product(f, hint, text)
    if pid is None:
        f.ask("product_unknown", Pending("product", intent="product_question"))
        return False
    f.say_kb(pid)
    f.note("kb_answer", entry=pid)
    f.close()
    return True
