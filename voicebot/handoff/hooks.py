"""``runtime.attach_handoff``: the hand-off each channel's calls get (set by the composition root).

Channels know only :class:`~voicebot.channels.base.CallHandoff`; this module knows the
channels (the dependency goes from hand-off to channels, never back) and picks, per call,
the hand-off of its channel: Twilio (relay, or ``<Enqueue>``/``<Dial>`` to an agent's phone),
SIP (relay, REFER or an attended transfer), in-app (relay; the desk's Talk).
"""

from __future__ import annotations

from typing import Any

from voicebot.channels.base import CallHandoff
from voicebot.channels.sip.channel import SipOutput
from voicebot.channels.twilio.channel import TwilioOutput
from voicebot.channels.webrtc.channel import InappCall
from voicebot.logs import get_logger

from . import channel_sip
from .bridge import HandoffBridge
from .channel_inapp import InappHandoff
from .channel_twilio import TwilioHandoff

log = get_logger(__name__)


class ChannelHandoffs:
    """An :data:`~voicebot.channels.base.AttachHandoff` over one bridge, for every channel's calls."""

    def __init__(self, runtime: Any, bridge: HandoffBridge) -> None:
        self.bridge = bridge
        self._sip = channel_sip.attach(runtime, bridge)

    def __call__(self, call: Any) -> CallHandoff | None:
        output = call.output
        if isinstance(output, TwilioOutput):
            return TwilioHandoff(output, self.bridge)
        if isinstance(output, SipOutput):
            return self._sip(call)
        if isinstance(call, InappCall):
            return InappHandoff(call, self.bridge)
        log.warning("this channel has no hand-off: its transfers stay on the channel", extra={"channel": type(call).__name__})
        return None
