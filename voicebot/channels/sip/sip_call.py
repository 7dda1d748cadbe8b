"""The call-facing API of the SIP channel: one :class:`SipCall` per call leg, no pipecat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Literal

from voicebot.logs import get_logger

from .dialog import Dialog
from .message import NameAddr, SipParseError, SipUri
from .rtp_session import RtpSession

if TYPE_CHECKING:
    from .ua import SipUserAgent

log = get_logger(__name__)


def number_of(header_value: str) -> str | None:
    """The phone number in a From/To value (``"X" <sip:+4930123@pbx>`` -> ``+4930123``), if any."""
    try:
        user = SipUri.parse(NameAddr.parse(header_value).uri).user or ""
    except SipParseError:
        return None
    user = user.split(";")[0]
    digits = user.lstrip("+").replace("-", "")
    return user if digits.isdecimal() else None


def uri_of(header_value: str) -> str:
    try:
        return NameAddr.parse(header_value).uri
    except SipParseError:
        return ""


class SipCall:
    """One call leg (inbound from a caller, or outbound to an agent).

    - ``frames()``: received audio, 20 ms PCM16 8 kHz chunks, until the call ends;
    - ``on_dtmf``: set to a callable taking one digit (RFC 4733 or SIP INFO);
    - ``send_frame(pcm)``: send 20 ms of PCM16 8 kHz now (the caller paces);
    - ``hangup()``, ``refer(target_uri)``; ``ended`` resolves to the end reason.
    """

    def __init__(self, agent: SipUserAgent, call_id: str, direction: Literal["inbound", "outbound"],
                 local_header: str, remote_header: str, rtp: RtpSession) -> None:
        self._agent = agent
        self.call_id = call_id
        self.direction = direction
        self.rtp = rtp
        self.dialog: Dialog | None = None
        caller, callee = (remote_header, local_header) if direction == "inbound" else (local_header, remote_header)
        self.caller_uri = uri_of(caller)
        self.callee_uri = uri_of(callee)
        self.caller_number = number_of(caller)
        self.callee_number = number_of(callee)
        self.on_dtmf: Callable[[str], None] | None = None
        loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[str] = loop.create_future()
        self.answered: asyncio.Future[bool] = loop.create_future()
        self.confirmed = False
        self._refer_result: asyncio.Future[int] | None = None
        # Added to the call's CallContext.extra by the pipeline bridge (an outbound campaign call
        # carries its plan here; voicebot.outbound.dialer_sip).
        self.context_extra: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"SipCall({self.call_id!r}, {self.direction}, {self.caller_uri} -> {self.callee_uri})"

    @property
    def is_up(self) -> bool:
        return not self.ended.done()

    @property
    def user_agent(self) -> SipUserAgent:
        """The user agent this leg belongs to (an attended transfer dials the agent through it)."""
        return self._agent

    @property
    def on_hold(self) -> bool:
        return bool(self.rtp.media and self.rtp.media.on_hold)

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            frame = await self.rtp.next_frame()
            if frame is None:
                return
            yield frame

    def send_frame(self, pcm_20ms: bytes) -> bool:
        """Send one 20 ms PCM16 8 kHz frame as one RTP packet; False when not sending (hold, ended)."""
        return self.rtp.send_frame(pcm_20ms)

    def clear_audio(self) -> None:
        """Barge-in: stop at once; the next frame starts a new talkspurt."""
        self.rtp.clear()

    def send_dtmf(self, digit: str) -> None:
        self.rtp.send_dtmf(digit)

    async def hangup(self, reason: str = "bot_hangup") -> None:
        await self._agent._hangup(self, reason)

    async def refer(self, target_uri: str, timeout_s: float = 30.0) -> bool:
        """Blind transfer: REFER the far end to ``target_uri``; True when the NOTIFY progress
        reports the transfer target answered (sipfrag 2xx). The call stays up: hang up after."""
        return await self._agent._refer(self, target_uri, timeout_s)

    def _notify_refer(self, status: int) -> None:
        fut = self._refer_result
        if fut is not None and not fut.done() and status >= 200:
            fut.set_result(status)

    def _dtmf(self, digit: str) -> None:
        if self.on_dtmf:
            try:
                self.on_dtmf(digit)
            except Exception:  # a broken handler must not break the RTP socket
                log.exception("dtmf handler failed", extra={"call_id": self.call_id})
