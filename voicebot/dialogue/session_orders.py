"""The order half of a call: who the caller is, which order they mean (by number, read back
when unsure, a one-digit slip matched to their own orders, or picked among them), and whether
they are verified for it before anything about it is said or done.

A mixin of :class:`voicebot.dialogue.session.CustomerServiceSession`, kept apart so each module
stays readable; it uses the session's state, resources, options and its ``_transfer`` /
``_reask`` helpers.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from .flows import ORDER_FLOWS, Flow, Pending
from .nlu_types import NluResult
from .order_capture import near_match, spoken_groups
from .orders import Order

if TYPE_CHECKING:
    from voicebot.core import CallContext
    from .flows import FlowState, Resources
    from .session import SessionOptions

# Intents that start a task of their own (they interrupt whatever the bot was waiting for).
TASK_INTENTS = set(ORDER_FLOWS) | {"product_question", "payment_issue", "complaint", "human_agent"}


class OrderTasks:
    """Finding the caller's order and checking they may hear about it."""

    call: CallContext
    state: FlowState
    res: Resources
    options: SessionOptions
    _identified: bool
    _asr_confidence: float | None
    _choice_items: dict[str, list[str]]

    async def _identify_caller(self) -> None:
        """Who is calling, from the in-app token or the caller's number (once per call)."""
        if self._identified:
            return
        self._identified = True
        state, store = self.state, self.res.store
        if self.call.customer_id and (customer := await store.find_customer(customer_id=self.call.customer_id)):
            state.customer, state.verified_by = customer, "app_token"
        elif self.call.caller_number and (customer := await store.find_customer(phone=self.call.caller_number)):
            state.customer, state.verified_by = customer, "caller_number"

    async def _order_task(self, flow: Flow, intent: str, slots: dict[str, Any]) -> None:
        state = self.state
        await self._identify_caller()
        order: Order | None = None
        if oid := slots.get("order_id"):
            oid = str(oid).strip().upper()
            state.allowed.add(oid)  # the caller said it: repeating it back discloses nothing
            keyed = bool(slots.get("dtmf")) or bool(slots.get("_confirmed"))
            if not keyed and self._should_read_back():
                return self._read_back(flow, intent, oid, "order_readback")
            order = await self.res.store.get_order(oid)
            flow.note("order_lookup", order_id=oid, found=order is not None)
            mine = state.customer is not None and order is not None and order.customer_id == state.customer.id
            if not mine and (slip := await self._slip_of(oid)):
                return self._read_back(flow, intent, slip, "order_did_you_mean")
            if order is None:
                state.order_failures += 1
                if state.order_failures >= self.options.max_order_failures:
                    return self._transfer(flow, "not_understood", "transfer_not_understood")
                return flow.ask("order_not_found", Pending("order_id", intent=intent), order_id=spoken_groups(oid, state.lang))
        elif state.order is not None and state.order.customer_id == (state.customer.id if state.customer else None):
            order = state.order
        elif state.customer is not None:
            order = await self._choose_order(flow, intent, str(slots.get("product_hint", "")), str(slots.get("_text", "")))
            if order is None:
                return  # a question was asked
        else:
            return flow.ask("ask_order_id", Pending("order_id", intent=intent))
        state.order = order
        if order.id not in state.orders_discussed:
            state.orders_discussed.append(order.id)
        if not await self._verified_for(flow, order, intent):
            return
        await self._run_order_flow(flow, intent, order)

    def _should_read_back(self) -> bool:
        mode = self.options.read_back
        unsure = self._asr_confidence is not None and self._asr_confidence < self.options.read_back_below_confidence
        return mode == "always" or (mode == "when_unsure" and unsure)

    async def _slip_of(self, said: str) -> str | None:
        """The identified caller's own order one slip away from ``said`` (None if none or several)."""
        await self._identify_caller()
        state = self.state
        if state.customer is None or not state.verified_by:
            return None
        owned = await self.res.store.orders_for_customer(state.customer.id)
        return near_match(said, [order.id for order in owned])

    def _read_back(self, flow: Flow, intent: str, oid: str, template: str) -> None:
        """Ask whether ``oid`` (read in groups) is the order meant; the answer goes to _answer_read_back."""
        self.state.allowed.add(oid)
        flow.ask(template, Pending("confirm_order_id", intent=intent, choices=(oid,)), spoken=spoken_groups(oid, self.state.lang))

    async def _answer_read_back(self, flow: Flow, nlu: NluResult, pending: Pending) -> bool:
        """Yes: the number stands. No: ask again (keypad offered). Another number, spoken or keyed:
        that one is taken instead. Anything else: the question again, or a new task."""
        state = self.state
        candidate = pending.choices[0] if pending.choices else ""
        said = str(nlu.slots.get("order_id") or "").upper()
        intent = pending.intent or "order_status"
        if said and said != candidate:
            state.pending = None
            flow.note("order_id_corrected", heard=candidate, corrected=said, keypad=bool(nlu.slots.get("dtmf")))
            await self._order_task(flow, intent, dict(nlu.slots))
            return True
        if nlu.intent == "affirm" or (said and said == candidate):
            state.pending = None
            flow.note("order_id_confirmed", order_id=candidate)
            await self._order_task(flow, intent, {**nlu.slots, "order_id": candidate, "_confirmed": True})
            return True
        if nlu.intent == "deny":
            state.pending = None
            flow.ask("order_again", Pending("order_id", intent=intent))
            return True
        if nlu.intent in TASK_INTENTS and nlu.intent != intent:
            return False
        return self._reask(flow, pending)

    async def _run_order_flow(self, flow: Flow, intent: str, order: Order) -> None:
        flow.allow_order(order)
        await ORDER_FLOWS[intent](flow, order)

    async def _choose_order(self, flow: Flow, intent: str, hint: str, text: str = "") -> Order | None:
        orders = await self.res.store.orders_for_customer(self.state.customer.id)  # type: ignore[union-attr]
        flow.note("order_lookup", customer_id=self.state.customer.id, count=len(orders))  # type: ignore[union-attr]
        if not orders:
            flow.ask("ask_order_id", Pending("order_id", intent=intent))
            return None
        if hint:
            by_product = [order for order in orders if self.res.kb.match_products(hint, self.state.lang, [item.sku for item in order.items])]
            if by_product:
                orders = by_product
        relevant = [order for order in orders if _relevant(intent, order, self.res.today())] or orders
        if intent == "shipping_delay" and _mentions_customs(text):
            relevant = [order for order in relevant if order.shipment and order.shipment.status == "customs_hold"] or relevant
        if len(relevant) == 1:
            return relevant[0]
        choices = relevant[:3]
        self._choice_items = {order.id: [item.sku for item in order.items] for order in choices}
        for order in choices:
            flow.allow_order(order)  # the caller is verified for their own orders
        text = "; ".join(self.res.templates.render("order_choice", self.state.lang, **flow.order_values(order)) for order in choices)
        flow.ask("pick_order", Pending("pick_order", intent=intent, choices=tuple(order.id for order in choices)), choices=text)
        return None

    def _pick_by_product(self, flow: Flow, pending: Pending, hint: str, text: str) -> str | None:
        """Which of the offered orders the caller means, by the product they name."""
        for words in (hint, text):
            if not words:
                continue
            hits = [oid for oid in pending.choices if self.res.kb.match_products(words, self.state.lang, self._choice_items.get(oid, []))]
            if len(hits) == 1:
                return hits[0]
        return None

    async def _verified_for(self, flow: Flow, order: Order, intent: str) -> bool:
        state = self.state
        if state.customer is not None and order.customer_id == state.customer.id and state.verified_by:
            if not state.verified:
                state.verified = True
                flow.note("identity_verified", method=state.verified_by, customer_id=state.customer.id)
                state.allowed.update({state.customer.email, state.customer.phone})
            return True
        flow.ask("ask_email", Pending("email", intent=intent))
        return False

    async def _check_identity_answer(self, flow: Flow, pending: Pending, email: str | None, phone: str | None) -> None:
        state = self.state
        order = state.order
        owner = await self.res.store.find_customer(customer_id=order.customer_id) if order else None
        ok = owner is not None and ((email and owner.email.lower() == str(email).strip().lower()) or
                                    (phone and _same(owner.phone, str(phone))))
        if not ok or order is None or owner is None:
            state.identity_failures += 1
            flow.note("identity_failed", attempts=state.identity_failures)
            if state.identity_failures >= self.options.max_identity_failures:
                flow.say("identity_failed")
                return self._transfer(flow, "policy", "transfer_policy")
            flow.say("identity_failed")
            return flow.ask("ask_email", Pending("email", intent=pending.intent))
        state.customer, state.verified, state.verified_by = owner, True, "email" if email else "phone"
        state.allowed.update({owner.email, owner.phone})
        flow.note("identity_verified", method=state.verified_by, customer_id=owner.id)
        flow.say("identity_ok")
        await self._run_order_flow(flow, pending.intent or "order_status", order)


