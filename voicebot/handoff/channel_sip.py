"""SIP calls that hand off through the bridge.

:class:`SipHandoff` is a SIP call's :class:`~voicebot.channels.base.CallHandoff` (the
composition root attaches it, :mod:`.hooks`): the call's ``transfer`` goes to the
:class:`~.bridge.HandoffBridge` (unless the dialogue named a fixed ``Transfer.target``: then the
channel's own blind REFER):
- while the caller waits, the bot stays on the line (relay): it tells the caller the wait and
  passes their words to the desk;
- the agent who accepts has a SIP contact (``sip:``/``sips:``), with ``sip.transfer_mode``:
  - ``blind`` (default): REFER of the caller to it (``SipCall.refer``); once the transfer
    target answered, the bot hangs up its leg;
  - ``attended``: the bot calls the agent, briefs them (the context card's summary, spoken in
    the agent's language) while the caller hears a hold tone, then relays the two legs' RTP
    (:mod:`.sip_attended`); either side's BYE ends the other, and the call record;
- a desk-only agent, a REFER the caller's phone refuses, or an agent leg that fails (busy,
  no answer, 4xx/5xx): relay — the agent types, the bot speaks it on the call's RTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection

from voicebot.channels.sip.channel import SipCallBridge, SipOutput
from voicebot.core import ContextPacket, Transfer
from voicebot.logs import get_logger

from .bridge import HandoffBridge, sip_attended_transfer, sip_blind_transfer
from .context import build_card
from .relay import Relay, RelayHandle
from .routing import Agent
from .sip_attended import AttendedOptions, AttendedTransfer, HoldTone, briefing_text, synthesize_8k

log = get_logger(__name__)

Synthesize = Callable[[str, str], Awaitable[bytes]]  # (text, language) -> PCM16 8 kHz in the call's voice


class SipHandle(RelayHandle):
    """:class:`~.bridge.CallHandle` for a SIP call: REFER to (or call and bridge) an agent's SIP contact, else relay."""

    def __init__(self, handoff: SipHandoff) -> None:
        super().__init__(handoff.relay, "sip")
        self.handoff = handoff
        self.output = handoff.output
        self.attended: AttendedTransfer | None = None  # bridged through the bot (attended mode)

    async def connect_voice(self, agent: Agent) -> bool:
        out = self.output
        if not agent.contact or not agent.contact.startswith(("sip:", "sips:")) or not out.call.is_up:
            return False
        if self.handoff.attended_options.mode == "attended":
            return await self._connect_attended(agent)
        ok = await sip_blind_transfer(out.call, agent, out.options.refer_timeout_s)
        out.state.emit("transfer_result", channel="sip", target=agent.contact, ok=ok, agent=agent.id)
        if not ok:
            log.warning("REFER to the agent failed; relaying instead", extra={"call_id": self.call_id, "agent": agent.id})
            return False
        self.left_path = True
        self.relay.stop()
        out.state.end_reason = out.state.end_reason or "transferred"
        await out.call.hangup("transferred")  # the caller's phone has the agent now
        return True

    async def _connect_attended(self, agent: Agent) -> bool:
        out = self.output
        briefing = asyncio.ensure_future(self.handoff.briefing_audio(agent))
        out.media = "hold"  # the caller hears the hold tone; nothing the bot says reaches them
        # Shielded: the caller hanging up cancels the offer, but the agent's leg must still be
        # CANCELled or hung up, never left ringing.
        connecting = asyncio.ensure_future(sip_attended_transfer(
            out.call, agent, briefing, answer_timeout_s=self.handoff.attended_options.answer_timeout_s, emit=out.state.emit))
        try:
            transfer = await asyncio.shield(connecting)  # cancelled (caller gone): the transfer still ends cleanly on its own
        except Exception:  # a bug must not leave the caller on hold: they stay with the bot
            log.exception("attended transfer crashed; relaying instead", extra={"call_id": self.call_id, "agent": agent.id})
            transfer = None
        if not briefing.done():  # the agent's leg failed before the briefing was needed
            briefing.cancel()
        ok = transfer is not None
        out.state.emit("transfer_result", channel="sip", target=agent.contact, ok=ok, agent=agent.id, mode="attended",
                       **(transfer.timings_ms() if transfer else {}))
        if not ok:
            out.media = "bot"
            log.warning("attended transfer failed; relaying instead", extra={"call_id": self.call_id, "agent": agent.id})
            return False
        self.attended = transfer
        self.left_path = True  # the bot says nothing more to the caller
        out.media = "bridged"
        out.state.end_reason = out.state.end_reason or "transferred"
        return True

    async def say(self, text: str, language: str) -> None:
        if self.output.media == "hold":  # dialing or briefing the agent: the caller hears the hold tone only
            log.info("not spoken: the caller is on hold for the agent", extra={"call_id": self.call_id, "text": text})
            return
        await super().say(text, language)

    async def end(self, reason: str) -> None:
        """The desk ended the call: with a bridged agent, BYE to both legs."""
        if self.attended is not None:
            self.relay.stop()
            await self.attended.hang_up(reason)
            return
        await super().end(reason)

    async def back_to_bot(self) -> None:
        """The agent sends the caller back: their leg ends, the caller's pipeline speaks and listens again."""
        if self.attended is not None:
            await self.attended.back_to_bot()
            self.attended, self.left_path = None, False
            self.output.media = "bot"
            if self.output.state.end_reason == "transferred":
                self.output.state.end_reason = None
        await super().back_to_bot()


