"""How long the turn-taking transcriptions take on this machine, by the length of their audio.

The barge-in evaluation (:mod:`benchmarks.bargein.evaluate`) has no real ASR weights to recognize
words with, so it reveals the label text (an oracle) and charges each transcription the time
this machine's ASR takes for audio of that length, on the path the pipeline uses:

- a barge-in confirmation *partial*: the configured Whisper model with its
  ``asr.partial_window_s`` encoder window (:func:`voicebot.pipeline.build.partial_transcriber`);
- the end-of-turn *check*'s words: the same short window, while the turn's own transcript is
  decoded alongside in the turns' window (as :class:`~voicebot.turns.processor.TurnTaker` runs
  them: two jobs at once on the same cores), for turns that fit the short window;
- a *turn* in the turns' ``asr.window_s`` window (the check of a turn too long for the short one).

::

    python -m benchmarks.bargein.asr_latency --out benchmarks/bargein/asr_latency.json

A random-weight dev model costs what the real one costs per token, and it decodes up to
its token cap where a real model stops at the end of the words: if anything it is slower.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PARTIAL_LENGTHS_S = (0.4, 0.6, 0.8, 1.0, 1.3, 1.6)  # a confirmation partial: ~300 ms preroll + 0.1-1.3 s of the sound
CHECK_LENGTHS_S = (1.0, 2.0, 3.0, 4.5)  # a caller turn so far that fits the short window (its length - 0.5 s)
TURN_LENGTHS_S = (1.0, 3.0, 5.0, 8.0)


@dataclass(frozen=True)
class LatencyTable:
    """Measured latency (ms) by audio length (s); :meth:`at` interpolates the p95 (clamped at the ends)."""

    lengths_s: tuple[float, ...]
    p50_ms: tuple[float, ...]
    p95_ms: tuple[float, ...]

    def at(self, audio_s: float) -> float:
        return float(np.interp(audio_s, self.lengths_s, self.p95_ms))

    @classmethod
    def from_rows(cls, rows: list[dict]) -> LatencyTable:
        rows = sorted(rows, key=lambda r: r["audio_s"])
        return cls(tuple(r["audio_s"] for r in rows), tuple(r["p50_ms"] for r in rows), tuple(r["p95_ms"] for r in rows))


@dataclass(frozen=True)
class AsrLatency:
    """What :mod:`benchmarks.bargein.evaluate` charges a partial and an end-of-turn check."""

    partial: LatencyTable
    check: LatencyTable
    turn: LatencyTable
    short_window_s: float = 5.0
    source: str = ""

    def check_ms(self, audio_s: float) -> float:
        """The check's words: the short window when the audio fits it (as WhisperASR decides), else the turns' window."""
        return self.check.at(audio_s) if audio_s <= self.short_window_s - 0.5 else self.turn.at(audio_s)

    @classmethod
    def constant(cls, ms: float) -> AsrLatency:
        flat = LatencyTable((0.0, 1.0), (ms, ms), (ms, ms))
        return cls(flat, flat, flat, source=f"constant {ms:g} ms")

    @classmethod
    def load(cls, path: Path) -> AsrLatency:
        data = json.loads(Path(path).read_text())
        return cls(LatencyTable.from_rows(data["partial"]["rows"]), LatencyTable.from_rows(data["check"]["rows"]),
                   LatencyTable.from_rows(data["turn"]["rows"]), short_window_s=data["partial"]["window_s"],
                   source=f"{Path(path).name}: p95 by length, {data.get('model')}, windows {data['partial']['window_s']:g} / "
                          f"{data['turn']['window_s']:g} s, {data.get('machine')}")


def _speech(seconds: float, seed: int) -> np.ndarray:
    """Voice-like test audio (a 120-220 Hz harmonic buzz with syllable-rate envelope and hiss):
    what costs time is the audio's length and the decode, not its words."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 120 + 100 * rng.random()
    buzz = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + rng.random() * 6)
    return (buzz * envelope * 0.1 + rng.standard_normal(len(t)) * 0.005).astype(np.float32)


def measure(transcriber, lengths_s: tuple[float, ...], language: str = "en", repeats: int = 15,  # type: ignore[no-untyped-def]
            alongside=None) -> list[dict]:
    """p50/p95/max ms of ``transcriber`` per audio length; with ``alongside`` (a transcriber), each
    timed call runs while that one decodes the same audio in another thread (TurnTaker's check)."""
    rows = []
    for i, length in enumerate(lengths_s):
        audio = _speech(length, i)
        transcriber.transcribe(audio, language)  # warm
        times = []
        for _ in range(repeats):
            other = None
            if alongside is not None:
                other = threading.Thread(target=alongside.transcribe, args=(audio, language))
                other.start()
            t0 = time.perf_counter()
            transcriber.transcribe(audio, language)
            times.append((time.perf_counter() - t0) * 1000)
            if other is not None:
                other.join()
        times.sort()
        rows.append({"audio_s": length, "p50_ms": round(statistics.median(times), 1),
                     "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 1),
                     "max_ms": round(times[-1], 1), "n": repeats})
    return rows


def main(argv: list[str] | None = None) -> int:
    from voicebot.config import load_settings
    from voicebot.pipeline.build import partial_transcriber
    from voicebot.pipeline.spec import load_spec
    from voicebot.runtime import Runtime

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pipeline", type=Path, default=Path(__file__).resolve().parents[2] / "pipelines" / "phone.yaml")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    spec = load_spec(args.pipeline)
    runtime = Runtime(load_settings())
    asr = runtime.asr(spec)
    load_before = os.getloadavg()[0]
    short = partial_transcriber(asr, spec)
    partial = measure(short, PARTIAL_LENGTHS_S, repeats=args.repeats)
    check = measure(short, CHECK_LENGTHS_S, repeats=max(5, args.repeats // 2), alongside=asr)
    turn = measure(asr, TURN_LENGTHS_S, repeats=max(5, args.repeats // 3))
    report = {"model": runtime.asr_model_info(spec).name,
              "machine": f"{platform.machine()}, {os.cpu_count()} cpus, load {load_before:.2f} before / {os.getloadavg()[0]:.2f} after",
              "partial": {"window_s": spec.asr.partial_window_s, "rows": partial},
              "check": {"window_s": spec.asr.partial_window_s, "alongside_window_s": spec.asr.window_s, "rows": check},
              "turn": {"window_s": spec.asr.window_s, "rows": turn}}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