def _relevant(intent: str, order: Order, today: date) -> bool:
    """Is this order a likely subject of ``intent``? Used to pick among a caller's orders."""
    shipment = order.shipment
    status = shipment.status if shipment else "processing"
    if order.status == "cancelled":
        return False
    if intent == "order_status":
        return status not in ("delivered",)
    if intent == "shipping_delay":
        return status == "customs_hold" or bool(shipment and status == "in_transit" and shipment.expected_delivery and shipment.expected_delivery < today)
    if intent == "not_received":
        return status == "delivered" and bool(shipment and shipment.delivered_on and shipment.delivered_on >= today - timedelta(days=30))
    if intent in ("return_refund", "damaged_item"):
        return status == "delivered" and bool(shipment and shipment.delivered_on and shipment.delivered_on >= today - timedelta(days=30))
    if intent in ("cancel_order", "change_address"):
        return status == "processing"
    return True


# "Customs" in every language: a caller who says it means the held parcel, not another late one.
_CUSTOMS_WORDS = ("customs", "aduana", "alfândega", "alfandega", "zoll", "douane", "dogana", "таможн", "海关", "税関", "세관",
                  "جمارك", "الجمارك", "ศุลกากร", "bea cukai", "hải quan", "hai quan")


def _mentions_customs(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in _CUSTOMS_WORDS)


def _same(a: str, b: str) -> bool:
    from .orders import same_phone

    return same_phone(a, b)
