import numpy as np
import pytest

from voicebot.audio import g711

# Reference codes (as produced by the ITU-T G.711 reference code, CCITT g711.c / CPython audioop).
ULAW_VECTORS = [(0, 0xFF), (-1, 0x7E), (1, 0xFF), (32767, 0x80), (-32768, 0x00), (1000, 0xCE), (-1000, 0x4E)]
ALAW_VECTORS = [(0, 0xD5), (-1, 0x55), (32767, 0xAA), (-32768, 0x2A), (1000, 0xFA), (-1000, 0x7A)]


@pytest.mark.parametrize("sample,code", ULAW_VECTORS)
def test_ulaw_reference_codes(sample, code):
    assert g711.ulaw_encode(np.array([sample], dtype=np.int16)) == bytes([code])


@pytest.mark.parametrize("sample,code", ALAW_VECTORS)
def test_alaw_reference_codes(sample, code):
    assert g711.alaw_encode(np.array([sample], dtype=np.int16)) == bytes([code])


def test_matches_cpython_audioop_on_every_sample():
    audioop = pytest.importorskip("audioop")  # removed in Python 3.13; exact reference while it exists
    pcm = np.arange(-32768, 32768, dtype=np.int16).tobytes()
    assert g711.ulaw_encode(pcm) == audioop.lin2ulaw(pcm, 2)
    assert g711.alaw_encode(pcm) == audioop.lin2alaw(pcm, 2)
    codes = bytes(range(256))
    assert g711.ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)
    assert g711.alaw_decode(codes) == audioop.alaw2lin(codes, 2)


def test_round_trip_error_is_within_quantisation_step():
    x = (np.sin(np.linspace(0, 50, 8000)) * 20000).astype(np.int16)
    for enc, dec in ((g711.ulaw_encode, g711.ulaw_decode), (g711.alaw_encode, g711.alaw_decode)):
        y = np.frombuffer(dec(enc(x)), dtype=np.int16).astype(int)
        rel = np.abs(y - x.astype(int)) / np.maximum(np.abs(x.astype(int)), 128)
        assert rel.max() < 0.08  # log companding: a few percent, up to one step (16) near zero
