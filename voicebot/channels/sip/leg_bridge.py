"""Two SIP call legs joined through the bot: RTP relayed both ways, digits too, BYE follows BYE.

:class:`LegBridge` takes each leg's accepted RTP packets raw (``RtpSession.on_packet``, so the
bot's pipeline hears nothing more) and sends them on the other leg:
- same codec: the payload passes through untouched; different G.711 laws: decoded and
  re-encoded (:func:`convert_payload`);
- RFC 4733 telephone-events pass through (payload type mapped); SIP INFO digits are re-sent
  as RFC 4733 on the other leg;
- headers are rewritten into the outgoing leg's own stream (:class:`StreamRewriter`: its SSRC,
  sequence numbers and timestamps continue where the bot's audio left off, gaps kept).

:meth:`LegBridge.run` returns when one leg ends, after hanging up the other with BYE.
:func:`send_paced` sends a prompt on one leg at real-time pace (the attended-transfer briefing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voicebot.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voicebot.logs import get_logger

from .rtp import RtpPacket, seq_delta
from .rtp_session import FRAME_BYTES, SAMPLE_RATE
from .sdp import MediaParams

if TYPE_CHECKING:
    from .sip_call import SipCall

log = get_logger(__name__)

_DECODE = {"PCMU": ulaw_decode, "PCMA": alaw_decode}
_ENCODE = {"PCMU": ulaw_encode, "PCMA": alaw_encode}


def convert_payload(pkt: RtpPacket, src: MediaParams, dst: MediaParams) -> tuple[int, bytes, bool] | None:
    """(payload type, payload, transcoded) for ``pkt`` from a leg with ``src`` media to one
    with ``dst``; None when it cannot go there (comfort noise, or digits the far end cannot take)."""
    if pkt.payload_type == src.payload_type:
        if src.codec == dst.codec:
            return dst.payload_type, pkt.payload, False
        return dst.payload_type, _ENCODE[dst.codec](_DECODE[src.codec](pkt.payload)), True
    if src.dtmf_payload_type is not None and pkt.payload_type == src.dtmf_payload_type:
        return (dst.dtmf_payload_type, pkt.payload, False) if dst.dtmf_payload_type is not None else None
    return None


class StreamRewriter:
    """Maps packets of an incoming stream into an outgoing one (pure, time passed in).

    The outgoing stream keeps ``ssrc`` and continues from ``next_seq``/``ts_now`` (where the
    bot's own audio on that leg left off). Offsets are fixed at the first packet and again
    whenever the incoming SSRC changes (the far end restarted its stream), so loss and
    reordering stay visible to the receiver's jitter buffer; the first packet after a
    restart carries the marker bit.
    """

    def __init__(self, ssrc: int, next_seq: int, ts_now: int, now: float) -> None:
        self.ssrc = ssrc
        self.next_seq = next_seq & 0xFFFF
        self._ref_ts, self._ref_time = ts_now & 0xFFFFFFFF, now
        self._in_ssrc: int | None = None
        self._seq_off = 0
        self._ts_off = 0

    def restart(self, next_seq: int, ts_now: int, now: float) -> None:
        """The outgoing stream was written by someone else meanwhile (a digit): resync on the next packet."""
        self.next_seq = next_seq & 0xFFFF
        self._ref_ts, self._ref_time = ts_now & 0xFFFFFFFF, now
        self._in_ssrc = None

    def rewrite(self, pkt: RtpPacket, payload_type: int, payload: bytes, now: float) -> RtpPacket:
        marker = pkt.marker
        if pkt.ssrc != self._in_ssrc:
            ts_now = (self._ref_ts + round((now - self._ref_time) * SAMPLE_RATE)) & 0xFFFFFFFF
            self._in_ssrc = pkt.ssrc
            self._seq_off = (self.next_seq - pkt.sequence) & 0xFFFF
            self._ts_off = (ts_now - pkt.timestamp) & 0xFFFFFFFF
            marker = True
        seq = (pkt.sequence + self._seq_off) & 0xFFFF
        ts = (pkt.timestamp + self._ts_off) & 0xFFFFFFFF
        if seq_delta(seq, self.next_seq) >= 0:  # the newest so far (late packets keep their place)
            self.next_seq = (seq + 1) & 0xFFFF
            self._ref_ts, self._ref_time = ts, now
        return RtpPacket(payload_type, seq, ts, self.ssrc, payload, marker=marker)


@dataclass
class DirectionStats:
    relayed: int = 0
    transcoded: int = 0
    dtmf_packets: int = 0
    info_digits: int = 0
    dropped: int = 0  # could not go out: payload type unknown there, far end on hold


@dataclass(frozen=True)
class BridgeEnd:
    ended_by: str  # the name of the leg that ended first
    reason: str  # its end reason (far_end_bye, rtp_timeout, ...)


class _Direction:
    """One way of the bridge: packets from ``src`` out on ``dst``."""

    def __init__(self, src: SipCall, dst: SipCall, now: Callable[[], float]) -> None:
        self.src, self.dst, self.now = src, dst, now
        self.stats = DirectionStats()
        origin = dst.rtp.relay_origin()
        ssrc, seq, ts = origin if origin is not None else (0, 0, 0)
        self.rewriter = StreamRewriter(ssrc, seq, ts, now())
        self._warned = False

    def on_packet(self, pkt: RtpPacket) -> None:
        src_media, dst_media = self.src.rtp.media, self.dst.rtp.media
        if src_media is None or dst_media is None:
            self.stats.dropped += 1
            return
        converted = convert_payload(pkt, src_media, dst_media)
        if converted is None:
            self.stats.dropped += 1
            if pkt.payload_type == src_media.dtmf_payload_type and not self._warned:
                self._warned = True
                log.warning("digits not relayed: the other leg did not offer telephone-event",
                            extra={"call_id": self.src.call_id, "to": self.dst.call_id})
            return
        payload_type, payload, transcoded = converted
        out = self.rewriter.rewrite(pkt, payload_type, payload, self.now())
        if self.dst.rtp.send_packet(out):
            self.stats.relayed += 1
            self.stats.transcoded += transcoded
            self.stats.dtmf_packets += payload_type == dst_media.dtmf_payload_type
        else:
            self.stats.dropped += 1

    def on_info_digit(self, digit: str) -> None:
        self.dst.send_dtmf(digit)
        self.stats.info_digits += 1
        origin = self.dst.rtp.relay_origin()
        if origin is not None:
            self.rewriter.restart(origin[1], origin[2], self.now())


@dataclass
class LegBridge:
    """Relays RTP and digits between ``a`` and ``b`` until one leg ends (then BYE on the other)."""

    a: SipCall
    b: SipCall
    names: tuple[str, str] = ("caller", "agent")
    stats: dict[str, DirectionStats] = field(default_factory=dict)
    released: bool = False
    _saved: list[tuple[SipCall, Callable[[str], None] | None]] = field(default_factory=list)
    _started: bool = False

    def start(self) -> None:
        """From now on the legs hear each other (idempotent)."""
        if self._started:
            return
        self._started = True
        now = asyncio.get_running_loop().time
        for (src, dst), name in (((self.a, self.b), f"{self.names[0]}->{self.names[1]}"),
                                 ((self.b, self.a), f"{self.names[1]}->{self.names[0]}")):
            way = _Direction(src, dst, now)
            self.stats[name] = way.stats
            self._saved.append((src, src.on_dtmf))
            src.rtp.on_packet = way.on_packet
            src.on_dtmf = way.on_info_digit
        log.info("legs bridged", extra={"call_id": self.a.call_id, "other": self.b.call_id,
                                        "codecs": [c.rtp.media.codec if c.rtp.media else None for c in (self.a, self.b)]})

    def detach(self) -> None:
        """Stop relaying: each leg's audio goes to its own reader (the bot) again."""
        for call, on_dtmf in self._saved:
            call.rtp.on_packet = None
            call.on_dtmf = on_dtmf
        self._saved.clear()

    async def run(self) -> BridgeEnd:
        """Relay until a leg ends; the other gets BYE (unless :meth:`release` kept it)."""
        self.start()
        await asyncio.wait({self.a.ended, self.b.ended}, return_when=asyncio.FIRST_COMPLETED)
        first, other, name = (self.a, self.b, self.names[0]) if self.a.ended.done() else (self.b, self.a, self.names[1])
        self.detach()
        end = BridgeEnd(ended_by=name, reason=first.ended.result())
        if other.is_up and not self.released:
            await other.hangup(f"{name}_left_bridge")
        log.info("leg bridge ended", extra={"call_id": self.a.call_id, "ended_by": end.ended_by, "reason": end.reason,
                                            "stats": {k: v.__dict__ for k, v in self.stats.items()}})
        return end

    async def release(self, keep: SipCall, reason: str = "released") -> None:
        """End the bridge by hanging up the leg other than ``keep``; ``keep`` stays up, unbridged."""
        self.released = True
        self.detach()
        drop = self.b if keep is self.a else self.a
        if drop.is_up:
            await drop.hangup(reason)


async def send_paced(call: SipCall, pcm: bytes, *, stop: Callable[[], bool] = lambda: False) -> int:
    """Send PCM16 8 kHz on ``call`` as 20 ms RTP packets at real-time pace (absolute deadlines,
    no burst after a stall); stops early when the call ends or ``stop()``. Returns packets sent."""
    loop = asyncio.get_running_loop()
    if len(pcm) % FRAME_BYTES:
        pcm += bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
    step = FRAME_BYTES / 2 / SAMPLE_RATE
    deadline = loop.time()
    sent = 0
    for i in range(0, len(pcm), FRAME_BYTES):
        if not call.is_up or stop():
            break
        sent += call.send_frame(pcm[i : i + FRAME_BYTES])
        deadline += step
        delay = deadline - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -5 * step:
            deadline = loop.time()
    return sent
