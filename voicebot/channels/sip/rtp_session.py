"""One call's RTP endpoint: a UDP socket, receive -> jitter buffer -> 20 ms PCM16 8 kHz
frames, RFC 4733 digits, and sending one 20 ms packet per :meth:`RtpSession.send_frame`.

Pacing is the caller's job (the pipeline's CallOutput paces against absolute deadlines);
this class only keeps sequence number, timestamp and SSRC right, including the timestamp
jump and marker bit after a pause (barge-in, hold).
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from voicebot.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voicebot.logs import get_logger

from voicebot.clock import Clock, TimerHandle
from .dtmf import DtmfReceiver, dtmf_packets
from .jitter import JitterBuffer, conceal
from .rtp import RtpError, RtpPacket, RtpSender, is_rtcp, seq_delta
from .sdp import MediaParams
from .udp_endpoint import UdpEndpoint

log = get_logger(__name__)

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = 2 * FRAME_SAMPLES  # PCM16


@dataclass(frozen=True)
class RtpOptions:
    host: str = "127.0.0.1"
    port_min: int = 20000
    port_max: int = 20999
    timeout_s: float = 30.0  # no RTP for this long (while not on hold) ends the call
    jitter_depth: int = 3  # packets held behind a gap before it is declared lost (60 ms)
    flush_after_s: float = 0.1  # a gap with nothing behind it is played out after this
    latch: bool = True  # accept RTP from the signalling host on another port (NAT), see _accept
    # "comedia": send only to where the far end's RTP comes from, never to the SDP address
    # (phones behind NAT that write a private or wrong address in their SDP)
    comedia: bool = False
    max_queued_frames: int = 500  # 10 s of audio the consumer has not read; older frames are dropped
    # The sender fell this far behind its media clock: that was a pause, and the next packet
    # starts a talkspurt (marker, timestamp advanced). A shorter lag is a late tick the pacer
    # catches up (CallOutput.max_catchup_s, the same 0.5 s), and its frames stay contiguous in
    # timestamp (they are contiguous audio).
    pause_after_s: float = 0.5


@dataclass
class RtpStats:
    received: int = 0
    sent: int = 0
    frames_out: int = 0
    dropped_source: int = 0
    dropped_payload_type: int = 0
    malformed: int = 0
    rtcp: int = 0
    dtmf_digits: int = 0
    queue_overflow: int = 0
    ssrc_changes: int = 0


@dataclass
class _Frames:
    queue: deque[bytes | None] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class RtpSession:
    def __init__(
        self,
        options: RtpOptions,
        clock: Clock,
        *,
        signalling_host: str | None = None,
        on_dtmf: Callable[[str], None] | None = None,
        on_timeout: Callable[[], None] | None = None,
        call_id: str = "",
    ) -> None:
        self.options = options
        self.clock = clock
        self.signalling_host = signalling_host
        self.on_dtmf = on_dtmf
        self.on_timeout = on_timeout
        self.call_id = call_id
        self.stats = RtpStats()
        self.port = 0
        self.media: MediaParams | None = None
        self._transport: UdpEndpoint | None = None
        self._latched: tuple[str, int] | None = None
        self._jitter = JitterBuffer(options.jitter_depth)
        self._dtmf = DtmfReceiver()
        self._rx_ssrc: int | None = None
        self._carry = b""
        self._last_frame = b""
        self._lost_run = 0
        self._frames = _Frames()
        self._last_rx = 0.0
        self._timeout_handle: TimerHandle | None = None
        self._flush_handle: TimerHandle | None = None
        self._sender: RtpSender | None = None
        self._media_due: float | None = None  # clock time the next frame is due on the media clock
        self._send_hold = False
        self._new_spurt = False
        self.closed = False
        # A leg bridge (leg_bridge.py) takes every accepted packet raw (audio and telephone-event),
        # instead of the jitter buffer, decoding and frames(); None = the bot hears the call.
        self.on_packet: Callable[[RtpPacket], None] | None = None

    # --- lifecycle -----------------------------------------------------------------

    async def open(self) -> int:
        """Bind a free even port in the configured range; returns it."""
        lo, hi = self.options.port_min // 2, self.options.port_max // 2
        candidates = list(range(lo, hi + 1))
        random.shuffle(candidates)
        for half in candidates[:200]:
            try:
                transport = await UdpEndpoint.bind(self.options.host, half * 2, self._on_datagram)
            except OSError:
                continue
            self._transport = transport
            self.port = half * 2
            self._last_rx = self.clock.now()
            self._arm_timeout(self.options.timeout_s)
            return self.port
        raise OSError(f"no free RTP port in {self.options.port_min}-{self.options.port_max}: widen sip.rtp_port_min/max")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for handle in (self._timeout_handle, self._flush_handle):
            if handle:
                handle.cancel()
        if self._transport:
            self._transport.close()
        self._push_frame(None)

    def set_media(self, media: MediaParams) -> None:
        """Apply negotiated media (initial answer or a re-INVITE: hold, unhold, new address)."""
        changed = self.media is None or (media.remote_host, media.remote_port) != (self.media.remote_host, self.media.remote_port)
        if self._sender is None:
            self._sender = RtpSender(media.payload_type, secrets.randbits(32), secrets.randbits(16), secrets.randbits(32))
        else:
            self._sender.payload_type = media.payload_type
        if changed:
            self._latched = None
        self.media = media
        self._last_rx = self.clock.now()  # a hold/unhold restarts the silence clock

    # --- receive -------------------------------------------------------------------

    def _accept(self, addr: tuple[str, int]) -> bool:
        media = self.media
        if media is None:
            return False
        if addr == self._latched:
            return True
        if addr == (media.remote_host, media.remote_port):
            self._latched = self._latched or addr  # the SDP address spoke first: lock onto it
            return self._latched == addr
        # Latching (symmetric RTP): a phone behind NAT sends from another address than its
        # SDP says. Only the host the SIP came from (or the SDP host) may latch, and only once,
        # so a third party spraying packets at our port is still ignored.
        if self.options.latch and self._latched is None and addr[0] in (self.signalling_host, media.remote_host):
            self._latched = addr
            return True
        return False

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.closed:
            return
        if is_rtcp(data):
            self.stats.rtcp += 1
            return
        try:
            pkt = RtpPacket.parse(data)
        except RtpError:
            self.stats.malformed += 1
            return
        if not self._accept(addr):
            self.stats.dropped_source += 1
            return
        self.stats.received += 1
        self._last_rx = self.clock.now()
        media = self.media
        assert media is not None
        if self.on_packet is not None:
            self.on_packet(pkt)
            return
        if media.dtmf_payload_type is not None and pkt.payload_type == media.dtmf_payload_type:
            for digit in self._dtmf.push(pkt):
                self.stats.dtmf_digits += 1
                if self.on_dtmf:
                    self.on_dtmf(digit)
            return
        if pkt.payload_type != media.payload_type:
            self.stats.dropped_payload_type += 1  # comfort noise, video, a codec we did not agree
            return
        if pkt.ssrc != self._rx_ssrc:
            if self._rx_ssrc is not None:
                self.stats.ssrc_changes += 1
                self._play(self._jitter.flush())
                self._jitter = JitterBuffer(self.options.jitter_depth)
            self._rx_ssrc = pkt.ssrc
        self._play(self._jitter.push(pkt))
        if self._flush_handle:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._jitter._held:
            self._flush_handle = self.clock.call_later(self.options.flush_after_s, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        if not self.closed:
            self._play(self._jitter.flush())

    def _play(self, played: list) -> None:
        decode = ulaw_decode if self.media and self.media.codec == "PCMU" else alaw_decode
        for item in played:
            if item.packet is None:
                self._lost_run += 1
                pcm = conceal(self._last_frame, self._lost_run)
            else:
                self._lost_run = 0
                pcm = decode(item.packet.payload)
            self._carry += pcm
            while len(self._carry) >= FRAME_BYTES:
                frame, self._carry = self._carry[:FRAME_BYTES], self._carry[FRAME_BYTES:]
                if item.packet is not None:
                    self._last_frame = frame
                self._push_frame(frame)

    def _push_frame(self, frame: bytes | None) -> None:
        q = self._frames.queue
        if frame is not None:
            self.stats.frames_out += 1
            if len(q) >= self.options.max_queued_frames:
                q.popleft()
                self.stats.queue_overflow += 1
        q.append(frame)
        self._frames.ready.set()

    async def next_frame(self) -> bytes | None:
        """The next 20 ms PCM16 frame, or None once the session is closed."""
        while True:
            if self._frames.queue:
                frame = self._frames.queue.popleft()
                if frame is None:
                    self._frames.queue.appendleft(None)  # stay closed for every reader
                return frame
            self._frames.ready.clear()
            await self._frames.ready.wait()

    def _arm_timeout(self, delay: float) -> None:
        self._timeout_handle = self.clock.call_later(delay, self._check_timeout)

    def _check_timeout(self) -> None:
        if self.closed:
            return
        held = self.media is not None and self.media.on_hold
        idle = self.clock.now() - self._last_rx
        if not held and idle >= self.options.timeout_s:
            log.info("rtp timeout", extra={"call_id": self.call_id, "idle_s": round(idle, 2)})
            if self.on_timeout:
                self.on_timeout()
            return
        self._arm_timeout(self.options.timeout_s - idle if not held else self.options.timeout_s)

    # --- send ----------------------------------------------------------------------

    @property
    def can_send(self) -> bool:
        m = self.media
        return (
            not self.closed and self._transport is not None and m is not None and not self._send_hold
            and m.direction in ("sendrecv", "recvonly") and m.remote_host not in ("0.0.0.0", "::")
        )

    def _destination(self) -> tuple[str, int] | None:
        assert self.media is not None
        if self.options.comedia:
            return self._latched
        return self._latched or (self.media.remote_host, self.media.remote_port)

    def send_frame(self, pcm: bytes) -> bool:
        """Send 20 ms of PCM16 8 kHz as one RTP packet; False when the stream may not send now."""
        if len(pcm) != FRAME_BYTES:
            raise ValueError(f"send_frame takes 20 ms of PCM16 at 8 kHz ({FRAME_BYTES} bytes), got {len(pcm)}")
        if not self.can_send or self._sender is None or self.media is None:
            return False
        dest = self._destination()
        if dest is None:
            return False  # comedia: the far end has not sent anything yet
        now = self.clock.now()
        if self._media_due is None:
            self._media_due = now
        else:
            lag = now - self._media_due
            if self._new_spurt or lag > self.options.pause_after_s:
                # Talkspurt after silence: keep the timestamp on the media clock (RFC 3550 5.1).
                self._sender.skip(max(0, round(lag * SAMPLE_RATE)))
                self._media_due = now
        self._media_due += FRAME_SAMPLES / SAMPLE_RATE
        self._new_spurt = False
        payload = ulaw_encode(pcm) if self.media.codec == "PCMU" else alaw_encode(pcm)
        pkt = self._sender.next(payload, FRAME_SAMPLES)
        assert self._transport is not None
        self._transport.sendto(pkt.serialize(), dest)
        self.stats.sent += 1
        return True

    def relay_origin(self) -> tuple[int, int, int] | None:
        """Where a relayed stream continues this one: (SSRC, next sequence number, timestamp
        now); None before media is agreed. Keeps the SSRC the far end already knows."""
        if self._sender is None:
            return None
        elapsed = 0 if self._media_due is None else max(0, round((self.clock.now() - self._media_due) * SAMPLE_RATE))
        return self._sender.ssrc, self._sender.seq, (self._sender.ts + elapsed) & 0xFFFFFFFF

    def send_packet(self, pkt: RtpPacket) -> bool:
        """Send a packet whose header the caller wrote (a leg bridge relaying the other leg);
        False when the stream may not send now. The bot's own stream continues after it."""
        if not self.can_send or self._sender is None or self._transport is None:
            return False
        dest = self._destination()
        if dest is None:
            return False
        self._transport.sendto(pkt.serialize(), dest)
        self.stats.sent += 1
        if seq_delta(pkt.sequence, self._sender.seq) >= 0:
            self._sender.seq = (pkt.sequence + 1) & 0xFFFF
            self._sender.ts = (pkt.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self._media_due = self.clock.now() + FRAME_SAMPLES / SAMPLE_RATE
        return True

    def clear(self) -> None:
        """Barge-in: nothing is queued here, so stopping is immediate; the next packet starts
        a new talkspurt (marker bit, timestamp advanced by the pause)."""
        self._new_spurt = True

    def send_dtmf(self, digit: str) -> None:
        """Send one key press as RFC 4733 events (all packets at once; fine for IVR menus)."""
        dest = self._destination() if self.media is not None else None
        if not self.can_send or self._sender is None or self.media is None or self.media.dtmf_payload_type is None or dest is None:
            return
        for pkt in dtmf_packets(digit, self._sender.ssrc, self._sender.seq, self._sender.ts, self.media.dtmf_payload_type):
            assert self._transport is not None
            self._transport.sendto(pkt.serialize(), dest)
        self._sender.seq = (self._sender.seq + 7) & 0xFFFF
        self._sender.skip(800)
