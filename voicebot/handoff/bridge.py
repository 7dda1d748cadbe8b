"""The hand-off bridge: route a transferred caller, offer them to agents, connect, follow up.

A channel hands over a :class:`CallHandle` (what can be done to the caller's call) and the
dialogue's :class:`~voicebot.dialogue.api.Transfer`. Everything between processes goes
through the shared state's events, so an agent whose desk is served by another bot process
can accept a call this process holds (with :class:`~.state.RedisState`).

Modes once an agent accepts:
- ``voice``: the channel connects the caller to the agent's phone/SIP/WebRTC (Twilio ``<Dial>``
  on the queued call, SIP REFER or the bot's own call to the agent (attended), the agent joining
  the in-app session);
- ``relay``: the bot stays on the line — the caller's words go to the desk (translated where it
  can), the agent's typed replies are spoken by the bot in the caller's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from voicebot.core import ContextPacket, Transfer
from voicebot.logs import get_logger

from .hours import say_when
from .routing import (
    Agent,
    Decision,
    QueueStats,
    RouteRequest,
    RoutingOptions,
    caller_message,
    route,
)
from .state import LIVE_STATES, OPEN_STATES, HandoffState, Ticket
from .translate import TextTranslator, Translator

log = get_logger(__name__)


class CallHandle(Protocol):
    """The channel side of one handed-off call."""

    call_id: str
    channel: str
    caller_number: str | None

    async def say(self, text: str, language: str) -> None:
        """The bot speaks to the caller (a no-op where the bot has left the media path)."""

    async def hold(self, ticket: Ticket) -> bool:
        """Hold the caller the channel's way; True if the bot left the media path (Twilio <Enqueue>)."""

    async def connect_voice(self, agent: Agent) -> bool:
        """Connect the caller's audio to ``agent`` (Dial/REFER/join); False if not possible here."""

    async def back_to_bot(self) -> None:
        """The dialogue takes the caller again."""

    async def end(self, reason: str) -> None: ...

    # Optional (``getattr``): ``note(what, **data)`` records a hand-off step on the call (the call
    # record's actions, the widget's state); ``say_as_agent(text, language, agent_name)`` speaks an
    # agent's typed line so the call record and the widget show it as the agent's, not the bot's;
    # ``voice`` False for a call with no audio from the caller (a typed web session: no voicemail).


def note(handle: CallHandle, what: str, **data: Any) -> None:
    """Tell the call about a hand-off step (offered, accepted, left_queue, no_agent ...), where the channel records them."""
    fn = getattr(handle, "note", None)
    if fn is None:
        return
    try:
        fn(what, **data)
    except Exception:  # the record missing a step must not break the hand-off
        log.exception("hand-off step not noted on the call", extra={"call_id": handle.call_id, "what": what})


@dataclass(frozen=True)
class BridgeOptions:
    routing: RoutingOptions = field(default_factory=RoutingOptions)
    max_offers: int = 3  # agents tried before the caller goes back to the bot


Sleep = Callable[[float], Any]  # awaitable sleep (asyncio.sleep, or a virtual clock's)


