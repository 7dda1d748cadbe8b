"""A voicemail's WAV file, written on the record writer's thread so that file I/O never
blocks the call's event loop: opened when recording starts, appended to as the caller
speaks, closed (or removed, when the caller said nothing) at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicebot.channels.base import PIPELINE_RATE
from voicebot.records.wav import IncrementalWav


class VoicemailFile:
    """``<path>`` as mono 16-bit at ``sample_rate``; fed caller audio at the pipeline's rate."""

    def __init__(self, writer: Any, path: Path, sample_rate: int, call_id: str) -> None:
        """``writer``: the records' :class:`~voicebot.records.writer.StoreWriter` (one thread, in order)."""
        self.writer = writer
        self.path = path
        self.sample_rate = sample_rate
        self.call_id = call_id
        self._wav: IncrementalWav | None = None  # touched only on the writer thread
        self._resample: Any = None
        if sample_rate != PIPELINE_RATE:
            from voicebot.audio.pcm import StreamResampler

            self._resample = StreamResampler(PIPELINE_RATE, sample_rate)
        writer.submit(self._open, call_id=call_id)

    def write(self, pcm16k: bytes) -> None:
        """Queue caller audio (on the loop; the writer thread writes it)."""
        if self._resample is not None:
            pcm16k = self._resample(pcm16k)
        if pcm16k:
            self.writer.submit(self._write, pcm16k, call_id=self.call_id)

    async def finish(self, keep: bool) -> None:
        """Write what the resampler holds, close the file (delete it unless ``keep``), wait until done."""
        if self._resample is not None:
            tail = self._resample.flush()
            if tail:
                self.writer.submit(self._write, tail, call_id=self.call_id)
        self.writer.submit(self._close, keep, call_id=self.call_id)
        await self.writer.aflush()

    # ---- the writer thread ---------------------------------------------------------------------
    def _open(self) -> None:
        self._wav = IncrementalWav(self.path, self.sample_rate, channels=1)

    def _write(self, pcm: bytes) -> None:
        if self._wav is not None:
            self._wav.write(pcm[: len(pcm) // 2 * 2])

    def _close(self, keep: bool) -> None:
        if self._wav is not None:
            self._wav.close()
        if not keep:
            self.path.unlink(missing_ok=True)
