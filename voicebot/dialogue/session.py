"""One call's dialogue: understands each caller turn, runs the flows, guards what is said,
and decides when a person must take over."""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Literal, Protocol

from ..config_types import CsvTuple, Section
from ..logs import get_logger
from voicebot.core import CallContext, CallerCard, ContextPacket, HangUp, Note, Transfer
from .api import CallerTurn, DialogueReply
from .flows import CONFIRM_ACTIONS, ORDER_FLOWS, Flow, FlowState, Out, Pending, Resources
from .flows.info import find_product, product_question
from .guard import Guard, GuardContext
from .nlu_types import NluResult
from .order_capture import EXPECT_BY_PENDING
from .orders import OrderStoreError
from .session_orders import TASK_INTENTS, OrderTasks

log = get_logger(__name__)


class Understands(Protocol):
    def understand(self, text: str, lang: str | None = None, *, expecting: str | None = None) -> NluResult: ...


class Answerer(Protocol):
    """The optional LLM backend (voicebot.dialogue.llm.LlmBackend)."""

    async def answer(self, question: str, lang: str, session: CustomerServiceSession) -> str | None: ...

    async def rephrase(self, text: str, lang: str) -> str | None: ...


class SessionOptions(Section):
    """Escalation thresholds (``dialogue.session``); the defaults follow common contact-centre practice."""

    model_config = Section.model_config | {"frozen": True}

    max_misunderstood: int = 2  # not understood this many times in a row -> a person
    frustration_turn: float = 0.8  # one turn this frustrated -> a person
    frustration_total: float = 1.2  # accumulated (halved each turn) -> a person
    frustration_angry: float = 0.6  # an angry turn at least this frustrated -> a person
    min_confidence: float = 0.45  # below this an intent counts as not understood
    max_order_failures: int = 2  # order number not found this many times -> a person
    max_identity_failures: int = 2
    allowed_domains: CsvTuple = ()
    # Reading a spoken order number back: "always" before every lookup of a spoken (not keyed)
    # number; "when_unsure" (default) only when the ASR was unsure of the turn, or the number is
    # not an order of the identified caller but one slip away from one; "never".
    read_back: Literal["always", "when_unsure", "never"] = "when_unsure"
    read_back_below_confidence: float = 0.6  # ASR mean token probability under which a number is read back


