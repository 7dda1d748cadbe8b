"""Crash-safe stereo call recordings: caller on the left channel, bot on the right.

Python's ``wave`` module only writes the header sizes on close, so a killed process leaves
a file that readers reject or truncate to nothing; here the header is rewritten every
``header_every_s`` seconds of audio and on close, and :func:`repair_wav` fixes the sizes
from the file length after a crash. The data is written unbuffered, so a kill -9 loses at
most what was not yet handed to :meth:`IncrementalWav.write`.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

HEADER_BYTES = 44


def wav_header(sample_rate: int, channels: int, data_bytes: int, bits: int = 16) -> bytes:
    """A canonical 44-byte PCM WAV header (pure)."""
    block = channels * bits // 8
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels, sample_rate,
                       sample_rate * block, block, bits, b"data", data_bytes)  # fmt: skip


class IncrementalWav:
    """Appends 16-bit PCM frames to a WAV file that is valid (up to ``header_every_s``) at all times."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int = 2, header_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
        self._data_bytes = 0
        self._since_header = 0
        self._header_every = int(header_every_s * sample_rate * channels * 2)
        os.write(self._fd, wav_header(sample_rate, channels, 0))

    @property
    def duration_s(self) -> float:
        return self._data_bytes / (self.sample_rate * self.channels * 2)

    def write(self, frames: bytes) -> None:
        if not frames or self._fd < 0:
            return
        if len(frames) % (self.channels * 2):
            raise ValueError(f"{len(frames)} bytes is not a whole number of {self.channels}-channel 16-bit frames")
        os.pwrite(self._fd, frames, HEADER_BYTES + self._data_bytes)
        self._data_bytes += len(frames)
        self._since_header += len(frames)
        if self._since_header >= self._header_every:
            self._write_header()

    def _write_header(self) -> None:
        os.pwrite(self._fd, wav_header(self.sample_rate, self.channels, self._data_bytes), 0)
        self._since_header = 0

    def close(self) -> None:
        if self._fd < 0:
            return
        self._write_header()
        os.close(self._fd)
        self._fd = -1


def repair_wav(path: str | Path) -> bool:
    """Fix the RIFF and data sizes of a 44-byte-header WAV left by a killed process.

    Returns True when the header was changed. A trailing partial frame is cut off.
    """
    p = Path(path)
    with open(p, "r+b") as f:
        head = f.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE" or head[36:40] != b"data":
            raise ValueError(f"{p} is not a recording written by voicebot (no 44-byte PCM WAV header)")
        (channels,) = struct.unpack("<H", head[22:24])
        (rate,) = struct.unpack("<I", head[24:28])
        (bits,) = struct.unpack("<H", head[34:36])
        block = channels * bits // 8
        size = os.fstat(f.fileno()).st_size
        data = (size - HEADER_BYTES) // block * block
        if HEADER_BYTES + data != size:
            f.truncate(HEADER_BYTES + data)
        new = wav_header(rate, channels, data, bits)
        if new == head:
            return False
        f.seek(0)
        f.write(new)
        return True


class StereoAligner:
    """Interleaves caller and bot mono PCM16 into stereo frames on one timeline (pure).

    The caller track is the clock: channels deliver caller audio continuously (silence
    included) while the bot only sends audio when it speaks. Bot audio is placed at the
    start of the latest caller chunk - the 20 ms the channel is playing it in - so the
    latest caller chunk is held back until the next one arrives; audio for the same slot
    given in one ``feed(caller, bot)`` call lines up exactly, otherwise within one chunk.
    Silence fills whatever the bot did not send. Bot audio running ``max_bot_lead_ms`` ahead
    of the caller (a channel that sends no caller audio while the bot talks) is released
    with a silent left channel so the recording never loses the bot's words.
    """

    def __init__(self, sample_rate: int, max_bot_lead_ms: int = 1000) -> None:
        self._caller = bytearray()
        self._bot = bytearray()
        self._max_lead = max_bot_lead_ms * sample_rate // 1000 * 2

    def feed(self, caller: bytes | None, bot: bytes | None) -> bytes:
        """Add audio (either side may be None or empty); return the stereo frames now ready."""
        for side in (caller, bot):
            if side and len(side) % 2:
                raise ValueError("caller and bot audio must be 16-bit PCM (an even number of bytes)")
        out = b""
        if caller:
            out = self._take(len(self._caller))  # the previous slot is complete
            self._caller += caller
        if bot:
            self._bot += bot
        if len(self._bot) - len(self._caller) > self._max_lead:
            n = len(self._bot) - (self._max_lead // 4) * 2  # release the excess, keep a little for the caller to catch up
            self._caller += bytes(max(0, n - len(self._caller)))
            out += self._take(n)
        return out

    def flush(self) -> bytes:
        """Everything still pending, the shorter side padded with silence."""
        n = max(len(self._caller), len(self._bot))
        self._caller += bytes(n - len(self._caller))
        return self._take(n)

    def _take(self, n: int) -> bytes:
        if n <= 0:
            return b""
        left = bytes(self._caller[:n])
        right = bytes(self._bot[:n]) + bytes(max(0, n - len(self._bot)))
        del self._caller[:n]
        del self._bot[:n]
        return _interleave(left, right)


def _interleave(left: bytes, right: bytes) -> bytes:
    import numpy as np

    out = np.empty(len(left), dtype=np.int16)  # len(left) bytes = one int16 slot per stereo sample
    out[0::2] = np.frombuffer(left, dtype=np.int16)
    out[1::2] = np.frombuffer(right, dtype=np.int16)
    return out.tobytes()
