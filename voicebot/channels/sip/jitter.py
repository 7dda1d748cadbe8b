"""A receive jitter buffer for fixed-ptime RTP audio, no I/O and no clock.

Packets go in as they arrive; frames come out in sequence order. Out-of-order packets
are held until the gap fills; a gap is declared lost once ``depth`` later packets have
arrived behind it (or on :meth:`flush`, which the session calls when the stream goes
quiet). Late and duplicate packets are dropped and counted. A sequence jump beyond
``max_jump`` (a new sender, a restarted phone) resynchronises instead of counting
thousands of lost frames.

Being event-driven (no playout timer) keeps latency at zero when the network is clean;
the cost of a loss is ``depth`` packets of delay, 60 ms by default.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .rtp import RtpPacket, seq_delta


@dataclass(frozen=True)
class Played:
    """One frame out of the buffer: ``packet`` is None for a lost frame to conceal."""

    packet: RtpPacket | None


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    lost: int = 0
    late: int = 0
    duplicate: int = 0
    resyncs: int = 0


class JitterBuffer:
    def __init__(self, depth: int = 3, max_jump: int = 100, max_lost_run: int = 10) -> None:
        self.depth = depth
        self.max_jump = max_jump
        self.max_lost_run = max_lost_run
        self.stats = JitterStats()
        self._next: int | None = None  # sequence number expected to play next
        self._held: dict[int, RtpPacket] = {}
        self._recent: deque[int] = deque(maxlen=64)  # played sequence numbers, to tell duplicates from late

    def push(self, pkt: RtpPacket) -> list[Played]:
        """Add one packet; returns the frames now ready to play, in order."""
        self.stats.received += 1
        if self._next is None:
            self._next = pkt.sequence
        delta = seq_delta(pkt.sequence, self._next)
        if abs(delta) > self.max_jump:
            self.stats.resyncs += 1
            out = self.flush()
            self._next = pkt.sequence
            delta = 0
        else:
            out = []
        if delta < 0:
            if pkt.sequence in self._recent:
                self.stats.duplicate += 1
            else:
                self.stats.late += 1
            return out
        if pkt.sequence in self._held:
            self.stats.duplicate += 1
            return out
        self._held[pkt.sequence] = pkt
        out += self._drain(force=False)
        return out

    def flush(self) -> list[Played]:
        """Play everything held, concealing the gaps (the stream went quiet)."""
        return self._drain(force=True)

    def _drain(self, force: bool) -> list[Played]:
        out: list[Played] = []
        while self._held and self._next is not None:
            pkt = self._held.pop(self._next, None)
            if pkt is not None:
                out.append(Played(pkt))
                self._recent.append(pkt.sequence)
                self.stats.played += 1
            elif force or len(self._held) > self.depth:
                # Skip to the next held packet if the gap is long: conceal at most max_lost_run.
                ahead = min(seq_delta(s, self._next) for s in self._held)
                if ahead > self.max_lost_run:
                    self.stats.lost += ahead
                    out += [Played(None)] * self.max_lost_run
                    self._next = (self._next + ahead) & 0xFFFF
                    continue
                out.append(Played(None))
                self.stats.lost += 1
            else:
                break
            self._next = (self._next + 1) & 0xFFFF
        return out


def conceal(last_frame: bytes, run: int) -> bytes:
    """Packet loss concealment for PCM16: repeat the last frame, fading 6 dB per lost frame,
    then silence (a simplified ITU-T G.711 Appendix I)."""
    if not last_frame or run > 4:
        return bytes(len(last_frame) or 320)
    pcm = np.frombuffer(last_frame, dtype="<i2").astype(np.float32)
    return (pcm * (0.5**run)).astype("<i2").tobytes()
