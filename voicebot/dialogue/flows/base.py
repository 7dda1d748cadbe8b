"""What every flow works with: the call's state, the shared resources, and a reply builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from voicebot.core import CallAction, CallContext, Note
from ..kb import KnowledgeBase
from ..nlu_types import LANGUAGES
from ..orders import Case, Customer, Order, OrderStore
from ..templates import Templates, format_date

# What the bot is waiting for after its last question.
PendingKind = Literal["order_id", "email", "pick_order", "confirm", "confirm_order_id", "anything_else", "complaint_detail", "product"]


@dataclass
class Pending:
    kind: PendingKind
    intent: str | None = None  # the intent being served
    action: str | None = None  # for "confirm": what affirm carries out
    prompt: str = ""  # the question as said (to tell whether a barge-in cut it off)
    choices: tuple[str, ...] = ()  # for "pick_order": the order ids offered; "confirm_order_id": the one read back


@dataclass
class FlowState:
    """What the dialogue has learnt about one call so far; the flows read and write it.

    (The pipeline's own per-call state is :class:`voicebot.pipeline.state.CallState`.)
    """

    call: CallContext
    lang: str
    history: list[dict[str, Any]] = field(default_factory=list)  # {"role": "bot"|"caller", "text", ...}
    intents: list[str] = field(default_factory=list)
    sentiments: list[str] = field(default_factory=list)
    frustration: float = 0.0  # accumulated, decays by half each turn
    misunderstood_in_row: int = 0
    customer: Customer | None = None  # who the caller is, as far as we know
    verified: bool = False  # identity checked against the order's customer
    verified_by: str | None = None
    order: Order | None = None  # the order in focus
    orders_discussed: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    promises: list[str] = field(default_factory=list)  # knowledge-base entries said to the caller
    pending: Pending | None = None
    identity_failures: int = 0
    order_failures: int = 0
    complaints: int = 0
    allowed: set[str] = field(default_factory=set)  # identifiers the caller may hear (guard)
    ended: bool = False


@dataclass(frozen=True)
class Resources:
    kb: KnowledgeBase
    templates: Templates
    store: OrderStore
    shop_name: str
    today: Any  # () -> date
    languages: tuple[str, ...] = LANGUAGES  # the languages the shop serves; the first is the fallback


@dataclass
class Out:
    """The reply being built for this turn."""

    parts: list[str] = field(default_factory=list)
    actions: list[CallAction] = field(default_factory=list)


class Flow:
    """Helpers shared by the flows; one per turn, wrapping the state and the resources."""

    def __init__(self, state: FlowState, res: Resources, out: Out) -> None:
        self.state = state
        self.res = res
        self.out = out

    @property
    def lang(self) -> str:
        return self.state.lang

    def today(self) -> date:
        return self.res.today()

    def say(self, key: str, **values: Any) -> str:
        key = self.res.templates.for_channel(key, self.state.call.channel)
        text = self.res.templates.render(key, self.lang, shop=self.res.shop_name, **values)
        self.out.parts.append(text)
        return text

    def say_kb(self, entry_id: str, **values: Any) -> str:
        """A policy or fact, word for word from the knowledge base (and remembered as said)."""
        text = self.res.kb.say(entry_id, self.lang, **values)
        self.out.parts.append(text)
        self.state.promises.append(entry_id)
        return text

    def note(self, name: str, **data: Any) -> None:
        self.out.actions.append(Note(name, data))

    def ask(self, key: str, pending: Pending, **values: Any) -> None:
        pending.prompt = self.say(key, **values)
        self.state.pending = pending

    def date(self, d: date | None) -> str:
        return format_date(d, self.lang) if d else "?"

    def items(self, order: Order) -> str:
        names = [self.res.kb.name(i.sku, self.lang) if i.sku in self.res.kb.entries else i.sku for i in order.items]
        return self.res.templates.join(names, self.lang)

    def order_values(self, order: Order) -> dict[str, Any]:
        return {"order_id": order.id, "items": self.items(order)}

    def allow_order(self, order: Order) -> None:
        """The verified caller may hear this order's identifiers."""
        self.state.allowed.add(order.id)
        if order.shipment:
            self.state.allowed.add(order.shipment.tracking_number)

    def close(self) -> None:
        """Every resolution ends by offering more help."""
        self.ask("anything_else", Pending("anything_else"))
