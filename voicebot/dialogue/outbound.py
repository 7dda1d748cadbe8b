"""The conversation when the bot calls the customer (an outbound campaign call).

Who the bot is and why it calls, then *who answered*: nothing about the order is said before
the person confirms they are the customer (by name; with ``identity: name_and_email`` also the
email on the account). Then the news, built by the same flows an inbound caller gets (a late
parcel or a customs hold is ``shipping_delay``; a damage claim gets its status and an offer to
reach a person), and every follow-up question goes to the ordinary session. "Stop calling me"
or 9 on the keypad, at any point, is recorded at once (``Note("outbound_opt_out")``) and ends
the call. A machine gets a short voicemail with no order detail (no name, no order, no reason).

The call's answering-machine detector (voicebot.outbound) speaks to this session through cues:
``amd`` (``{"label": "human" | "machine"}``) and ``voicemail`` (the greeting is over, speak
now). Without a detector (``extra["outbound"]["amd"]`` false) the bot introduces itself at once.
Outcomes are written as notes (``outbound_outcome``), which the call record keeps and the
campaign reads.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from datetime import date
from typing import Any

from voicebot.core import CallContext, HangUp, Note, Transfer

from .api import CallerTurn, DialogueReply
from .flows import ORDER_FLOWS, Flow, Out, Pending
from .guard import GuardContext
from .languages import packs
from .nlu_types import NluResult
from .orders import Customer, Order, OrderStoreError
from .session import CustomerServiceSession
from .templates import Templates

OUTBOUND_PREFIX = "ob_"  # the outbound call's templates in each pack's templates.yaml
NEWS_FLOW = {"late_parcel": "shipping_delay", "customs_hold": "shipping_delay"}
MAX_IDENTITY_TRIES = 2

# "Stop calling me" in every language pack (``opt_out_phrases`` in its pack.yaml; substring match
# on lower-cased text): any language, whichever the call is in, since a called customer may
# answer in their own.
OPT_OUT_PHRASES: dict[str, tuple[str, ...]] = {code: pack.opt_out_phrases for code, pack in packs().items()}
OPT_OUT_KEY = "9"
YES_KEY, NO_KEY = "1", "2"


def wants_no_calls(text: str, dtmf: str = "") -> bool:
    low = text.lower().replace("’", "'")
    return OPT_OUT_KEY in dtmf or any(p in low for phrases in OPT_OUT_PHRASES.values() for p in phrases)


@dataclass(frozen=True)
class OutboundCall:
    """What the campaign tells the call (``CallContext.extra["outbound"]``, JSON-safe)."""

    attempt: str
    customer_id: str
    order_id: str
    reason: str  # late_parcel | customs_hold | damage_case
    facts: dict[str, Any]
    amd: bool = False  # a detector will send cues; otherwise introduce at once
    identity: str = "name"
    leave_voicemail: bool = True
    callback_number: str | None = None

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> OutboundCall:
        d = dict(extra)
        return cls(attempt=str(d["attempt"]), customer_id=str(d["customer_id"]), order_id=str(d["order_id"]), reason=str(d["reason"]),
                   facts=dict(d.get("facts") or {}), amd=bool(d.get("amd")), identity=str(d.get("identity") or "name"),
                   leave_voicemail=bool(d.get("leave_voicemail", True)), callback_number=d.get("callback_number") or None)


class OutboundSession:
    """Implements :class:`voicebot.dialogue.api.DialogueSession` (plus ``on_cue``) for a call the bot placed."""

    def __init__(self, call: CallContext, inner: CustomerServiceSession, templates: Templates) -> None:
        self.call = call
        self.plan = OutboundCall.from_extra(call.extra["outbound"])
        self.inner = inner  # the ordinary session: flows, guard, follow-up questions
        self.templates = templates
        self.res = inner.res
        self.stage = "waiting" if self.plan.amd else "intro"  # waiting | identity | email | offer | conversation | done
        self.customer: Customer | None = None
        self.order: Order | None = None
        self.tries = 0
        self.intro_heard = False
        self.outcome: str | None = None
        self._expects_kw = "expecting" in inspect.signature(inner.nlu.understand).parameters

    @property
    def lang(self) -> str:
        return self.inner.state.lang

    # -- the DialogueSession interface -------------------------------------------------------
    async def greet(self) -> DialogueReply:
        if self.stage == "waiting":
            return self._reply(Out(), intent="outbound_waiting")  # the detector decides first
        return await self._intro()

    async def on_cue(self, name: str, data: dict[str, Any]) -> DialogueReply:
        if self.stage in ("done",):
            return self._reply(Out())
        if name == "amd" and data.get("label") == "human" and self.stage == "waiting":
            return await self._intro()
        if name == "voicemail" and self.stage in ("waiting", "identity") and not self.inner.state.verified:
            return self._voicemail(data)
        return self._reply(Out())  # "machine": wait for the cue that says the greeting is over

    async def respond(self, turn: CallerTurn) -> DialogueReply:
        if turn.language in self.res.languages:  # one the shop serves; otherwise go on in the current one
            self.inner.state.lang = turn.language
        text = turn.text.strip()
        if self.stage in ("waiting", "done"):
            self.inner.state.history.append({"role": "caller", "text": text, "dtmf": turn.dtmf, "before_intro": True})
            return self._reply(Out())
        if wants_no_calls(text, turn.dtmf):
            return self._opt_out(text, turn.dtmf)
        if self.stage == "identity":
            return await self._identity(turn, text)
        if self.stage == "email":
            return await self._email(turn, text)
        if self.stage == "offer":
            return await self._offer(turn, text)
        reply = await self.inner.respond(turn)
        if reply.transfer is not None or reply.hangup is not None:
            self.stage = "done"
        return reply

    def bot_was_interrupted(self, heard_text: str) -> None:
        self.inner.bot_was_interrupted(heard_text)

    # -- stages --------------------------------------------------------------------------------
    async def _load(self) -> None:
        if self.customer is None:
            self.customer = await self.res.store.find_customer(customer_id=self.plan.customer_id)
            self.order = await self.res.store.get_order(self.plan.order_id)

    async def _intro(self) -> DialogueReply:
        out = Out()
        try:
            await self._load()
        except OrderStoreError:
            self.customer = None
        if self.customer is None or self.order is None:  # nothing to call about: say nothing personal, end
            self.stage = "done"
            out.parts.append(self.templates.render("ob_wrong_person", self.lang))
            return self._end(out, "error", note={"problem": "customer or order not found"})
        self.stage = "identity"
        out.parts.append(self._t("ob_intro", name=self.customer.name))
        self.inner.state.allowed.add(self.customer.name)
        return self._reply(out, intent="outbound_intro")

    async def _understand(self, text: str, expecting: str) -> NluResult:
        if not text:
            return NluResult("out_of_scope", 0.0, self.lang)
        kwargs = {"expecting": expecting} if self._expects_kw else {}
        return await asyncio.to_thread(self.inner.nlu.understand, text, self.lang, **kwargs)

    async def _identity(self, turn: CallerTurn, text: str) -> DialogueReply:
        nlu = await self._understand(text, "confirmation")
        yes = YES_KEY in turn.dtmf or (not turn.dtmf and nlu.intent == "affirm")
        no = NO_KEY in turn.dtmf or (not turn.dtmf and nlu.intent == "deny")
        out = Out()
        if no:
            out.parts.append(self._t("ob_wrong_person"))
            return self._end(out, "wrong_person")
        if nlu.intent == "human_agent" and not yes:
            return self._end_transfer(out, "caller_asked", "transfer_caller_asked")
        if not yes:
            self.tries += 1
            if self.tries > MAX_IDENTITY_TRIES:
                out.parts.append(self._t("ob_unverified"))
                return self._end(out, "unverified")
            # A "hello?" that crossed the introduction, or a "who is this?": say it again.
            out.parts.append(self._t("ob_intro" if nlu.intent == "greeting" else "ob_ask_again", name=self.customer.name))  # type: ignore[union-attr]
            return self._reply(out, intent="outbound_identity")
        if self.plan.identity == "name_and_email":
            self.stage, self.tries = "email", 0
            f = Flow(self.inner.state, self.res, out)
            f.ask("ask_email", Pending("email"))
            return self._reply(out, intent="outbound_identity")
        return await self._verified(out, "outbound_name")

    async def _email(self, turn: CallerTurn, text: str) -> DialogueReply:
        nlu = await self._understand(text, "email")
        email = str(nlu.slots.get("email") or "").strip().lower()
        out = Out()
        if email and self.customer is not None and email == self.customer.email.lower():
            return await self._verified(out, "outbound_email")
        self.tries += 1
        out.actions.append(Note("identity_failed", {"attempts": self.tries, "method": "outbound_email"}))
        if self.tries >= MAX_IDENTITY_TRIES:
            out.parts.append(self._t("ob_unverified"))
            return self._end(out, "unverified")
        f = Flow(self.inner.state, self.res, out)
        f.say("identity_failed")
        f.ask("ask_email", Pending("email"))
        return self._reply(out, intent="outbound_identity")

    async def _verified(self, out: Out, method: str) -> DialogueReply:
        """The person is the customer: prime the ordinary session, then give the news."""
        st, c, order = self.inner.state, self.customer, self.order
        assert c is not None and order is not None
        st.customer, st.verified, st.verified_by, st.order = c, True, method, order
        st.pending = None
        st.allowed.update({c.email, c.phone})
        if order.id not in st.orders_discussed:
            st.orders_discussed.append(order.id)
        out.actions.append(Note("identity_verified", {"method": method, "customer_id": c.id}))
        out.parts.append(self._t("ob_thanks", name=c.name))
        f = Flow(st, self.res, out)
        f.allow_order(order)
        self.stage = "conversation"
        if self.plan.reason == "damage_case":
            ref = str(self.plan.facts.get("case", ""))
            st.allowed.add(ref)
            opened = self.plan.facts.get("opened")
            out.parts.append(self._t("ob_why_damage_case", date=f.date(date.fromisoformat(opened)) if opened else "?", reference=ref))
            out.parts.append(self._t("ob_damage_offer"))
            self.stage = "offer"
        else:
            out.parts.append(self._t(f"ob_why_{self.plan.reason}"))
            await ORDER_FLOWS[NEWS_FLOW.get(self.plan.reason, "order_status")](f, order)
        out.actions.append(Note("outbound_outcome", {"outcome": "reached", "reason": self.plan.reason, "order_id": order.id}))
        self.outcome = "reached"
        return self._reply(out, intent="outbound_news")

    async def _offer(self, turn: CallerTurn, text: str) -> DialogueReply:
        nlu = await self._understand(text, "confirmation")
        out = Out()
        if YES_KEY in turn.dtmf or nlu.intent in ("affirm", "human_agent"):
            return self._end_transfer(out, "outbound_follow_up", "transfer_caller_asked")
        self.stage = "conversation"
        if nlu.intent == "deny" or NO_KEY in turn.dtmf:
            f = Flow(self.inner.state, self.res, out)
            f.say_kb("damaged_claim")
            f.close()
            return self._reply(out, intent="deny")
        return await self.inner.respond(turn)

    def _opt_out(self, text: str, dtmf: str) -> DialogueReply:
        out = Out()
        out.actions.append(Note("outbound_opt_out", {"customer_id": self.plan.customer_id, "said": text[:200], "dtmf": dtmf}))
        out.parts.append(self._t("ob_opted_out"))
        return self._end(out, "opted_out")

    def _voicemail(self, data: dict[str, Any]) -> DialogueReply:
        out = Out()
        if not self.plan.leave_voicemail:
            return self._end(out, "machine", note={"left": False})
        cb = self.plan.callback_number
        if cb:
            self.inner.state.allowed.add(cb)
        out.parts.append(self._t("ob_voicemail", callback=cb) if cb else self._t("ob_voicemail_no_number"))
        return self._end(out, "voicemail_left", note={"after": data.get("after", "")})

    # -- endings and bookkeeping ---------------------------------------------------------------
    def _end(self, out: Out, outcome: str, note: dict[str, Any] | None = None) -> DialogueReply:
        self.stage, self.outcome = "done", outcome
        self.inner.state.ended = True
        out.actions.append(Note("outbound_outcome", {"outcome": outcome, **(note or {})}))
        out.actions.append(HangUp(f"outbound_{outcome}"))
        return self._reply(out, intent=f"outbound_{outcome}")

    def _end_transfer(self, out: Out, reason: str, template: str) -> DialogueReply:
        self.stage = "done"
        st = self.inner.state
        st.ended = True
        line = Flow(st, self.res, out).say(template)
        out.actions.append(Transfer(reason=reason, queue=st.lang, context=self.inner.context_packet(reason, pending_line=line)))
        return self._reply(out, intent="human_agent")

    def _t(self, key: str, **values: Any) -> str:
        return self.templates.render(key, self.lang, shop=self.res.shop_name, **values)

    def _reply(self, out: Out, intent: str | None = None) -> DialogueReply:
        """Guard and history, as the ordinary session does for its own replies."""
        text = " ".join(p.strip() for p in out.parts if p.strip())
        actions = list(out.actions)
        if text:
            st = self.inner.state
            ctx = GuardContext(frozenset(st.allowed), self.inner.policy_numbers, self.inner.options.allowed_domains)
            verdict = self.inner.guard.check(text, self.lang, ctx)
            if not verdict.ok:
                actions.append(Note("guard_blocked", {"findings": list(verdict.blocked)}))
                text = verdict.text
            st.history.append({"role": "bot", "text": text})
        return DialogueReply(text=text, language=self.lang, actions=tuple(actions), intent=intent)


def load_outbound_templates() -> Templates:
    """The outbound call's templates alone (``ob_*`` in the language packs' templates.yaml)."""
    every = Templates.load()
    return Templates({k: v for k, v in every.table.items() if k.startswith(OUTBOUND_PREFIX)}, every.source, every.fallback)
