"""The barge-in benchmark's labels and its ASR cost model (benchmarks/bargein, benchmarks.bargein.asr_latency)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio.pcm import load_audio
from benchmarks.bargein import build as bargein_build
from benchmarks.bargein.asr_latency import AsrLatency, LatencyTable, measure

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "audio"
RATE = 16000


def _db(level_dbfs: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n) * 32768 * 10 ** (level_dbfs / 20)


def _vowel(level_dbfs: float, n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    x = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    return x / np.sqrt(np.mean(x**2)) * 32768 * 10 ** (level_dbfs / 20)


def test_hiss_before_the_words_is_not_the_onset() -> None:
    # a recording whose hiss (-48 dBFS) starts 400 ms before the words: the old single threshold
    # (max(-50 dBFS, peak - 30 dB), gaps merged) put the onset at the hiss
    rng = np.random.default_rng(1)
    x = np.concatenate([np.zeros(1600), _db(-48, 6400, rng), _vowel(-18, 8000)])
    x[1600:] += _db(-58, len(x) - 1600, rng)
    assert bargein_build.speech_onset(x) == pytest.approx(500, abs=10)


def test_a_click_separated_from_the_words_is_not_the_onset_but_a_soft_lead_in_is() -> None:
    mod = bargein_build
    rng = np.random.default_rng(2)
    floor = _db(-60, 16000, rng)
    click = floor.copy()
    click[3200:3360] += _db(-30, 160, rng)  # 10 ms click at 200 ms, words at 400 ms
    click[6400:] += _vowel(-18, 16000 - 6400)
    assert mod.speech_onset(click) == pytest.approx(400, abs=10)
    soft = floor.copy()
    soft[4800:6400] += _db(-40, 1600, rng)  # an "s" 100 ms before the vowel leads into the words
    soft[6400:] += _vowel(-18, 16000 - 6400)
    assert mod.speech_onset(soft) == pytest.approx(300, abs=10)
    dip = floor.copy()
    dip[4800:5600] += _vowel(-30, 800)  # "the", a 20 ms stop closure, "birch"
    dip[5920:] += _vowel(-18, 16000 - 5920)
    assert mod.speech_onset(dip) == pytest.approx(300, abs=10)


def test_onsets_agree_with_the_hand_labelled_vad_clips() -> None:
    mod = bargein_build
    checked = 0
    for rel, onsets in mod.LABELLED_ONSETS.items():
        if not (SHARED / rel).is_file():
            pytest.skip(f"{rel} missing (../shared/audio)")
        x = load_audio(SHARED / rel, RATE).astype(np.float64)
        for label in onsets:
            piece = x[int((label - 300) * RATE / 1000):]
            assert abs(mod.speech_onset(piece) - 300) <= 30, (rel, label)
            checked += 1
    assert checked == 4


def test_oracle_text_comes_from_transcript_annotation_or_says_it_is_untranscribed() -> None:
    mod = bargein_build
    assert mod.oracle_text({"transcript": "hello there"}) == "hello there"
    assert mod.oracle_text({"annotation": "pinyin: ni2 yi3 wei2; 你以为 (inferred)"}) == "你以为"
    assert mod.oracle_text({"annotation": "L: 'He began a confused complaint' R: 'The horizon seems distant.'"}) == \
        "He began a confused complaint The horizon seems distant."
    assert mod.oracle_text({"annotation": "unknown"}) == mod.UNTRANSCRIBED


def test_latency_table_interpolates_the_p95_by_length_and_clamps(tmp_path: Path) -> None:
    rows = [{"audio_s": 0.4, "p50_ms": 100, "p95_ms": 120}, {"audio_s": 1.0, "p50_ms": 130, "p95_ms": 180}]
    table = LatencyTable.from_rows(list(reversed(rows)))
    assert table.at(0.4) == 120 and table.at(0.7) == pytest.approx(150) and table.at(0.1) == 120 and table.at(3.0) == 180
    path = tmp_path / "lat.json"
    path.write_text(json.dumps({"model": "m", "machine": "x", "partial": {"window_s": 5, "rows": rows},
                                "check": {"window_s": 5, "rows": [{"audio_s": 1.0, "p50_ms": 200, "p95_ms": 250}]},
                                "turn": {"window_s": 30, "rows": [{"audio_s": 1.0, "p50_ms": 700, "p95_ms": 800}]}}))
    lat = AsrLatency.load(path)
    assert lat.partial.at(0.7) == pytest.approx(150) and "windows 5 / 30 s" in lat.source
    # the check's words: the short window while the turn fits it (4.5 s), the turns' window beyond
    assert lat.check_ms(4.5) == 250 and lat.check_ms(4.6) == 800
    assert AsrLatency.constant(200).partial.at(9.0) == 200 == AsrLatency.constant(200).check_ms(9.0)


def test_measure_times_each_length_on_the_given_transcriber() -> None:
    seen: list[tuple[int, str]] = []

    class Recorder:
        def transcribe(self, audio: np.ndarray, language: str | None = None) -> str:
            seen.append((len(audio), language or ""))
            return ""

    rows = measure(Recorder(), (0.5, 1.0), language="es", repeats=3)
    assert [r["audio_s"] for r in rows] == [0.5, 1.0] and all(r["n"] == 3 and r["p50_ms"] <= r["p95_ms"] <= r["max_ms"] for r in rows)
    assert seen == [(8000, "es")] * 4 + [(16000, "es")] * 4  # one warm-up + 3 timed per length
    seen.clear()
    measure(Recorder(), (0.5,), repeats=2, alongside=Recorder())  # each timed call with a second decode alongside
    assert len(seen) == 1 + 2 * 2
