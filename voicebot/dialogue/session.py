"""One call's dialogue: understands each caller turn, runs the flows, guards what is said,
and decides when a person must take over."""

from __future__ import annotations

import asyncio
import copy
import inspect
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

    async def answer(self, question: str, lang: str, session: DialogueSessionImpl) -> str | None: ...

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


class DialogueSessionImpl(OrderTasks):
    """Implements :class:`voicebot.dialogue.api.DialogueSession`."""

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
        f = Flow(self.state, self.res, out)
        if custom := self.greetings.get(self.state.lang):
            out.parts.append(custom.format(shop=self.res.shop_name, name=self.call.customer_name or ""))
        elif self.call.customer_name:
            f.say("greeting_named", name=self.call.customer_name)
        else:
            f.say("greeting")
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
        f = Flow(self.state, self.res, out)
        try:
            await self._handle(f, nlu, text)
        except OrderStoreError as exc:
            log.error("order store failed: %s", exc, extra={"call_id": self.call.call_id})
            out.parts.clear()
            self._transfer(f, "system_error", "transfer_system_error")
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
        p = self.state.pending
        if p and p.kind in ("confirm", "confirm_order_id", "anything_else") and p.prompt and p.prompt.strip() not in heard_text:
            # The caller did not hear the question, so a "yes" now must not carry out the action.
            self.state.pending = None

    # -- understanding -------------------------------------------------------------------------
    async def _understand(self, text: str, turn: CallerTurn) -> NluResult:
        p = self.state.pending
        expecting = {"order_id": "order_id", "pick_order": "order_id", "email": "email", "confirm": "confirmation",
                     "confirm_order_id": "confirmation", "anything_else": "confirmation"}.get(p.kind) if p else None
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
    async def _handle(self, f: Flow, nlu: NluResult, text: str) -> None:
        st, o = self.state, self.options
        st.frustration = st.frustration / 2 + nlu.frustration
        if nlu.intent == "human_agent":
            return self._transfer(f, "caller_asked", "transfer_caller_asked")
        angry = nlu.sentiment == "angry" and nlu.frustration >= o.frustration_angry
        if nlu.escalate or angry or nlu.frustration >= o.frustration_turn or st.frustration >= o.frustration_total:
            return self._transfer(f, "frustration", "transfer_frustration")
        if nlu.intent == "goodbye":
            return self._goodbye(f)
        if st.pending:
            before = st.misunderstood_in_row
            if await self._continue(f, nlu, text, st.pending):
                if st.misunderstood_in_row == before:  # a real answer, not a repeated question
                    st.misunderstood_in_row = 0
                return
        if nlu.slots.get("order_id") and nlu.intent in ("greeting", "affirm", "thanks", "out_of_scope"):
            # A bare order number ("hi, order 4 5 7 1 2?") means: look this order up.
            nlu = replace(nlu, intent="order_status", confidence=max(nlu.confidence, o.min_confidence))
        understood = nlu.intent != "out_of_scope" and nlu.confidence >= o.min_confidence
        if not understood and find_product(f, str(nlu.slots.get("product_hint", "")), text):
            # Unclassified, but it names one of our products: answer about that product.
            nlu = replace(nlu, intent="product_question", confidence=o.min_confidence)
            understood = True
        if not understood:
            return await self._not_understood(f, nlu, text)
        st.misunderstood_in_row = 0 if nlu.intent != "product_question" else st.misunderstood_in_row
        await self._dispatch(f, nlu, text)

    async def _dispatch(self, f: Flow, nlu: NluResult, text: str) -> None:
        intent = nlu.intent
        st = self.state
        st.pending = None
        if intent in ORDER_FLOWS:
            f.say(f"ack_{intent}")
            return await self._order_task(f, intent, {**nlu.slots, "_text": text})
        if intent == "product_question":
            answer = await product_question(f, str(nlu.slots.get("product_hint", "")), text)
            if answer == "missing":
                return self._fact_not_known(f, nlu, text)
            if answer == "answered":
                return
            if self.llm and await self._ask_llm(f, text):
                return
            # No product we know: that is a failure to help, and two in a row go to a person.
            st.misunderstood_in_row += 1
            if st.misunderstood_in_row >= self.options.max_misunderstood:
                f.out.parts.clear()
                self._transfer(f, "not_understood", "transfer_not_understood")
            return
        if intent == "payment_issue":
            f.say("ack_payment_issue")
            f.say_kb("duplicate_charge")
            f.say_kb("payment_security")
            return self._transfer(f, "policy", "transfer_billing", queue="billing")
        if intent == "complaint":
            st.complaints += 1
            if st.complaints >= 2:
                return self._transfer(f, "complaint", "transfer_policy")
            return f.ask("complaint_ack", Pending("complaint_detail", intent="complaint"))
        if intent == "greeting":
            f.say("how_can_help")
            return
        if intent == "thanks":
            f.say("welcome")
            return f.close()
        if intent in ("affirm", "deny"):  # nothing was asked: treat as a fresh start
            f.say("how_can_help")
            return
        await self._not_understood(f, nlu, text)

    async def _continue(self, f: Flow, nlu: NluResult, text: str, p: Pending) -> bool:
        """Interpret the turn as the answer to the bot's last question. False: not an answer."""
        st, slots = self.state, nlu.slots
        if p.kind == "confirm_order_id":
            return await self._answer_read_back(f, nlu, p)
        if p.kind in ("order_id", "pick_order"):
            oid = slots.get("order_id")
            if not oid and p.kind == "pick_order":
                oid = self._pick_by_product(f, p, str(slots.get("product_hint", "")), text)
            if oid:
                st.pending = None
                await self._order_task(f, p.intent or "order_status", {**slots, "order_id": oid})
                return True
            if nlu.intent in TASK_INTENTS:
                return False
            return self._reask(f, p)
        if p.kind == "email":
            email, phone = slots.get("email"), slots.get("phone")
            if email or phone:
                st.pending = None
                await self._check_identity_answer(f, p, email, phone)
                return True
            if nlu.intent in TASK_INTENTS:
                return False
            return self._reask(f, p)
        if p.kind == "confirm":
            if nlu.intent == "affirm":
                st.pending = None
                await self._confirmed(f, p)
                return True
            if nlu.intent == "deny":
                st.pending = None
                f.say("no_action")
                f.close()
                return True
            if nlu.intent in TASK_INTENTS and nlu.intent != p.intent:
                return False
            return self._reask(f, p)
        if p.kind == "anything_else":
            if nlu.intent in ("deny", "thanks"):
                if nlu.intent == "thanks":
                    f.say("welcome")
                self._goodbye(f)
                return True
            if nlu.intent in ("affirm", "greeting"):
                st.pending = None
                f.say("how_can_help")
                return True
            return False
        if p.kind == "complaint_detail":
            if nlu.intent in TASK_INTENTS and nlu.intent != "complaint":
                return False
            st.complaints += 1
            self._transfer(f, "complaint", "transfer_policy")
            return True
        if p.kind == "product":
            if find_product(f, str(slots.get("product_hint", "")), text):
                st.pending = None
                if await product_question(f, str(slots.get("product_hint", "")), text, p.choices) == "missing":
                    self._fact_not_known(f, nlu, text)
                return True
            return False
        return False

    def _reask(self, f: Flow, p: Pending) -> bool:
        self.state.misunderstood_in_row += 1
        if self.state.misunderstood_in_row >= self.options.max_misunderstood:
            self._transfer(f, "not_understood", "transfer_not_understood")
            return True
        f.out.parts.append(p.prompt)
        return True

    async def _not_understood(self, f: Flow, nlu: NluResult, text: str) -> None:
        st = self.state
        st.misunderstood_in_row += 1
        if st.misunderstood_in_row >= self.options.max_misunderstood:
            return self._transfer(f, "not_understood", "transfer_not_understood")
        if self.llm and text and await self._ask_llm(f, text):
            st.misunderstood_in_row = 0
            return
        st.pending = None
        f.say("not_understood")

    async def _ask_llm(self, f: Flow, text: str) -> bool:
        try:
            answer = await self.llm.answer(text, self.state.lang, self) if self.llm else None
        except Exception as exc:  # noqa: BLE001 - the built-in path must keep working if the LLM fails
            log.warning("llm backend failed: %r", exc, extra={"call_id": self.call.call_id})
            answer = None
        if not answer:
            return False
        f.out.parts.clear()
        f.out.parts.append(answer)
        f.note("llm_answer", chars=len(answer))
        return True

    async def _confirmed(self, f: Flow, p: Pending) -> None:
        st = self.state
        if st.order is None or p.action not in CONFIRM_ACTIONS:
            f.say("how_can_help")
            return
        action, kind = CONFIRM_ACTIONS[p.action]
        existing = [c for c in await self.res.store.cases_for_order(st.order.id) if c.kind == kind]
        if existing:
            # Policy: a second claim of the same kind on one order is reviewed by a person.
            f.note("repeat_case", order_id=st.order.id, kind=kind, existing=[c.reference for c in existing])
            return self._transfer(f, "policy", "transfer_policy")
        await action(f, st.order)

    # -- endings ------------------------------------------------------------------------------
    def _goodbye(self, f: Flow) -> None:
        self.state.pending = None
        self.state.ended = True
        f.say("goodbye")
        f.out.actions.append(HangUp("completed"))

    def _fact_not_known(self, f: Flow, nlu: NluResult, text: str) -> None:
        """The catalogue does not state what was asked: say so and pass the caller on."""
        pid = find_product(f, str(nlu.slots.get("product_hint", "")), text)
        name = self.res.kb.name(pid, self.state.lang) if pid else ""
        self._transfer(f, "product_question", "product_fact_unknown", product=name)

    def _transfer(self, f: Flow, reason: str, template: str, queue: str | None = None, **values: Any) -> None:
        st = self.state
        st.pending = None
        st.ended = True
        line = f.say(template, **values)
        context = self.context_packet(reason, pending_line=line)
        f.out.actions.append(Transfer(reason=reason, queue=queue or st.lang, context=context))

    def context_packet(self, reason: str, pending_line: str = "") -> ContextPacket:
        """Everything the human agent needs so the caller does not repeat themselves."""
        st = self.state
        c = st.customer
        bot_said = [h["text"] for h in st.history if h["role"] == "bot"] + ([pending_line] if pending_line else [])
        sentiment = st.sentiments[-1] if st.sentiments else "neutral"
        intents = [i for i in st.intents if i not in ("affirm", "deny", "out_of_scope")]
        summary = (f"{c.name if c and st.verified else (self.call.caller_number or 'unknown caller')} ({st.lang}), "
                   f"{'verified by ' + str(st.verified_by) if st.verified else 'identity not verified'}; "
                   f"asked about: {', '.join(dict.fromkeys(intents)) or 'nothing clear'}; "
                   f"orders: {', '.join(st.orders_discussed) or 'none'}; "
                   f"created: {', '.join(x.reference for x in st.cases) or 'nothing'}; transfer reason: {reason}.")
        caller = CallerCard(number=self.call.caller_number, customer_id=c.id if c else None,
                            name=c.name if c and st.verified else self.call.customer_name,
                            verified=st.verified, verified_by=st.verified_by if st.verified else None)
        return ContextPacket(
            reason=reason,
            caller=caller,
            language=st.lang,
            transcript=[dict(h) for h in st.history],
            intents=list(st.intents),
            orders=list(st.orders_discussed),
            cases=[{"reference": x.reference, "kind": x.kind, "order_id": x.order_id} for x in st.cases],
            sentiment=sentiment,
            frustration=round(st.frustration, 2),
            bot_said=bot_said,
            promised=list(dict.fromkeys(st.promises)),
            summary=summary,
        )

    # -- guard and bookkeeping ----------------------------------------------------------------
    def _finish(self, out: Out, nlu: NluResult | None = None, intent: str | None = None) -> DialogueReply:
        text = " ".join(p.strip() for p in out.parts if p.strip())
        verdict = self.guard.check(text, self.state.lang, self._guard_context())
        actions = list(out.actions)
        if not verdict.ok:
            log.warning("guard blocked a reply", extra={"call_id": self.call.call_id, "findings": list(verdict.blocked)})
            actions.append(Note("guard_blocked", {"findings": list(verdict.blocked)}))
            text = verdict.text
        self.state.history.append({"role": "bot", "text": text})
        p = self.state.pending
        expect = EXPECT_BY_PENDING.get(p.kind) if p is not None and not self.state.ended else None
        return DialogueReply(text=text, language=self.state.lang, actions=tuple(actions), intent=nlu.intent if nlu else intent,
                             slots=dict(nlu.slots) if nlu else {}, sentiment=nlu.sentiment if nlu else None, expect=expect)
