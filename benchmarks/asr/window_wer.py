"""Recognition error and decode time of the real Whisper per encoder-window policy, per language.

    python -m benchmarks.asr.window_wer [--configs 30,fit1,...] [--out benchmarks/asr/window_wer.json]

Configurations: ``30`` (Whisper's own 30 s window), ``10`` (a fixed 10 s window), ``fitP``
(fitted: the utterance + P s), ``fitP-mM`` (fitted, at least M s). Every clip is decoded with
the call's language given (as in a call once the language is held), greedy, no prompt except
the simplified-Chinese one for zh. The decode times are this machine's; compare configurations
within one run only.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.asr.clips import transcribed_clips
from benchmarks.asr.score import errors, unit
from voicebot.asr.whisper import WhisperASR
from voicebot.audio.pcm import load_audio

ZH_PROMPT = "以下是普通话的句子。"


def view(asr: WhisperASR, config: str) -> WhisperASR:
    import dataclasses

    if config.startswith("fit"):
        pad, _, minimum = config[3:].partition("-m")
        v = asr.windowed(0)
        v.options = dataclasses.replace(v.options, fit_pad_s=float(pad), fit_min_s=float(minimum or 0))
        return v
    return asr.windowed(float(config))


def run(model_dir: Path, configs: list[str], repeats: int = 1) -> dict:
    asr = WhisperASR(model_dir, dev=False, num_workers=1)
    clips = transcribed_clips()
    audio = {c.path: load_audio(c.path, 16000) for c in clips}
    asr.transcribe(audio[clips[0].path], clips[0].language)  # warm
    table: dict = {}
    for config in configs:
        v = view(asr, config)
        per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        times, rows = [], []
        for c in clips:
            best = None
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = v.transcribe(audio[c.path], c.language, prompt=ZH_PROMPT if c.language == "zh" else None)
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            e, n = errors(c.reference, res.text, c.language)
            per_lang[c.language][0] += e
            per_lang[c.language][1] += n
            per_lang[c.language][2] += 1
            times.append(best)
            rows.append({"clip": str(c.path.relative_to(c.path.parents[1])), "language": c.language, "errors": e, "length": n,
                         "text": res.text, "ms": round(best * 1000, 1)})
        total_e = sum(v[0] for v in per_lang.values())
        total_n = sum(v[1] for v in per_lang.values())
        table[config] = {
            "languages": {lang: {"unit": unit(lang), "rate": round(e / n, 4), "clips": k} for lang, (e, n, k) in sorted(per_lang.items())},
            "overall": round(total_e / total_n, 4), "mean_ms": round(1000 * sum(times) / len(times), 1), "rows": rows,
        }
        print(f"{config:10} overall {table[config]['overall']:.3f}  mean {table[config]['mean_ms']:.0f} ms  "
              + "  ".join(f"{lang} {d['rate']:.2f}" for lang, d in table[config]["languages"].items()), flush=True)
    return {"model": model_dir.name, "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "clips": len(clips), "configs": table}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="var/models/whisper-base")
    p.add_argument("--configs", default="30,fit1,fit2,fit1-m8,fit1-m10,10")
    p.add_argument("--repeats", type=int, default=1, help="time each clip this many times, keep the fastest")
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    result = run(Path(args.model), args.configs.split(","), args.repeats)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