class HandoffBridge:
    def __init__(self, state: HandoffState, options: BridgeOptions = BridgeOptions(), *, translator: Translator | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), sleep: Sleep = asyncio.sleep) -> None:
        self.state = state
        self.options = options
        self.translator = translator or TextTranslator()
        self.now = now
        self.sleep = sleep
        self.handles: dict[str, CallHandle] = {}  # calls this process holds
        self._accepted: dict[str, asyncio.Future[str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listener: asyncio.Task[None] | None = None
        self.stats = QueueStats()
        self.marks: dict[str, dict[str, float]] = {}  # call_id -> monotonic times (requested, offered, accepted, bridged)
        self.voicemail: Any = None  # a .voicemail_call.VoicemailService takes messages outside hours (set by voicemail_routes)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._listener is None:
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(ready), name="handoff-events")
            await ready.wait()

    async def stop(self) -> None:
        for task in [*self._tasks.values(), *([self._listener] if self._listener else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._listener = None

    async def _listen(self, ready: asyncio.Event) -> None:
        events = self.state.subscribe()
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)  # the subscription is registered once the generator has started
        ready.set()
        while True:
            event = await first
            try:
                await self._on_event(event)
            except Exception:
                log.exception("handoff event failed", extra={"call_id": event.get("call_id"), "type": event.get("type")})
            first = asyncio.ensure_future(events.__anext__())

    async def _on_event(self, event: dict[str, Any]) -> None:
        """Act on events for calls this process holds (accepts and replies may come from any process)."""
        call_id = event.get("call_id", "")
        handle = self.handles.get(call_id)
        if handle is None:
            return
        kind = event.get("type")
        if kind == "accepted":
            fut = self._accepted.get(call_id)
            if fut is not None and not fut.done():
                fut.set_result(event["agent_id"])
        elif kind == "agent_text":
            speak_as = getattr(handle, "say_as_agent", None)
            if speak_as is not None and event.get("agent_name"):
                await speak_as(event["spoken"], event["language"], event["agent_name"])
            else:
                await handle.say(event["spoken"], event["language"])
        elif kind == "release":
            await self._release(call_id, event.get("back_to_bot", False), event.get("reason", "agent_ended"))

    # ---- the hand-off ------------------------------------------------------------------------
    async def request(self, handle: CallHandle, transfer: Transfer, language: str) -> Ticket:
        """A caller asked for (or needs) a person: route, tell them, and start offering."""
        call_id = handle.call_id
        self.handles[call_id] = handle
        self.marks[call_id] = {"requested": time.monotonic()}
        queue_skill = transfer.queue if transfer.queue not in (language, "general") else None
        packet = transfer.context or ContextPacket()  # the minimal dialogue sends none
        ticket = Ticket(call_id=call_id, channel=handle.channel, language=language, queue=transfer.queue,
                        context=replace(packet, reason=packet.reason or transfer.reason))
        ticket.log("requested", reason=transfer.reason)
        others = [t for t in await self.state.tickets() if t.state in OPEN_STATES and t.queue == ticket.queue]
        req = RouteRequest(call_id, language, queue_skill, handle.caller_number, position=len(others))
        decision = route(req, await self.state.agents(), self.now(), self.stats.options(self.options.routing))
        ticket.queue, ticket.wait_s = decision.queue, decision.wait_s
        ticket.translated = decision.kind == "agent_translated"
        ticket.log("routed", decision=decision.kind, agents=list(decision.agents), wait_s=decision.wait_s, reason=decision.reason)
        if decision.kind in ("callback", "voicemail"):
            return await self._nobody(handle, ticket, decision)
        note(handle, "queued", queue=decision.queue, wait_s=decision.wait_s, translated=ticket.translated)
        text, lang = caller_message(decision.kind, language, wait_s=decision.wait_s)
        await handle.say(text, lang)
        await self.state.put_ticket(ticket)
        self._accepted[call_id] = asyncio.get_running_loop().create_future()
        self._tasks[call_id] = asyncio.create_task(self._offer(handle, ticket, decision, req), name=f"handoff-{call_id}")
        return ticket

    async def _nobody(self, handle: CallHandle, ticket: Ticket, decision: Decision) -> Ticket:
        """Nobody can take the call now: a voicemail, a callback request, or the bot keeps helping —
        said to the caller with when the team is back, noted on the call, and logged with the reason."""
        now = self.now()
        instead = self._instead(handle, decision.kind)
        next_open = decision.next_open.isoformat(timespec="minutes") if decision.next_open else None
        ticket.next_open = next_open
        ticket.log("no_agent", reason=decision.reason, instead=instead, next_open=next_open)
        log.info(f"{decision.reason}: {instead} instead", extra={
            "call_id": ticket.call_id, "queue": decision.queue, "next_open": next_open, "instead": instead, "channel": handle.channel})
        note(handle, "no_agent", queue=decision.queue, instead=instead, next_open=next_open, why=decision.reason)
        back = ""
        if decision.next_open is not None:
            when, _ = say_when(decision.next_open, now, ticket.language)
            back = " " + caller_message("back_at", ticket.language, when=when)[0]
        if instead == "voicemail":
            return await self._voicemail(handle, ticket)
        ticket.state = "callback" if instead == "callback" else "returned"
        await self.state.put_ticket(ticket)
        await self._publish("ticket", ticket)
        text, lang = caller_message("callback" if instead == "callback" else "closed_bot", ticket.language)
        await handle.say(text + back, lang)
        self.handles.pop(ticket.call_id, None)
        await handle.back_to_bot()  # nobody will pick up this call: the bot keeps helping meanwhile
        return ticket

    def _instead(self, handle: CallHandle, kind: str) -> str:
        """What happens for a caller nobody can take now: ``voicemail``, ``callback`` or ``bot``."""
        can_record = getattr(handle, "voice", True) and self.voicemail is not None
        if can_record and self.voicemail.wanted(kind):
            return "voicemail"
        return "callback" if kind == "callback" else "bot"

    async def _voicemail(self, handle: CallHandle, ticket: Ticket) -> Ticket:
        """Outside hours: the caller leaves a message, or (recording not allowed for them) a callback request."""
        record = self.voicemail.allowed(handle)
        ticket.state = "voicemail" if record else "callback"
        ticket.log(ticket.state, reason=None if record else "recording_disabled")
        await self.state.put_ticket(ticket)
        await self._publish("ticket", ticket)
        self.voicemail.start(handle, ticket, self.state, record=record)  # prompt, beep, message, thanks, hang-up: in a task
        self.handles.pop(ticket.call_id, None)
        return ticket

    async def _offer(self, handle: CallHandle, ticket: Ticket, decision: Decision, req: RouteRequest) -> None:
        call_id = ticket.call_id
        tried: set[str] = set()
        left_path = await handle.hold(ticket)
        if left_path:
            ticket.mode = "voice"
        while True:
            fut = self._accepted[call_id]
            agent_id = decision.agents[0] if decision.kind in ("agent", "agent_translated") and decision.agents else None
            t = await self.state.get_ticket(call_id)
            if t is None or t.state not in OPEN_STATES:
                if t is not None and t.state == "accepted":
                    return await self._connect(handle, t)
                return
            t.state, t.offered_to = ("offered", agent_id) if agent_id else ("queued", None)
            t.log("offered" if agent_id else "queued", agent=agent_id)
            if agent_id:
                note(handle, "offered", agent=agent_id, agent_name=await self._name(agent_id))
            await self.state.put_ticket(t)
            self.marks[call_id].setdefault("offered", time.monotonic())
            await self._publish("ticket", t)
            timeout = self.options.routing.offer_timeout_s
            winner = await self._wait(fut, timeout if agent_id else None)
            if winner is not None:
                t = await self.state.get_ticket(call_id)
                assert t is not None
                return await self._connect(handle, t)
            # the offered agent never answered
            assert agent_id is not None
            tried.add(agent_id)
            t = await self.state.get_ticket(call_id)
            if t is None or t.state not in OPEN_STATES:
                if t is not None and t.state == "accepted":  # accepted in the last instant
                    return await self._connect(handle, t)
                return
            t.log("offer_timeout", agent=agent_id)
            note(handle, "offer_timeout", agent=agent_id)
            await self.state.put_ticket(t)
            log.info("agent did not answer", extra={"call_id": call_id, "agent": agent_id})
            req = replace(req, exclude=frozenset(tried))
            decision = route(req, await self.state.agents(), self.now(), self.options.routing)
            if len(tried) >= self.options.max_offers or decision.kind not in ("agent", "agent_translated", "queue"):
                t.state = "returned"
                t.log("back_to_bot", after=sorted(tried))
                note(handle, "returned", why="no_answer", tried=sorted(tried))
                await self.state.put_ticket(t)
                await self._publish("ticket", t)
                text, lang = caller_message("back_to_bot", ticket.language)
                await handle.say(text, lang)
                await handle.back_to_bot()
                self.handles.pop(call_id, None)
                return
            t.translated = decision.kind == "agent_translated"
            await self.state.put_ticket(t)
            text, lang = caller_message("timeout", ticket.language)
            await handle.say(text, lang)

    async def _wait(self, fut: asyncio.Future[str], timeout: float | None) -> str | None:
        if timeout is None:
            return await fut
        sleeper = asyncio.ensure_future(self.sleep(timeout))
        done, _ = await asyncio.wait({fut, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        return fut.result() if fut in done else None

    async def _connect(self, handle: CallHandle, t: Ticket) -> None:
        call_id = t.call_id
        self.marks[call_id]["accepted"] = time.monotonic()
        agent = await self.state.get_agent(t.agent_id or "")
        assert agent is not None, "accepted by an unknown agent"
        note(handle, "accepted", agent=agent.id, agent_name=agent.name)
        voice = bool(agent.contact) and await handle.connect_voice(agent)
        t.mode = "voice" if voice else "relay"
        t.agent_name = agent.name
        note(handle, "bridged", agent=agent.id, agent_name=agent.name, mode=t.mode,
             translated=t.translated and t.language not in agent.languages, language=agent.working_language(t.language))
        if not voice:
            text, lang = caller_message("connected", t.language, name=agent.name)
            await handle.say(text, lang)
        t.state = "bridged"
        t.log("bridged", agent=agent.id, mode=t.mode)
        await self.state.put_ticket(t)
        self.marks[call_id]["bridged"] = time.monotonic()
        await self._publish("ticket", t)

    # ---- desk actions (any process) ------------------------------------------------------------
    async def accept(self, call_id: str, agent: Agent) -> bool:
        """The desk's accept; exactly one of several agents accepting the same call gets True."""
        t = await self.state.get_ticket(call_id)
        if t is None or not (t.language in agent.languages or agent.translation):
            return False
        if not await self.state.claim(call_id, agent.id):
            return False
        await self.state.change_load(agent.id, +1)
        await self.state.publish({"type": "accepted", "call_id": call_id, "agent_id": agent.id})
        return True

    async def agent_text(self, call_id: str, agent: Agent, text: str) -> dict[str, Any]:
        """The agent typed a reply: the bot speaks it to the caller in the caller's language."""
        t = await self.state.get_ticket(call_id)
        if t is None or t.agent_id != agent.id or t.state != "bridged":
            raise PermissionError("this call is not yours or no longer live")
        lang = agent.working_language(t.language)  # a Spanish-speaking agent types Spanish to a Spanish caller
        tr = await self.translator.text(text, lang, t.language)
        spoken, note = (tr.text, tr.notice) if tr.text else (text, tr.notice)
        line = {"role": "agent", "agent_id": agent.id, "agent_name": agent.name, "text": text, "language": lang, "spoken": spoken,
                "note": note, "t": time.time()}
        await self._append(t, line)
        await self.state.publish({"type": "agent_text", "call_id": call_id, "spoken": spoken, "language": t.language,
                                  "agent_id": agent.id, "agent_name": agent.name})
        return line

    async def release(self, call_id: str, agent: Agent, back_to_bot: bool) -> None:
        """The agent ends the call, or sends the caller back to the bot."""
        t = await self.state.get_ticket(call_id)
        if t is None or (t.agent_id != agent.id and not agent.supervisor):
            raise PermissionError("this call is not yours")
        await self.state.publish({"type": "release", "call_id": call_id, "back_to_bot": back_to_bot, "reason": "agent_ended"})

    async def agent_gone(self, agent_id: str) -> None:
        """An agent's desk disconnected: their live calls go back to the queue or the bot, caller told."""
        for t in await self.state.tickets():
            if t.agent_id == agent_id and t.state in ("accepted", "bridged"):
                await self.state.publish({"type": "release", "call_id": t.call_id, "back_to_bot": True, "reason": "agent_left"})

    async def _release(self, call_id: str, back_to_bot: bool, reason: str) -> None:
        handle = self.handles.pop(call_id, None)
        t = await self.state.get_ticket(call_id)
        if t is None or handle is None:
            return
        if t.agent_id:
            await self.state.change_load(t.agent_id, -1)
            if "bridged" in self.marks.get(call_id, {}):
                self.stats.add(time.monotonic() - self.marks[call_id]["bridged"])
        t.state = "returned" if back_to_bot else "ended"
        t.log(reason, back_to_bot=back_to_bot)
        note(handle, "returned" if back_to_bot else "ended", why=reason, agent=t.agent_id, agent_name=t.agent_name)
        await self.state.put_ticket(t)
        await self._publish("ticket", t)
        if back_to_bot:
            if reason == "agent_left":
                text, lang = caller_message("agent_left", t.language)
                await handle.say(text, lang)
            await handle.back_to_bot()
        else:
            await handle.end(reason)

    # ---- the caller's side ---------------------------------------------------------------------
    async def caller_said(self, call_id: str, text: str, language: str, audio: Any = None) -> None:
        """A caller turn after the hand-off (relay mode): to the desk, translated where possible —
        for an agent who reads English, the caller's own speech (``audio``, 16 kHz) by Whisper."""
        t = await self.state.get_ticket(call_id)
        if t is None or t.state not in LIVE_STATES or not text:
            return
        agent = await self.state.get_agent(t.agent_id) if t.agent_id else None
        target = agent.working_language(language) if agent else language  # no agent yet: the desk shows it as said
        tr = await self.translator.text(text, language, target)
        if tr.method == "none" and target == "en" and audio is not None and len(audio):
            heard = await self.translator.speech_to_english(audio, language)
            tr = heard if heard.text else replace(tr, notice=heard.notice or tr.notice)
        await self._append(t, {"role": "caller", "text": text, "language": language, "translation": tr.text if tr.text != text else None,
                               "note": tr.notice, "t": time.time()})

    async def caller_hung_up(self, call_id: str, reason: str = "caller_hung_up") -> None:
        """The caller left (or, bridged through the bot, either side hung up: ``reason``): a
        queued ticket is removed from the queue (kept as ``abandoned``), a live one ends."""
        task = self._tasks.pop(call_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        handle = self.handles.pop(call_id, None)
        t = await self.state.get_ticket(call_id)
        if t is None:
            return
        if t.state in OPEN_STATES:
            t.state = "abandoned"
            if handle is not None:  # before anyone accepted: the call record says the caller left the queue
                note(handle, "left_queue", queue=t.queue, offered_to=t.offered_to)
        elif t.state in ("accepted", "bridged"):
            t.state = "ended"
            if t.agent_id:
                await self.state.change_load(t.agent_id, -1)
        else:
            return
        t.log(reason)
        await self.state.put_ticket(t)
        await self._publish("ticket", t)

    async def _append(self, t: Ticket, line: dict[str, Any]) -> None:
        fresh = await self.state.get_ticket(t.call_id) or t
        fresh.transcript.append(line)
        await self.state.put_ticket(fresh)
        await self.state.publish({"type": "line", "call_id": t.call_id, "agent_id": fresh.agent_id, "line": line})

    async def _publish(self, kind: str, t: Ticket) -> None:
        await self.state.publish({"type": kind, "call_id": t.call_id, "agent_id": t.agent_id, "offered_to": t.offered_to,
                                  "state": t.state, "queue": t.queue, "language": t.language})

    async def _name(self, agent_id: str) -> str:
        agent = await self.state.get_agent(agent_id)
        return agent.name if agent else agent_id

    def timings(self, call_id: str) -> dict[str, float]:
        """Seconds from the request: offered (on the desk), accepted, bridged."""
        m = self.marks.get(call_id, {})
        t0 = m.get("requested")
        return {k: round(v - t0, 3) for k, v in m.items() if t0 is not None and k != "requested"}


# ---- SIP -------------------------------------------------------------------------------------------
async def sip_blind_transfer(sip_call: Any, agent: Agent, timeout_s: float = 30.0) -> bool:
    """Blind transfer on SIP: REFER the caller to the agent's contact (``SipCall.refer``)."""
    if not agent.contact or not agent.contact.startswith(("sip:", "sips:")):
        return False
    return bool(await sip_call.refer(agent.contact, timeout_s))


async def sip_attended_transfer(sip_call: Any, agent: Agent, briefing: Any, *, answer_timeout_s: float = 30.0,
                                emit: Callable[..., None] | None = None) -> Any:
    """Attended transfer on SIP: the bot calls the agent's contact, speaks ``briefing`` (an
    awaitable of PCM16 8 kHz) to them while the caller holds, then bridges the two RTP legs.
    Returns the running :class:`.sip_attended.AttendedTransfer`, or None when the agent's leg
    failed (busy, no answer, 4xx/5xx) or the caller left first."""
    from .sip_attended import AttendedOptions, AttendedTransfer

    if not agent.contact or not agent.contact.startswith(("sip:", "sips:")):
        return None
    transfer = AttendedTransfer(sip_call, agent, briefing, options=AttendedOptions(mode="attended", answer_timeout_s=answer_timeout_s),
                                emit=emit)
    return transfer if await transfer.connect() else None