class SipHandoff:
    """A SIP call's hand-off: relay muting, the hold tone, the agent's briefing, and the bridge."""

    def __init__(self, output: SipOutput, bridge: HandoffBridge, attended: AttendedOptions | None = None,
                 synthesize: Synthesize | None = None) -> None:
        self.output = output
        self.bridge = bridge
        self.attended_options = attended or AttendedOptions()
        self.synthesize = synthesize
        if self.attended_options.hold_tone:  # what the caller hears while the agent is dialed and briefed
            output.hold_frame = HoldTone().next_frame
        self.relay = Relay(output, bridge)
        self.handle = SipHandle(self)

    def drops(self, frame: Frame, direction: FrameDirection) -> bool:
        return self.relay.drops(frame, direction)

    async def transfer(self, action: Transfer) -> None:
        await self.relay.request(self.handle, action)

    async def briefing_audio(self, agent: Agent) -> bytes:
        """The agent's briefing (the context card's summary in their language) as PCM16 8 kHz."""
        if self.synthesize is None:
            return b""
        call_id = self.output.call.call_id
        ticket = await self.bridge.state.get_ticket(call_id)
        lang = agent.languages[0] if agent.languages else "en"
        card = await build_card(call_id, ticket.context if ticket else ContextPacket(), ticket.language if ticket else lang, lang,
                                self.bridge.translator)
        text = briefing_text(card)
        self.output.state.emit("handoff_leg", stage="briefing", agent=agent.id, language=lang, text=text)
        return await self.synthesize(text, lang)

    async def call_ended(self) -> None:
        handle, call_id = self.handle, self.output.call.call_id
        if handle.attended is not None:  # bridged through the bot: the ticket ends with the call
            end = await handle.attended.wait_end(timeout_s=5.0)
            await self.bridge.caller_hung_up(call_id, reason=f"{end.ended_by}_hung_up" if end else "ended")
        elif not handle.left_path:  # REFERred calls stay the agent's until the desk releases them
            await self.bridge.caller_hung_up(call_id)


def attach(runtime: Any, bridge: HandoffBridge, attended: AttendedOptions | None = None) -> Callable[[SipCallBridge], SipHandoff]:
    """The hand-off a :class:`~voicebot.channels.sip.channel.SipCallBridge` attaches to its
    output (``handoff=``): attended transfers per ``sip.transfer_mode``, briefed in the call's voice."""
    def make(call: SipCallBridge) -> SipHandoff:
        options = attended or AttendedOptions.from_settings(getattr(getattr(runtime, "settings", None), "sip", None))

        async def synthesize(text: str, language: str) -> bytes:
            return await synthesize_8k(runtime, call.session.spec, text, language)

        return SipHandoff(call.output, bridge, options, synthesize)

    return make
