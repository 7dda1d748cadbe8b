"""PCM helpers: load any recording as mono int16 at a chosen rate, resample, measure, write WAV.

Pure functions over numpy arrays; the only I/O is reading/writing files by path.
Streaming resampling (20 ms chunks with state) uses soxr, the resampler pipecat itself uses.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


def to_int16(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.int16:
        return x
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def to_float(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.int16:
        return x.astype(np.float32) / 32768.0
    return x.astype(np.float32)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a whole mono signal (int16 in -> int16 out, float in -> float out)."""
    if rate_in == rate_out or len(x) == 0:
        return x
    y = soxr.resample(to_float(x), rate_in, rate_out, quality="HQ")
    return to_int16(y) if x.dtype == np.int16 else y.astype(np.float32)


def load_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read a WAV/FLAC/OGG/MP3 (anything libsndfile reads) as mono int16 at ``sample_rate``."""
    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises many types; the caller wants one clear error
        raise ValueError(f"cannot read audio file {path}: {exc}") from exc
    mono = data.mean(axis=1)
    return to_int16(resample(mono, int(rate), sample_rate))


def write_wav(path: str | Path, pcm: np.ndarray | bytes, sample_rate: int, channels: int = 1) -> None:
    """Write 16-bit PCM (interleaved when ``channels`` > 1)."""
    if isinstance(pcm, np.ndarray):
        pcm = pcm.astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def rms_dbfs(pcm: np.ndarray | bytes) -> float:
    """Level of a chunk in dBFS (-inf for digital silence)."""
    x = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes) else pcm
    if len(x) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return 20 * np.log10(rms / 32768.0) if rms > 0 else float("-inf")


class StreamResampler:
    """Chunk-by-chunk resampler for live audio (keeps filter state between chunks).

    soxr's "QQ" (cubic) quality on purpose: its HQ/MQ/LQ filters hold back 60-100 ms and then
    release it in bursts (8 -> 16 kHz, 20 ms in: 0, 0, 0, 0, 0, 1660 samples out), which would
    delay every caller's speech onset on a phone line. Cubic interpolation emits each 20 ms at
    once, and telephone-band audio going up to 16 kHz loses nothing the VAD or ASR uses.
    """

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in, self.rate_out = rate_in, rate_out
        self._rs = None if rate_in == rate_out else soxr.ResampleStream(rate_in, rate_out, 1, dtype="int16", quality="QQ")

    def __call__(self, pcm: bytes) -> bytes:
        if self._rs is None:
            return pcm
        out = self._rs.resample_chunk(np.frombuffer(pcm, dtype="<i2"))
        return out.astype("<i2").tobytes()

    def flush(self) -> bytes:
        if self._rs is None:
            return b""
        return self._rs.resample_chunk(np.zeros(0, dtype=np.int16), last=True).astype("<i2").tobytes()
