"""In-app calls (WebRTC or the WebSocket fallback) that hand off through the bridge.

``InappCall`` attaches an :class:`InappHandoff` to its output when the runtime has a hand-off
(the composition root's ``runtime.attach_handoff``, :mod:`.hooks`); the output's ``transfer``
then comes here instead of only marking the call as waiting:
- the caller stays in the widget and the bot stays on the line (relay): the wait estimate and
  "connected with Ana" are spoken (and captioned), the caller's spoken or typed words go to the
  desk, the agent's typed replies are spoken by the bot and shown as bot captions;
- the agent can also talk: the desk's Talk button opens a WebRTC leg (:mod:`.agent_media`) that
  hears the caller through ``InappCall.caller_audio_taps`` and plays the agent's voice with
  ``InappCall.play_agent_audio``, mixed into the bot's track. ``connect_voice`` still answers
  False: the accept itself is a relay; the agent's voice joins when they press Talk.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection

from voicebot.channels.webrtc.channel import InappCall
from voicebot.core import Transfer
from voicebot.logs import get_logger

from .bridge import HandoffBridge
from .relay import Relay, RelayHandle

log = get_logger(__name__)


class InappHandle(RelayHandle):
    """:class:`~.bridge.CallHandle` for an in-app call (relay)."""

    def __init__(self, relay: Relay, call: InappCall) -> None:
        super().__init__(relay, call.ctx.channel)
        self.call = call
        self.voice = not getattr(call, "text_only", False)  # a typed session leaves no voicemail

    async def back_to_bot(self) -> None:
        await super().back_to_bot()
        out = self.call.output
        out.waiting_for_agent = False  # typed text goes to the dialogue again
        self.call.input.to_agent_only = False
        self.relay.state.emit_action("back_to_bot")

    async def end(self, reason: str) -> None:
        self.relay.stop()
        if not self.call.done.is_set():
            self.relay.state.end_reason = self.relay.state.end_reason or reason
            await self.call.end(reason)


class InappHandoff:
    """An in-app call's :class:`~voicebot.channels.base.CallHandoff` (``call.output.handoff``)."""

    def __init__(self, call: InappCall, bridge: HandoffBridge) -> None:
        self.call = call
        self.bridge = bridge
        self.relay = Relay(call.output, bridge)
        self.handle = InappHandle(self.relay, call)
        self._requested = False

    def drops(self, frame: Frame, direction: FrameDirection) -> bool:
        return self.relay.drops(frame, direction)

    async def transfer(self, action: Transfer) -> None:
        """The dialogue handed the caller to a person: the bridge finds one; the bot keeps listening
        (the caller's speech is transcribed for the desk)."""
        self._requested = True
        await self.relay.request(self.handle, action)

    async def call_ended(self) -> None:
        if self._requested:  # the caller left: out of the queue, or the agent's call ends
            await self.bridge.caller_hung_up(self.call.call_id)
