"""RFC 4733 telephone-events (keypad digits in RTP), no I/O.

A key press is sent as several packets with the same RTP timestamp (the event start):
updates while the key is held, then the end packet three times. :class:`DtmfReceiver`
reports each press once, when its end is seen, or when a new event starts without the
previous end ever arriving.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .rtp import RtpPacket

EVENTS = "0123456789*#ABCD"
_PAYLOAD = struct.Struct("!BBH")


class DtmfError(ValueError):
    """Not a telephone-event payload."""


@dataclass(frozen=True)
class DtmfEvent:
    event: int
    end: bool
    volume: int
    duration: int  # in timestamp units (1/8000 s)

    @property
    def digit(self) -> str | None:
        return EVENTS[self.event] if self.event < len(EVENTS) else None

    @classmethod
    def parse(cls, payload: bytes) -> DtmfEvent:
        if len(payload) < 4:
            raise DtmfError(f"telephone-event payload of {len(payload)} bytes, expected 4")
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | (self.volume & 0x3F), self.duration & 0xFFFF)


class DtmfReceiver:
    def __init__(self) -> None:
        self._current_ts: int | None = None
        self._current_digit: str | None = None
        self._reported: set[int] = set()  # timestamps already reported (bounded below)

    def push(self, pkt: RtpPacket) -> list[str]:
        """Feed one telephone-event packet; returns digits completed by it (0, 1 or 2)."""
        try:
            ev = DtmfEvent.parse(pkt.payload)
        except DtmfError:
            return []
        out: list[str] = []
        if pkt.timestamp != self._current_ts:
            if self._current_ts is not None and self._current_ts not in self._reported and self._current_digit:
                out.append(self._current_digit)  # previous press lost its end packets
                self._remember(self._current_ts)
            self._current_ts = pkt.timestamp
            self._current_digit = ev.digit
        if ev.end and pkt.timestamp not in self._reported and ev.digit:
            out.append(ev.digit)
            self._remember(pkt.timestamp)
        return out

    def _remember(self, ts: int) -> None:
        self._reported.add(ts)
        if len(self._reported) > 64:
            self._reported = set(sorted(self._reported)[-32:])


def dtmf_packets(digit: str, ssrc: int, seq: int, timestamp: int, payload_type: int = 101, duration_ms: int = 100) -> list[RtpPacket]:
    """The packets for one key press (updates every 20 ms, end sent 3 times)."""
    event = EVENTS.index(digit.upper())
    steps = max(1, duration_ms // 20)
    pkts = []
    for i in range(1, steps + 1):
        end = i == steps
        payload = DtmfEvent(event, end, 10, i * 160).serialize()
        for _ in range(3 if end else 1):
            pkts.append(RtpPacket(payload_type, seq & 0xFFFF, timestamp, ssrc, payload, marker=(i == 1)))
            seq += 1
    return pkts
