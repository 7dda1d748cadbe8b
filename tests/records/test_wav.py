"""Stereo alignment and the crash-safe WAV writer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebot.records.wav import HEADER_BYTES, IncrementalWav, StereoAligner, repair_wav, wav_header


def pcm(*values: int) -> bytes:
    return np.array(values, dtype=np.int16).tobytes()


def frames(data: bytes) -> list[tuple[int, int]]:
    a = np.frombuffer(data, dtype=np.int16).reshape(-1, 2)
    return [tuple(int(x) for x in row) for row in a]


def test_bot_audio_lands_where_it_was_played() -> None:
    al = StereoAligner(sample_rate=1000, max_bot_lead_ms=10)
    assert frames(al.feed(pcm(1, 2, 3), None)) == []  # the latest caller chunk is held for its bot audio
    assert frames(al.feed(None, pcm(7, 8))) == []  # played during the slot of (1, 2, 3)
    assert frames(al.feed(pcm(4, 5, 6), None)) == [(1, 7), (2, 8), (3, 0)]  # then the bot fell silent
    assert frames(al.feed(pcm(9, 11), pcm(10))) == [(4, 0), (5, 0), (6, 0)]
    assert frames(al.flush()) == [(9, 10), (11, 0)]
    assert frames(al.flush()) == []


def test_bot_far_ahead_of_a_silent_caller_is_not_held_back() -> None:
    al = StereoAligner(sample_rate=1000, max_bot_lead_ms=4)  # 4 samples
    out = al.feed(None, pcm(*range(1, 11)))
    assert frames(out) == [(0, v) for v in range(1, 9)]  # released with a silent caller, 2 kept
    assert frames(al.flush()) == [(0, 9), (0, 10)]


def test_odd_byte_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        StereoAligner(16000).feed(b"\x00\x01\x02", None)


def test_header_is_kept_current_and_final_on_close(tmp_path: Path) -> None:
    w = IncrementalWav(tmp_path / "a.wav", 8000, channels=2, header_every_s=0.01)  # header every 80 frames
    block = np.arange(400, dtype=np.int16).tobytes()  # 200 stereo frames
    w.write(block)
    live, _ = sf.read(tmp_path / "a.wav", dtype="int16")  # readable while still open
    assert len(live) == 200
    w.write(block[:8])  # 2 frames: below the header interval
    w.close()
    done, rate = sf.read(tmp_path / "a.wav", dtype="int16")
    assert rate == 8000 and done.shape == (202, 2)
    with pytest.raises(ValueError, match="whole number"):
        IncrementalWav(tmp_path / "b.wav", 8000).write(b"\x00\x00")


def test_repair_after_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "killed.wav"
    data = np.arange(2000, dtype=np.int16).tobytes()
    path.write_bytes(wav_header(16000, 2, 0) + data + b"\x01")  # header never updated + a torn frame
    assert repair_wav(path) is True
    audio, _ = sf.read(path, dtype="int16")
    assert audio.shape == (1000, 2) and audio[-1, 1] == 1999
    assert os.path.getsize(path) == HEADER_BYTES + 2000 * 2
    assert repair_wav(path) is False  # already right
    (tmp_path / "x.wav").write_bytes(b"not a wav at all, longer than forty-four bytes........")
    with pytest.raises(ValueError, match="not a recording"):
        repair_wav(tmp_path / "x.wav")
