"""G.711 mu-law and A-law codecs (ITU-T G.711), pure numpy, no I/O.

``audioop`` is gone in Python 3.13, so the codecs are table-driven here: decoding is a
256-entry lookup, encoding a 65536-entry lookup indexed by the 16-bit sample. Both tables
are built once from the reference bit manipulations of G.711 and are exact.
"""

from __future__ import annotations

import numpy as np

_BIAS = 0x84
_SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def _ulaw_encode_scalar(sample: int) -> int:
    # The 14-bit formulation of the ITU reference (as in CCITT's g711.c and CPython's audioop).
    pcm = sample >> 2
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    else:
        mask = 0xFF
    pcm = min(pcm, 8159) + (_BIAS >> 2)
    seg = next((i for i, end in enumerate(_SEG_UEND) if pcm <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0F)) ^ mask


def _ulaw_decode_scalar(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -sample if sign else sample


def _alaw_encode_scalar(sample: int) -> int:
    sign = 0x00 if sample < 0 else 0x80
    if sample < 0:
        sample = -sample - 1 if sample > -32768 else 32767
    sample >>= 3  # A-law works on 13-bit magnitudes
    if sample < 32:
        code = sample >> 1
    else:
        exponent = sample.bit_length() - 5  # 1..7
        code = (exponent << 4) | ((sample >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def _alaw_decode_scalar(byte: int) -> int:
    byte ^= 0x55
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    if exponent == 0:
        sample = (mantissa << 4) + 8
    else:
        sample = ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if sign else -sample


_ULAW_DEC = np.array([_ulaw_decode_scalar(b) for b in range(256)], dtype=np.int16)
_ALAW_DEC = np.array([_alaw_decode_scalar(b) for b in range(256)], dtype=np.int16)
_ULAW_ENC = np.array([_ulaw_encode_scalar(s) for s in range(-32768, 32768)], dtype=np.uint8)
_ALAW_ENC = np.array([_alaw_encode_scalar(s) for s in range(-32768, 32768)], dtype=np.uint8)


def _pcm(pcm: bytes | np.ndarray) -> np.ndarray:
    if isinstance(pcm, np.ndarray):
        return pcm.astype(np.int16, copy=False)
    return np.frombuffer(pcm, dtype="<i2")


def ulaw_encode(pcm: bytes | np.ndarray) -> bytes:
    """16-bit little-endian PCM (bytes or int16 array) -> mu-law bytes."""
    return _ULAW_ENC[_pcm(pcm).astype(np.int32) + 32768].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """mu-law bytes -> 16-bit little-endian PCM bytes."""
    return _ULAW_DEC[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_encode(pcm: bytes | np.ndarray) -> bytes:
    """16-bit little-endian PCM (bytes or int16 array) -> A-law bytes."""
    return _ALAW_ENC[_pcm(pcm).astype(np.int32) + 32768].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """A-law bytes -> 16-bit little-endian PCM bytes."""
    return _ALAW_DEC[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5
