"""Product questions, answered only from the knowledge base's product facts.

A question names a product and, often, an attribute (size, capacity, plug, material,
compatibility: the ``attribute`` entries of the catalogue list the words for each). The fact
``<product>.<attribute>`` is said word for word; when the catalogue has no such fact the caller
is told so and passed to a colleague, never given a guess.
"""

from __future__ import annotations

from typing import Literal

from .base import Flow, Pending

Answer = Literal["answered", "asked", "missing"]


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


async def product_question(f: Flow, hint: str, text: str, asked: tuple[str, ...] = ()) -> Answer:
    """"answered": facts said; "asked": which product? (nothing known was named); "missing":
    the caller asked for an attribute the catalogue does not state for that product (what is
    known was said; the caller must be passed to a colleague). ``asked``: attributes named in an
    earlier turn ("is it waterproof?" ... "the watch")."""
    kb = f.res.kb
    pid = find_product(f, hint, text)
    # the product's own name says nothing about what is asked ("montre connectée", "4.5-litre air fryer")
    question = text.lower().replace(kb.name(pid, f.lang).lower(), " ") if pid else text
    attributes = tuple(dict.fromkeys((*asked, *kb.attributes_in(question, f.lang))))
    if pid is None:
        f.ask("product_unknown", Pending("product", intent="product_question", choices=attributes))
        return "asked"
    if not attributes:
        f.say_kb(pid)
        f.note("kb_answer", entry=pid)
        f.close()
        return "answered"
    for attr in attributes:
        if (fact := f"{pid}.{attr}") in kb.entries:
            f.say_kb(fact)
            f.note("kb_answer", entry=fact)
    missing = [a for a in attributes if f"{pid}.{a}" not in kb.entries]
    if missing:
        f.note("kb_fact_missing", product=pid, attributes=missing)
        return "missing"
    f.close()
    return "answered"
