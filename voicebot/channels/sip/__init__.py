"""SIP channel: a SIP user agent (UDP/TCP), SDP, RTP and G.711 for calls from PBXs and trunks.

``SipUserAgent(SipOptions(...), on_call)`` answers and places calls without the pipeline;
:mod:`voicebot.channels.sip.channel` runs each call on the shared call pipeline.
"""

from .rtp_session import RtpOptions
from .sip_call import SipCall
from .ua import RegistrationOptions, SipCallFailed, SipOptions, SipUserAgent

__all__ = ["RegistrationOptions", "RtpOptions", "SipCall", "SipCallFailed", "SipOptions", "SipUserAgent"]
