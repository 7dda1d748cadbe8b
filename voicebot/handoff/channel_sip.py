"""SIP calls that hand off through the bridge.

:class:`HandoffSipOutput`'s ``transfer`` goes to the :class:`~.bridge.HandoffBridge` (unless the
dialogue named a fixed ``Transfer.target``: then the channel's own blind REFER, as before):
- while the caller waits, the bot stays on the line (relay): it tells the caller the wait and
  passes their words to the desk;
- the agent who accepts has a SIP contact (``sip:``/``sips:``): blind REFER of the caller to it
  (``SipCall.refer``); once the transfer target answered, the bot hangs up its leg;
- a desk-only agent, or a REFER the caller's phone refuses: relay — the agent types, the bot
  speaks it on the call's RTP.

Attended transfer (the bot calls the agent and briefs them first) is not done here: see
:func:`.bridge.sip_attended_transfer`.
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection

from voicebot.channels.base import CallInput, CallTransport
from voicebot.channels.sip.channel import SipCallBridge, SipChannelOptions, SipOutput
from voicebot.channels.sip.sip_call import SipCall
from voicebot.dialogue.api import Transfer
from voicebot.logs import get_logger
from voicebot.pipeline.state import CallState

from .bridge import HandoffBridge, sip_blind_transfer
from .relay import Relay, RelayHandle
from .routing import Agent

log = get_logger(__name__)


class SipHandle(RelayHandle):
    """:class:`~.bridge.CallHandle` for a SIP call: REFER to an agent's SIP contact, else relay."""

    def __init__(self, output: HandoffSipOutput) -> None:
        super().__init__(output.relay, "sip")
        self.output = output

    async def connect_voice(self, agent: Agent) -> bool:
        out = self.output
        if not agent.contact or not agent.contact.startswith(("sip:", "sips:")) or not out.call.is_up:
            return False
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


class HandoffSipOutput(SipOutput):
    def __init__(self, state: CallState, call: SipCall, options: SipChannelOptions, bridge: HandoffBridge) -> None:
        super().__init__(state, call, options)
        self.bridge = bridge
        self.relay = Relay(self, bridge)
        self.handle = SipHandle(self)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if self.relay.drops(frame, direction):
            return
        await super().process_frame(frame, direction)

    async def transfer(self, action: Transfer) -> None:
        if action.target:  # the dialogue named where to go: the channel's own blind transfer
            await super().transfer(action)
            return
        await self.relay.request(self.handle, action)


class HandoffSipCallBridge(SipCallBridge):
    """A SIP call whose transfers go through the hand-off bridge."""

    def __init__(self, runtime: Any, call: SipCall, options: SipChannelOptions, bridge: HandoffBridge, transcriber: Any = None) -> None:
        self._handoff = bridge
        super().__init__(runtime, call, options)
        if transcriber is not None:  # tests: an oracle transcriber (CallSession has no public setter after init)
            self.session._transcriber = transcriber

    def _make_transport(self, state: CallState) -> CallTransport:
        self.input = CallInput(state)
        self.output = HandoffSipOutput(state, self.call, self.options, self._handoff)
        return CallTransport(self.input, self.output)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if not self.output.handle.left_path:  # REFERred calls stay the agent's until the desk releases them
                await self._handoff.caller_hung_up(self.call.call_id)


def make_bridge(runtime: Any, call: SipCall, options: SipChannelOptions, bridge: HandoffBridge,
                transcriber: Any = None) -> HandoffSipCallBridge:
    """What ``SipChannel.make_bridge`` returns when the runtime has a hand-off service."""
    return HandoffSipCallBridge(runtime, call, options, bridge, transcriber)
