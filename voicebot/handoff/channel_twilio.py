"""Twilio calls that hand off through the bridge.

:class:`TwilioHandoff` is a Twilio call's :class:`~voicebot.channels.base.CallHandoff` (the
composition root attaches it, :mod:`.hooks`): the call's ``transfer`` goes to the
:class:`~.bridge.HandoffBridge` instead of a fixed ``<Enqueue>``:
- the caller's first-choice agent has a phone/SIP contact and speaks the language: the call is
  redirected to ``<Enqueue waitUrl=/twilio/hold?lang=..>`` (hold audio in the caller's language,
  ``action`` tells us when the caller leaves the queue), then to ``<Dial>`` the agent on accept;
- otherwise the bot stays on the stream (relay): it tells the caller the wait, passes their
  words to the desk and speaks the agent's typed replies.
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import EndWorkerFrame, Frame
from pipecat.processors.frame_processor import FrameDirection
from twilio.twiml.voice_response import Dial, VoiceResponse

from voicebot.channels.twilio import twiml
from voicebot.channels.twilio.channel import TwilioOutput, plain_call_factory
from voicebot.channels.twilio.rest import TwilioCallControl
from voicebot.channels.twilio.stream import CallFactory
from voicebot.core import Transfer
from voicebot.logs import get_logger
from voicebot.pipeline.state import CallState

from .bridge import HandoffBridge
from .relay import RELAY_TURN_BASE, Relay  # noqa: F401 - RELAY_TURN_BASE kept importable from here
from .routing import Agent
from .state import Ticket

log = get_logger(__name__)

QUEUE_RESULT_PATH = "/handoff/twilio/queue-result"


def enqueue_twiml(queue: str, wait_url: str, action_url: str) -> str:
    response = VoiceResponse()
    response.enqueue(queue, wait_url=wait_url, wait_url_method="POST", action=action_url, method="POST")
    return str(response)


def dial_twiml(contact: str, caller_id: str | None) -> str:
    if contact.startswith("client:"):
        response = VoiceResponse()
        d = Dial(caller_id=caller_id, timeout=30)
        d.client(contact.split(":", 1)[1])
        response.append(d)
        return str(response)
    return twiml.dial(contact, caller_id=caller_id)


class TwilioHandoff:
    """The :class:`~voicebot.channels.base.CallHandoff` of a Twilio call: its transfer goes to
    the bridge, and it can speak for the hand-off (:class:`.relay.Relay`)."""

    def __init__(self, output: TwilioOutput, bridge: HandoffBridge) -> None:
        self.output = output
        self.bridge = bridge
        self.relay = Relay(output, bridge)  # the dialogue's own replies are muted while a person has the call
        self.handle = TwilioHandle(self)

    def drops(self, frame: Frame, direction: FrameDirection) -> bool:
        return self.relay.drops(frame, direction)

    async def transfer(self, action: Transfer) -> None:
        await self.relay.request(self.handle, action)  # the output has waited for the last sentence's mark

    async def call_ended(self) -> None:
        if not self.handle.left_stream:  # the caller (or the stream) is gone
            await self.bridge.caller_hung_up(self.handle.call_id)


class TwilioHandle:
    """:class:`~.bridge.CallHandle` for a Twilio call."""

    def __init__(self, handoff: TwilioHandoff) -> None:
        self.handoff = handoff
        self.output = handoff.output
        self.relay = handoff.relay
        state: CallState = self.output.state
        self.call_id = state.ctx.call_id
        self.channel = "twilio"
        self.caller_number = state.ctx.caller_number
        self.left_stream = False

    async def say(self, text: str, language: str) -> None:
        if self.left_stream or self.output.sender.closed:
            log.info("not spoken: the call left the media stream", extra={"call_id": self.call_id, "text": text})
            return
        await self.relay.speak(text, language)

    async def say_as_agent(self, text: str, language: str, agent_name: str) -> None:
        if self.left_stream or self.output.sender.closed:
            log.info("not spoken: the call left the media stream", extra={"call_id": self.call_id, "text": text})
            return
        await self.relay.speak(text, language, agent_name)

    def note(self, what: str, **data: Any) -> None:
        self.relay.note(what, **data)

    async def hold(self, ticket: Ticket) -> bool:
        agents = [await self.handoff.bridge.state.get_agent(a) for a in ticket.history[-1].get("agents", [])]
        first: Agent | None = agents[0] if agents else None
        control: TwilioCallControl | None = self.output.control
        if not (first and first.contact and ticket.language in first.languages and control and self.output.public_host):
            return False  # relay: the bot keeps the stream and has told the caller the wait
        await self.output.sender.wait_played(self.output.mark_timeout_s)
        host = self.output.public_host
        doc = enqueue_twiml(ticket.queue, twiml.hold_url(host, ticket.language), twiml.public_url(host, QUEUE_RESULT_PATH))
        self.left_stream = True
        self.output.state.end_reason = self.output.state.end_reason or "transferred"
        await control.redirect(self.call_id, doc)
        return True

    async def connect_voice(self, agent: Agent) -> bool:
        control = self.output.control
        if not (agent.contact and control and self.left_stream):
            return False  # a desk-only agent, or the bot holds the stream: relay
        await control.redirect(self.call_id, dial_twiml(agent.contact, self.output.state.ctx.called_number))
        return True

    async def back_to_bot(self) -> None:
        self.relay.stop()

    async def end(self, reason: str) -> None:
        """The agent (or the bridge) ends the call: hang up on Twilio and stop the pipeline."""
        self.relay.stop()
        if self.left_stream and self.output.control:
            await self.output.control.hang_up(self.call_id)
            return
        state = self.output.state
        if state.ended:
            return
        state.end_reason = state.end_reason or reason
        await self.output.hang_up()  # closes the stream: Twilio hangs up
        # The bot closed the stream itself, so the stream handler expects the pipeline to end
        # on its own: without this the call would only end at the stream's timeout.
        await self.output.push_frame(EndWorkerFrame(reason=reason), FrameDirection.UPSTREAM)


def call_factory(runtime: Any, bridge: HandoffBridge, transcriber: Any = None) -> CallFactory:
    """A Twilio ``call_factory`` (voicebot.channels.twilio.routes.make_router) with hand-off;
    ``transcriber`` replaces the ASR (tests: an oracle)."""
    return plain_call_factory(runtime, lambda call: TwilioHandoff(call.output, bridge), transcriber)
