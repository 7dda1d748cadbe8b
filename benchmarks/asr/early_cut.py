"""What starting the end-of-turn check by level (``early_check_ms``) costs in recognition, and gains in time.

    python -m benchmarks.asr.early_cut [--configs 25:60,35:60,...] [--out benchmarks/asr/early_cut.json]

Each transcribed real recording of ../shared/audio (plus 600 ms of line silence) is played
through what the turn taker sees: 20 ms frames, webrtcvad (aggressiveness 2, 10 ms, start 60 ms,
stop 150 ms) and the :class:`voicebot.turns.quiet_tail.QuietTail` of a configuration
``QUIET_DB:EARLY_MS[:PAD_MS]`` (PAD_MS: the quiet just heard, repeated after the early check's audio, as the engine does). At the last VAD stop the early check that is still standing (if any)
is the turn's; the clip is decoded up to that check's cut and, for comparison, up to the VAD's
stop (where the check starts without an early one). Reported per configuration: the error
rate of both, how often an early check stood, the time it gained (VAD stop - early start),
and the early checks dropped on the way (each a decode thrown away: CPU, not latency).

The caller's turn is taken as one utterance (pauses continue it), as the turn taker does when
the check holds the turn. Nothing here was tuned on: the recordings come from public test sets.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import webrtcvad

from benchmarks.asr.clips import transcribed_clips
from benchmarks.asr.score import errors
from voicebot.asr.whisper import WhisperASR
from voicebot.audio.pcm import load_audio
from voicebot.turns.processor import level_dbfs
from voicebot.turns.quiet_tail import QuietTail, pad_with_quiet

RATE = 16000
FRAME_MS = 20
START_MS, STOP_MS = 60, 150
TAIL_S = 0.6
LINE_FLOOR_DBFS = -70.0
ZH_PROMPT = "以下是普通话的句子。"


@dataclass
class Walk:
    stop_ms: float | None  # the last VAD stop (the check starts here without an early one)
    early_ms: float | None  # the standing early check's start (its audio's end), if any
    dropped: int  # early checks dropped on the way


def walk(pcm: np.ndarray, quiet_db: float, early_ms: float) -> Walk:
    """The turn taker's view of one clip: VAD start/stop and the early checks, as the engine runs them."""
    vad = webrtcvad.Vad(2)
    n = RATE * FRAME_MS // 1000
    tail = QuietTail(quiet_db, early_ms)
    speaking, voiced_run, quiet_run = False, 0, 0
    stop_ms = early = adopted = None
    dropped = 0
    for i in range(len(pcm) // n):
        b = pcm[i * n:(i + 1) * n].tobytes()
        voiced = any(vad.is_speech(b[k:k + 320], RATE) for k in (0, 320))
        voiced_run = voiced_run + FRAME_MS if voiced else 0
        quiet_run = 0 if voiced else quiet_run + FRAME_MS
        t = (i + 1) * FRAME_MS
        if not speaking and voiced_run >= START_MS:
            speaking, adopted = True, None  # (the caller went on: a check adopted at the last stop is discarded)
            tail.drop()
        if speaking:
            if not tail.observe(level_dbfs(b), FRAME_MS, voiced):
                dropped += 1
            elif tail.ready():
                tail.seq, early = 1, t
            if quiet_run >= STOP_MS:
                speaking, stop_ms = False, t
                adopted = early if tail.seq is not None else None
                tail.drop()
    return Walk(stop_ms, adopted, dropped)


def line_silence(ms: float) -> np.ndarray:
    rng = np.random.default_rng(7)
    amp = 32768 * 10 ** (LINE_FLOOR_DBFS / 20)
    return (rng.standard_normal(int(RATE * ms / 1000)) * amp).astype(np.int16)


def run(model_dir: Path, configs: list[str]) -> dict:
    asr = WhisperASR(model_dir, dev=False, num_workers=1).windowed(0)
    clips = transcribed_clips(max_s=14.0)
    audio = {c.path: np.concatenate([load_audio(c.path, RATE), line_silence(TAIL_S * 1000)]) for c in clips}
    decoded: dict[tuple[Path, int], str] = {}

    def text(c, end_ms: float, pad_ms: float = 0.0, early_ms: float = 0.0) -> str:
        key = (c.path, int(end_ms), int(pad_ms))
        if key not in decoded:
            pcm = audio[c.path][: int(RATE * end_ms / 1000)]
            if pad_ms:  # as the engine pads it: the quiet just heard, repeated
                raw = pad_with_quiet(pcm.tobytes(), int(RATE * 2 * early_ms / 1000), int(RATE * 2 * pad_ms / 1000))
                pcm = np.frombuffer(raw, dtype=np.int16)
            decoded[key] = asr.transcribe(pcm, c.language, prompt=ZH_PROMPT if c.language == "zh" else None).text
        return decoded[key]

    table: dict = {}
    for config in configs:
        quiet_db, early_ms, *pad = (float(x) for x in config.split(":"))
        pad_ms = pad[0] if pad else 0.0
        per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # regular edits, early edits, ref length
        gains, dropped, stood, rows = [], 0, 0, []
        for c in clips:
            w = walk(audio[c.path], quiet_db, early_ms)
            if w.stop_ms is None:
                continue
            regular = text(c, w.stop_ms)
            e_reg, n = errors(c.reference, regular, c.language)
            early_text = text(c, w.early_ms, pad_ms, early_ms) if w.early_ms is not None else regular
            e_early, _ = errors(c.reference, early_text, c.language)
            per_lang[c.language][0] += e_reg
            per_lang[c.language][1] += e_early
            per_lang[c.language][2] += n
            dropped += w.dropped
            if w.early_ms is not None:
                stood += 1
                gains.append(w.stop_ms - w.early_ms)
            rows.append({"clip": str(c.path.name), "language": c.language, "stop_ms": w.stop_ms, "early_ms": w.early_ms,
                         "dropped": w.dropped, "regular": regular, "early": early_text})
        reg = sum(v[0] for v in per_lang.values()) / max(1, sum(v[2] for v in per_lang.values()))
        ear = sum(v[1] for v in per_lang.values()) / max(1, sum(v[2] for v in per_lang.values()))
        table[config] = {"error_at_vad_stop": round(reg, 4), "error_early": round(ear, 4), "clips": len(rows), "early_stood": stood,
                         "gain_ms_median": float(np.median(gains)) if gains else None, "dropped_early_checks": dropped,
                         "per_language": {k: {"at_vad_stop": round(v[0] / max(1, v[2]), 3), "early": round(v[1] / max(1, v[2]), 3)}
                                          for k, v in sorted(per_lang.items())},
                         "changed": [r for r in rows if r["early"] != r["regular"]]}
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="var/models/whisper-base")
    p.add_argument("--configs", default="35:60:0,35:60:300,25:60:300,35:100:300")
    p.add_argument("--out")
    args = p.parse_args(argv)
    table = run(Path(args.model), [c.strip() for c in args.configs.split(",") if c.strip()])
    for config, row in table.items():
        print(f"{config:>8}  error at VAD stop {row['error_at_vad_stop']:.3f}  early {row['error_early']:.3f}  "
              f"early stood {row['early_stood']}/{row['clips']}  gain p50 {row['gain_ms_median']} ms  dropped {row['dropped_early_checks']}")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
