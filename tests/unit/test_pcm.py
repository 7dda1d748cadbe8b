import numpy as np

from voicebot.audio.pcm import StreamResampler, resample


def test_stream_resampler_emits_every_chunk_at_once():
    """A phone line's 20 ms chunks must reach the VAD as they arrive, not in 100 ms bursts."""
    rs = StreamResampler(8000, 16000)
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 10000).astype(np.int16)
    sizes = [len(rs(tone[i : i + 160].tobytes())) // 2 for i in range(0, 8000, 160)]
    assert all(300 <= n <= 340 for n in sizes), sizes
    out = np.frombuffer(b"".join(rs(tone[i : i + 160].tobytes()) for i in range(0, 8000, 160)), dtype="<i2")
    ref = resample(tone, 8000, 16000)
    n = min(len(out), len(ref)) - 400
    best = max(np.corrcoef(out[200 + lag : n + lag].astype(float), ref[200:n].astype(float))[0, 1] for lag in range(-20, 21))
    assert best > 0.98  # the same signal as the offline (HQ) resampler, up to a few samples of delay
