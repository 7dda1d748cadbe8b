"""``voicebot bench SCENARIOS... --out DIR``: replay scenarios, write report.json/.md and plots.

Exit status: 0 all expectations met; 1 a scenario's expectations failed; 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shlex
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", help="scenario files or folders (*.yaml; format in benchmarks/README.md)")
    p.add_argument("--out", required=True, help="folder for report.json, report.md and the plots")
    p.add_argument("--pipeline", help="pipeline definition to measure (default: settings, pipelines/phone.yaml)")
    p.add_argument("--baseline", choices=("stock",), help="also run pipecat's stock configuration and report ours/stock ratios")
    p.add_argument("--asr", choices=("model", "oracle"), default="model", help="oracle: the scenario text instead of recognition")
    p.add_argument("--concurrency", type=int, default=1, help="run N copies of each scenario at once")
    p.add_argument("--sweep", help="capacity sweep: comma-separated concurrency levels on the first scenario, e.g. 1,2,4,8")
    p.add_argument("--spread", type=float, default=0.0, metavar="SECONDS",
                   help="the concurrent calls start spread evenly over this many seconds (default 0: all at once, the worst case)")
    p.add_argument("--fast", action="store_true", help="virtual clock (CI): figures about logic, not speed")
    p.add_argument("--save-calls", action="store_true", help="also write each call's events.jsonl and call.wav under OUT/calls/")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-warm", action="store_true", help="do not pre-render the fixed sentences first (serve does it in the background)")


def machine() -> str:
    mem = ""
    try:
        kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} usable cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}, {'GPU present (not used by the CPU models)' if shutil.which('nvidia-smi') else 'no GPU'}"


async def _bench(args: argparse.Namespace, runtime, scenarios, progress) -> dict[str, Any]:
    from benchmarks.harness import capacity
    from benchmarks.harness.baseline import NOTES, StockCallSession
    from benchmarks.harness.metrics import by_language, ratios, summarize_runs
    from benchmarks.harness.runner import BenchOptions, run_all

    out = Path(args.out)
    opts = BenchOptions(fast=args.fast, asr=args.asr, concurrency=max(1, args.concurrency), spread_s=max(0.0, args.spread),
                        save_calls=out / "calls" if args.save_calls else None, save_audio=args.save_calls)
    spec = runtime.spec()
    if args.asr == "model":
        await asyncio.to_thread(runtime.warm_up, spec)
    if not args.fast and not args.no_warm:
        # As serve does in the background: the fixed sentences come from the voice cache, for both
        # arms alike. Rendered once per machine (minutes per Kokoro language), then read from disk.
        from voicebot.tts.warm import warm

        languages = tuple(sorted({s.language for s in scenarios} & set(runtime.languages)))
        warmed = await asyncio.to_thread(warm, runtime.voices(spec), runtime.fixed_phrases(spec, languages))
        print(f"voice cache ({', '.join(languages)}): {warmed.line()}", file=sys.stderr)
    ours = await run_all(runtime, scenarios, opts, variant="ours", spec=spec, progress=progress)
    dev = any(s.get("dev_models") for s in ours)
    oracle = args.asr == "oracle"
    report: dict[str, Any] = {"voice_cache": "off (--no-warm)" if args.no_warm else "fixed sentences pre-rendered, as serve does",
                              "summary": summarize_runs(ours, dev_models=dev, oracle=oracle),
                              "by_language": by_language(ours, dev_models=dev, oracle=oracle), "scenarios": ours}
    if args.baseline == "stock":
        stock = await run_all(runtime, scenarios, opts, variant="stock", spec=spec, session_factory=StockCallSession, progress=progress)
        sdev = any(s.get("dev_models") for s in stock)
        ssum = summarize_runs(stock, dev_models=sdev, oracle=oracle)
        report["baseline"] = {"name": "pipecat-stock", "summary": ssum, "scenarios": stock, "notes": NOTES}
        report["ratios"] = ratios(report["summary"], ssum)
    if args.sweep:
        levels = []
        for n in sorted({int(x) for x in args.sweep.split(",") if x.strip()}):
            res = await run_all(runtime, scenarios[:1], replace(opts, concurrency=n, save_calls=None), variant=f"sweep{n}", spec=spec)
            levels.append(capacity.level_figures(n, res, capacity.rss_mb()))
        report["capacity"] = capacity.judge(levels)
    return report


def run(args: argparse.Namespace) -> int:
    from benchmarks.harness.scenario import ScenarioError, load_scenarios
    from voicebot.config import load_settings
    from voicebot.runtime import Runtime

    try:
        scenarios = load_scenarios(args.scenarios)
    except ScenarioError as exc:
        print(f"voicebot bench: scenarios are invalid, nothing was run:\n{exc}", file=sys.stderr)
        return 2
    from benchmarks.harness.scenario import RUNNABLE_CHANNELS

    unsupported = sorted({s.channel for s in scenarios} - set(RUNNABLE_CHANNELS))
    if unsupported:
        print(f"voicebot bench: channel(s) {unsupported} are not run by the bench yet; use channel: direct (the replay line), twilio, sip or webrtc",
              file=sys.stderr)
        return 2
    if args.fast and any(s.channel in ("twilio", "sip", "webrtc") for s in scenarios):
        print("voicebot bench: channels twilio, sip and webrtc run over their real transport at real-time pace; drop --fast (or use channel: direct)",
              file=sys.stderr)
        return 2
    if args.baseline and args.fast:
        print("voicebot bench: --baseline stock runs at real-time pace only (pipecat's turn strategies time out on the wall clock); drop --fast",
              file=sys.stderr)
        return 2
    if (args.sweep or args.spread) and args.fast:
        print("voicebot bench: --sweep and --spread measure real-time capacity; drop --fast", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    if args.pipeline:
        settings.pipeline = Path(args.pipeline)
    if settings.dialogue.order_store is None:  # the scenarios are written against the sample store's orders
        settings.dialogue.order_store = "demo"
    runtime = Runtime(settings)
    total = len(scenarios) * max(1, args.concurrency) * (2 if args.baseline else 1)
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(total=total, unit="call", file=sys.stderr, desc="bench")
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        report = asyncio.run(_bench(args, runtime, scenarios, progress))
    finally:
        if progress is not None:
            progress.close()
        runtime.close()
    spec = runtime.spec()
    try:
        asr_model = runtime.asr_model_info(spec).name if args.asr == "model" else "oracle"
    except Exception as exc:  # the model folder may be missing; the run already said so
        asr_model = f"unknown ({exc})"
    report["meta"] = {"started": started, "command": "voicebot " + " ".join(shlex.quote(a) for a in sys.argv[1:]), "machine": machine(), "mode": "fast (virtual clock)" if args.fast else "real-time",
                      "asr": args.asr, "asr_model": asr_model, "pipeline": str(spec.source or spec.name), "concurrency": args.concurrency,
                      "spread_s": args.spread}
    from benchmarks.harness.report import write_report

    paths = write_report(report, Path(args.out), plots=not args.no_plots)
    s = report["summary"]
    failed = [sc for sc in report["scenarios"] if not sc.get("passed")]
    clear = f"; onset->clear p50 {s['clear_p50_ms']} ms, p95 {s['clear_p95_ms']} ms" if s.get("clear_n") else ""
    print(f"v2v p50 {s['v2v_p50_ms']} ms, p95 {s['v2v_p95_ms']} ms; barge-in p95 {s['barge_in_p95_ms']} ms{clear}; "
          f"false {s['false_barge_in_rate']}, missed {s['missed_barge_in_rate']}; task success {s['task_success']}; report: {paths['md']}")
    if s["dev_models"]:
        print("WARNING: dev models (random weights) in use: accuracy figures are not measured", file=sys.stderr)
    for sc in failed:
        bad = "; ".join(f"{c['check']}: expected {c['expected']}, got {c['actual']}" for c in sc["checks"] if c["ok"] is False)
        print(f"FAILED {sc['name']}: {bad}", file=sys.stderr)
    return 1 if failed else 0
