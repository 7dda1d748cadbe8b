"""``voicebot replay CALLER_AUDIO --out DIR``: a recorded caller through the call pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("audio", help="the caller's recording (wav, flac, ogg, mp3; any rate, mixed to mono)")
    p.add_argument("--out", required=True, help="folder for bot.wav, call.wav (L caller, R bot), events.jsonl, summary.json")
    p.add_argument("--pipeline", help="pipeline definition (default: settings, pipelines/phone.yaml)")
    p.add_argument("--fast", action="store_true", help="virtual clock: as fast as the machine goes; timings are about logic, not speed")
    p.add_argument("--rate", type=int, default=16000, choices=(8000, 16000), help="line sample rate (8000 = telephone)")
    p.add_argument("--demo", action="store_true", help="answer from the sample order store when no dialogue.order_store is set")
    p.add_argument("--language", help="the caller's language if known (like an in-app token): an ISO code the shop serves, e.g. de")


def run(args: argparse.Namespace) -> int:
    from voicebot.audio.pcm import load_audio
    from voicebot.channels.replay import ReplayOptions, replay_call, summarize, write_summary
    from voicebot.config import load_settings
    from voicebot.runtime import Runtime

    from voicebot.shop import parse_languages

    settings = load_settings(args.config)
    if args.pipeline:
        settings.pipeline = Path(args.pipeline)
    if args.language is not None:
        try:
            args.language = parse_languages(args.language, served=settings.shop.languages, what="--language")[0]
        except ValueError as exc:
            print(f"voicebot replay: --language {exc}", file=sys.stderr)
            return 2
    try:
        caller = load_audio(args.audio, args.rate)
    except ValueError as exc:
        print(f"voicebot replay: {exc}", file=sys.stderr)
        return 2
    from voicebot.commands.order_store import order_store_problem

    no_store = order_store_problem(settings, args.demo)
    if no_store:
        print(f"voicebot replay: {no_store}", file=sys.stderr)
        return 2
    runtime = Runtime(settings)
    out = Path(args.out)

    async def go():
        runtime.warm_up(runtime.spec())
        return await replay_call(runtime, caller, ReplayOptions(fast=args.fast, sample_rate=args.rate, language=args.language))

    try:
        result = asyncio.run(go())
    finally:
        runtime.close()
    paths = result.write(out)
    summary = summarize(result)
    summary["mode"] = "fast (virtual clock)" if args.fast else "real-time"
    write_summary(out, summary)
    if summary["dev_models"]:
        print(f"WARNING: {summary['warning']} ({', '.join(summary['dev_models'])})", file=sys.stderr)
    print(json.dumps({"out": str(out), **{k: str(v) for k, v in paths.items()}, "median": summary["median"], "turns": summary["turns"],
                      "interruptions": summary["interruptions"], "bot_audio_s": summary["bot_audio_s"]}, indent=2))
    return 0
