"""RTP packets (RFC 3550 section 5.1): parse and serialize, no I/O."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """Not a valid RTP packet."""


@dataclass
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: list[int] = field(default_factory=list)
    extension: tuple[int, bytes] | None = None  # (profile, data), data a multiple of 4 bytes
    padding: int = 0  # padding bytes after the payload (count included)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < _HEADER.size:
            raise RtpError(f"packet of {len(data)} bytes is shorter than an RTP header")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {b0 >> 6}, expected 2")
        pos = _HEADER.size
        cc = b0 & 0x0F
        if len(data) < pos + 4 * cc:
            raise RtpError("truncated CSRC list")
        csrcs = list(struct.unpack_from(f"!{cc}I", data, pos))
        pos += 4 * cc
        ext = None
        if b0 & 0x10:
            if len(data) < pos + 4:
                raise RtpError("truncated header extension")
            profile, words = struct.unpack_from("!HH", data, pos)
            pos += 4
            if len(data) < pos + 4 * words:
                raise RtpError("truncated header extension")
            ext = (profile, data[pos : pos + 4 * words])
            pos += 4 * words
        end = len(data)
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or pos + padding > end:
                raise RtpError("bad padding length")
            end -= padding
        return cls(b1 & 0x7F, seq, ts, ssrc, data[pos:end], bool(b1 & 0x80), csrcs, ext, padding)

    def serialize(self) -> bytes:
        if not 0 <= self.payload_type < 128:
            raise RtpError(f"payload type {self.payload_type} out of range")
        b0 = (RTP_VERSION << 6) | (0x20 if self.padding else 0) | (0x10 if self.extension else 0) | len(self.csrcs)
        b1 = (0x80 if self.marker else 0) | self.payload_type
        out = [_HEADER.pack(b0, b1, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF)]
        out += [struct.pack("!I", c) for c in self.csrcs]
        if self.extension:
            profile, data = self.extension
            out.append(struct.pack("!HH", profile, len(data) // 4) + data)
        out.append(self.payload)
        if self.padding:
            out.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(out)


def is_rtcp(data: bytes) -> bool:
    """RTCP shares the port when rtcp-mux is used; packet types 200-204 (RFC 5761 4)."""
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


def seq_delta(a: int, b: int) -> int:
    """Signed distance from sequence number ``b`` to ``a`` with 16-bit wrap-around."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


class RtpSender:
    """Sequence number, timestamp and SSRC for one outgoing stream.

    ``next(payload)`` returns the next packet of ``samples`` samples. After a pause
    (:meth:`pause`, e.g. barge-in) the next packet carries the marker bit and a timestamp
    advanced to real time, as RFC 3551 4.1 expects at the start of a talkspurt.
    """

    def __init__(self, payload_type: int, ssrc: int, first_seq: int, first_ts: int) -> None:
        self.payload_type = payload_type
        self.ssrc = ssrc
        self.seq = first_seq & 0xFFFF
        self.ts = first_ts & 0xFFFFFFFF
        self._marker = True

    def next(self, payload: bytes, samples: int) -> RtpPacket:
        pkt = RtpPacket(self.payload_type, self.seq, self.ts, self.ssrc, payload, marker=self._marker)
        self._marker = False
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + samples) & 0xFFFFFFFF
        return pkt

    def skip(self, samples: int) -> None:
        """Time passed without sending (silence): advance the timestamp only."""
        self.ts = (self.ts + samples) & 0xFFFFFFFF
        self._marker = True