class CustomerServiceSession(OrderTasks):
    """The built-in customer-service dialogue of one call (a :class:`voicebot.dialogue.api.DialogueSession`)."""

    def __init__(self, call: CallContext, res: Resources, nlu: Understands, guard: Guard, policy_numbers: frozenset[int],
                 options: SessionOptions = SessionOptions(), greetings: dict[str, str] | None = None, llm: Answerer | None = None) -> None:
        self.call = call
        self.res = res
        self.nlu = nlu
        self.guard = guard
        self.policy_numbers = policy_numbers
        self.options = options
        self.greetings = greetings or {}
        self.llm = llm
        served = res.languages
        lang = call.language if call.language in served else served[0]
        self.state = FlowState(call=call, lang=lang)
        if call.caller_number:
            self.state.allowed.add(call.caller_number)
        self._identified = False
        self._choice_items: dict[str, list[str]] = {}  # order id -> skus, for "the one with the coat"
        self._expects_kw = "expecting" in inspect.signature(nlu.understand).parameters
        self._asr_confidence: float | None = None  # of the turn being handled

    # -- the DialogueSession interface -------------------------------------------------------
    async def greet(self) -> DialogueReply:
        out = Out()
        flow = Flow(self.state, self.res, out)
        if custom := self.greetings.get(self.state.lang):
            out.parts.append(custom.format(shop=self.res.shop_name, name=self.call.customer_name or ""))
        elif self.call.customer_name:
            flow.say("greeting_named", name=self.call.customer_name)
        else:
            flow.say("greeting")
        return self._finish(out, intent="greeting")

    async def respond(self, turn: CallerTurn) -> DialogueReply:
        if turn.language in self.res.languages:  # a language the shop does not serve: answer in the current one
            self.state.lang = turn.language
        text = turn.text.strip()
        self._asr_confidence = turn.asr_confidence
        self.state.history.append({"role": "caller", "text": text, "dtmf": turn.dtmf, "language": turn.language})
        nlu = await self._understand(text, turn)
        self.state.intents.append(nlu.intent)
        self.state.sentiments.append(nlu.sentiment)
        out = Out()
        flow = Flow(self.state, self.res, out)
        try:
            await self._handle(flow, nlu, text)
        except OrderStoreError as exc:
            log.error("order store failed: %s", exc, extra={"call_id": self.call.call_id})
            out.parts.clear()
            self._transfer(flow, "system_error", "transfer_system_error")
        if self.llm is not None and getattr(self.llm, "options", None) is not None and self.llm.options.rephrase and out.parts:
            await self._rephrase(out)
        return self._finish(out, nlu=nlu)

    async def _rephrase(self, out: Out) -> None:
        try:
            new = await self.llm.rephrase(" ".join(out.parts), self.state.lang)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - the template text is always a good answer
            log.warning("llm rephrase failed: %r", exc, extra={"call_id": self.call.call_id})
            return
        if not new:
            return
        verdict = self.guard.check(new, self.state.lang, self._guard_context())
        if not verdict.ok:  # the model added something it must not say: keep the built-in wording
            log.warning("guard blocked an llm rephrasing", extra={"call_id": self.call.call_id, "findings": list(verdict.blocked)})
            out.actions.append(Note("guard_blocked", {"findings": list(verdict.blocked), "source": "llm_rephrase"}))
            return
        out.parts[:] = [new]

    def _guard_context(self) -> GuardContext:
        return GuardContext(frozenset(self.state.allowed), self.policy_numbers, self.options.allowed_domains)

    def snapshot(self) -> object:
        """The session's state, to :meth:`restore` if the caller turns out to have gone on speaking."""
        return copy.deepcopy((self.state, self._identified, self._choice_items))

    def restore(self, snapshot: object) -> None:
        state, self._identified, choice = copy.deepcopy(snapshot)  # type: ignore[misc]
        self.state, self._choice_items = state, choice

    def bot_was_interrupted(self, heard_text: str) -> None:
        for entry in reversed(self.state.history):
            if entry["role"] == "bot":
                entry["said"] = entry["text"]
                entry["text"] = heard_text
                entry["interrupted"] = True
                break
        pending = self.state.pending
        if pending and pending.kind in ("confirm", "confirm_order_id", "anything_else") and pending.prompt and pending.prompt.strip() not in heard_text:
            # The caller did not hear the question, so a "yes" now must not carry out the action.
            self.state.pending = None

    # -- understanding -------------------------------------------------------------------------
    async def _understand(self, text: str, turn: CallerTurn) -> NluResult:
        pending = self.state.pending
        expecting = {"order_id": "order_id", "pick_order": "order_id", "email": "email", "confirm": "confirmation",
                     "confirm_order_id": "confirmation", "anything_else": "confirmation"}.get(pending.kind) if pending else None
        if not text:
            nlu = NluResult("out_of_scope", 0.0, self.state.lang)
        else:
            kwargs = {"expecting": expecting} if self._expects_kw else {}
            # NLU is CPU work: keep the event loop free.
            nlu = await asyncio.to_thread(self.nlu.understand, text, self.state.lang, **kwargs)
        digits = "".join(ch for ch in turn.dtmf if ch.isdigit())
        if digits:
            # The keypad is exact and may be used at any time: it wins over what was heard.
            slots = dict(nlu.slots, dtmf=digits)
            if expecting == "email":
                slots["phone"] = digits  # the identity question takes the phone number too
            elif expecting in ("order_id", "confirmation") or "order_id" not in slots:
                slots["order_id"] = digits
            nlu = replace(nlu, slots=slots, intent=nlu.intent if text else "out_of_scope")
        return nlu

    # -- the turn --------------------------------------------------------------------------------
    async def _handle(self, flow: Flow, nlu: NluResult, text: str) -> None:
        state, opts = self.state, self.options
        state.frustration = state.frustration / 2 + nlu.frustration
        if nlu.intent == "human_agent":
            return self._transfer(flow, "caller_asked", "transfer_caller_asked")
        angry = nlu.sentiment == "angry" and nlu.frustration >= opts.frustration_angry
        if nlu.escalate or angry or nlu.frustration >= opts.frustration_turn or state.frustration >= opts.frustration_total:
            return self._transfer(flow, "frustration", "transfer_frustration")
        if nlu.intent == "goodbye":
            return self._goodbye(flow)
        if state.pending:
            before = state.misunderstood_in_row
            if await self._continue(flow, nlu, text, state.pending):
                if state.misunderstood_in_row == before:  # a real answer, not a repeated question
                    state.misunderstood_in_row = 0
                return
        if nlu.slots.get("order_id") and nlu.intent in ("greeting", "affirm", "thanks", "out_of_scope"):
            # A bare order number ("hi, order 4 5 7 1 2?") means: look this order up.
            nlu = replace(nlu, intent="order_status", confidence=max(nlu.confidence, opts.min_confidence))
        understood = nlu.intent != "out_of_scope" and nlu.confidence >= opts.min_confidence
        if not understood and find_product(flow, str(nlu.slots.get("product_hint", "")), text):
            # Unclassified, but it names one of our products: answer about that product.
            nlu = replace(nlu, intent="product_question", confidence=opts.min_confidence)
            understood = True
        if not understood:
            return await self._not_understood(flow, nlu, text)
        state.misunderstood_in_row = 0 if nlu.intent != "product_question" else state.misunderstood_in_row
        await self._dispatch(flow, nlu, text)

    async def _dispatch(self, flow: Flow, nlu: NluResult, text: str) -> None:
        intent = nlu.intent
        state = self.state
        state.pending = None
        if intent in ORDER_FLOWS:
            flow.say(f"ack_{intent}")
            return await self._order_task(flow, intent, {**nlu.slots, "_text": text})
        if intent == "product_question":
            answer = await product_question(flow, str(nlu.slots.get("product_hint", "")), text)
            if answer == "missing":
                return self._fact_not_known(flow, nlu, text)
            if answer == "answered":
                return
            if self.llm and await self._ask_llm(flow, text):
                return
            # No product we know: that is a failure to help, and two in a row go to a person.
            state.misunderstood_in_row += 1
            if state.misunderstood_in_row >= self.options.max_misunderstood:
                flow.out.parts.clear()
                self._transfer(flow, "not_understood", "transfer_not_understood")
            return
        if intent == "payment_issue":
            flow.say("ack_payment_issue")
            flow.say_kb("duplicate_charge")
            flow.say_kb("payment_security")
            return self._transfer(flow, "policy", "transfer_billing", queue="billing")
        if intent == "complaint":
            state.complaints += 1
            if state.complaints >= 2:
                return self._transfer(flow, "complaint", "transfer_policy")
            return flow.ask("complaint_ack", Pending("complaint_detail", intent="complaint"))
        if intent == "greeting":
            flow.say("how_can_help")
            return
        if intent == "thanks":
            flow.say("welcome")
            return flow.close()
        if intent in ("affirm", "deny"):  # nothing was asked: treat as a fresh start
            flow.say("how_can_help")
            return
        await self._not_understood(flow, nlu, text)

    async def _continue(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        """Interpret the turn as the answer to the bot's last question. False: not an answer."""
        handler = _ANSWER_HANDLERS.get(pending.kind)
        return await handler(self, flow, nlu, text, pending) if handler is not None else False

    # One handler per kind of question the bot can be waiting on (``Pending.kind``); each
    # returns False when the turn is no answer to it, so the turn is handled as a fresh request.
    async def _answer_read_back_question(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        return await self._answer_read_back(flow, nlu, pending)

    async def _answer_order_id(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        slots = nlu.slots
        oid = slots.get("order_id")
        if not oid and pending.kind == "pick_order":
            oid = self._pick_by_product(flow, pending, str(slots.get("product_hint", "")), text)
        if oid:
            self.state.pending = None
            await self._order_task(flow, pending.intent or "order_status", {**slots, "order_id": oid})
            return True
        if nlu.intent in TASK_INTENTS:
            return False
        return self._reask(flow, pending)

    async def _answer_email(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        email, phone = nlu.slots.get("email"), nlu.slots.get("phone")
        if email or phone:
            self.state.pending = None
            await self._check_identity_answer(flow, pending, email, phone)
            return True
        if nlu.intent in TASK_INTENTS:
            return False
        return self._reask(flow, pending)

    async def _answer_confirm(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        if nlu.intent == "affirm":
            self.state.pending = None
            await self._confirmed(flow, pending)
            return True
        if nlu.intent == "deny":
            self.state.pending = None
            flow.say("no_action")
            flow.close()
            return True
        if nlu.intent in TASK_INTENTS and nlu.intent != pending.intent:
            return False
        return self._reask(flow, pending)

    async def _answer_anything_else(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        if nlu.intent in ("deny", "thanks"):
            if nlu.intent == "thanks":
                flow.say("welcome")
            self._goodbye(flow)
            return True
        if nlu.intent in ("affirm", "greeting"):
            self.state.pending = None
            flow.say("how_can_help")
            return True
        return False

    async def _answer_complaint_detail(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        if nlu.intent in TASK_INTENTS and nlu.intent != "complaint":
            return False
        self.state.complaints += 1
        self._transfer(flow, "complaint", "transfer_policy")
        return True

    async def _answer_product(self, flow: Flow, nlu: NluResult, text: str, pending: Pending) -> bool:
        hint = str(nlu.slots.get("product_hint", ""))
        if not find_product(flow, hint, text):
            return False
        self.state.pending = None
        if await product_question(flow, hint, text, pending.choices) == "missing":
            self._fact_not_known(flow, nlu, text)
        return True

    def _reask(self, flow: Flow, pending: Pending) -> bool:
        self.state.misunderstood_in_row += 1
        if self.state.misunderstood_in_row >= self.options.max_misunderstood:
            self._transfer(flow, "not_understood", "transfer_not_understood")
            return True
        flow.out.parts.append(pending.prompt)
        return True

    async def _not_understood(self, flow: Flow, nlu: NluResult, text: str) -> None:
        state = self.state
        state.misunderstood_in_row += 1
        if state.misunderstood_in_row >= self.options.max_misunderstood:
            return self._transfer(flow, "not_understood", "transfer_not_understood")
        if self.llm and text and await self._ask_llm(flow, text):
            state.misunderstood_in_row = 0
            return
        state.pending = None
        flow.say("not_understood")

    async def _ask_llm(self, flow: Flow, text: str) -> bool:
        try:
            answer = await self.llm.answer(text, self.state.lang, self) if self.llm else None
        except Exception as exc:  # noqa: BLE001 - the built-in path must keep working if the LLM fails
            log.warning("llm backend failed: %r", exc, extra={"call_id": self.call.call_id})
            answer = None
        if not answer:
            return False
        flow.out.parts.clear()
        flow.out.parts.append(answer)
        flow.note("llm_answer", chars=len(answer))
        return True

    async def _confirmed(self, flow: Flow, pending: Pending) -> None:
        state = self.state
        if state.order is None or pending.action not in CONFIRM_ACTIONS:
            flow.say("how_can_help")
            return
        action, kind = CONFIRM_ACTIONS[pending.action]
        existing = [customer for customer in await self.res.store.cases_for_order(state.order.id) if customer.kind == kind]
        if existing:
            # Policy: a second claim of the same kind on one order is reviewed by a person.
            flow.note("repeat_case", order_id=state.order.id, kind=kind, existing=[customer.reference for customer in existing])
            return self._transfer(flow, "policy", "transfer_policy")
        await action(flow, state.order)

    # -- endings ------------------------------------------------------------------------------
    def _goodbye(self, flow: Flow) -> None:
        self.state.pending = None
        self.state.ended = True
        flow.say("goodbye")
        flow.out.actions.append(HangUp("completed"))

    def _fact_not_known(self, flow: Flow, nlu: NluResult, text: str) -> None:
        """The catalogue does not state what was asked: say so and pass the caller on."""
        pid = find_product(flow, str(nlu.slots.get("product_hint", "")), text)
        name = self.res.kb.name(pid, self.state.lang) if pid else ""
        self._transfer(flow, "product_question", "product_fact_unknown", product=name)

    def _transfer(self, flow: Flow, reason: str, template: str, queue: str | None = None, **values: Any) -> None:
        state = self.state
        state.pending = None
        state.ended = True
        line = flow.say(template, **values)
        context = self.context_packet(reason, pending_line=line)
        flow.out.actions.append(Transfer(reason=reason, queue=queue or state.lang, context=context))

    def context_packet(self, reason: str, pending_line: str = "") -> ContextPacket:
        """Everything the human agent needs so the caller does not repeat themselves."""
        state = self.state
        customer = state.customer
        bot_said = [entry["text"] for entry in state.history if entry["role"] == "bot"] + ([pending_line] if pending_line else [])
        sentiment = state.sentiments[-1] if state.sentiments else "neutral"
        intents = [intent for intent in state.intents if intent not in ("affirm", "deny", "out_of_scope")]
        summary = (f"{customer.name if customer and state.verified else (self.call.caller_number or 'unknown caller')} ({state.lang}), "
                   f"{'verified by ' + str(state.verified_by) if state.verified else 'identity not verified'}; "
                   f"asked about: {', '.join(dict.fromkeys(intents)) or 'nothing clear'}; "
                   f"orders: {', '.join(state.orders_discussed) or 'none'}; "
                   f"created: {', '.join(case.reference for case in state.cases) or 'nothing'}; transfer reason: {reason}.")
        caller = CallerCard(number=self.call.caller_number, customer_id=customer.id if customer else None,
                            name=customer.name if customer and state.verified else self.call.customer_name,
                            verified=state.verified, verified_by=state.verified_by if state.verified else None)
        return ContextPacket(
            reason=reason,
            caller=caller,
            language=state.lang,
            transcript=[dict(entry) for entry in state.history],
            intents=list(state.intents),
            orders=list(state.orders_discussed),
            cases=[{"reference": case.reference, "kind": case.kind, "order_id": case.order_id} for case in state.cases],
            sentiment=sentiment,
            frustration=round(state.frustration, 2),
            bot_said=bot_said,
            promised=list(dict.fromkeys(state.promises)),
            summary=summary,
        )

    # -- guard and bookkeeping ----------------------------------------------------------------
    def _finish(self, out: Out, nlu: NluResult | None = None, intent: str | None = None) -> DialogueReply:
        text = " ".join(part.strip() for part in out.parts if part.strip())
        verdict = self.guard.check(text, self.state.lang, self._guard_context())
        actions = list(out.actions)
        if not verdict.ok:
            log.warning("guard blocked a reply", extra={"call_id": self.call.call_id, "findings": list(verdict.blocked)})
            actions.append(Note("guard_blocked", {"findings": list(verdict.blocked)}))
            text = verdict.text
        self.state.history.append({"role": "bot", "text": text})
        pending = self.state.pending
        expect = EXPECT_BY_PENDING.get(pending.kind) if pending is not None and not self.state.ended else None
        return DialogueReply(text=text, language=self.state.lang, actions=tuple(actions), intent=nlu.intent if nlu else intent,
                             slots=dict(nlu.slots) if nlu else {}, sentiment=nlu.sentiment if nlu else None, expect=expect)


_AnswerHandler = Callable[[CustomerServiceSession, Flow, NluResult, str, Pending], Awaitable[bool]]
_ANSWER_HANDLERS: dict[str, _AnswerHandler] = {
    "confirm_order_id": CustomerServiceSession._answer_read_back_question,
    "order_id": CustomerServiceSession._answer_order_id,
    "pick_order": CustomerServiceSession._answer_order_id,
    "email": CustomerServiceSession._answer_email,
    "confirm": CustomerServiceSession._answer_confirm,
    "anything_else": CustomerServiceSession._answer_anything_else,
    "complaint_detail": CustomerServiceSession._answer_complaint_detail,
    "product": CustomerServiceSession._answer_product,
}
