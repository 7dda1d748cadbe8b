"""``voicebot voices warm``: pre-render the shop's fixed sentences in every neural voice.

``serve`` runs this in the background at start (settings ``models.warm_voices``); run it by hand
after changing templates or the knowledge base, or to see how long it takes.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    w = sub.add_parser("warm", help="pre-render fixed sentences into the disk cache (<home>/cache/tts)")
    w.add_argument("--languages", help="comma-separated ISO codes (default: the languages the shop serves, shop.languages)")
    w.add_argument("--quiet", action="store_true", help="print only the summary line")
    w.add_argument("--demo", action="store_true", help="the sample order store when no dialogue.order_store is set (as serve --demo)")


def run(args: argparse.Namespace) -> int:
    from voicebot.config import load_settings
    from voicebot.runtime import Runtime
    from voicebot.tts.warm import warm

    from voicebot.commands.order_store import order_store_problem

    settings = load_settings(args.config)
    no_store = order_store_problem(settings, args.demo)  # the fixed sentences read no orders, but the dialogue loads a store
    if no_store:
        print(f"voicebot voices warm: {no_store}", file=sys.stderr)
        return 2
    runtime = Runtime(settings)
    spec = runtime.spec()
    languages = tuple(x.strip() for x in args.languages.split(",") if x.strip()) if args.languages else None
    unknown = sorted(set(languages or ()) - set(runtime.languages))
    if unknown:
        print(f"voicebot voices warm: unknown language(s) {', '.join(unknown)}; known: {', '.join(runtime.languages)}", file=sys.stderr)
        return 2
    phrases = runtime.fixed_phrases(spec, languages)
    catalog = runtime.voices(spec)

    def said(lang: str, text: str) -> None:
        if not args.quiet:
            print(f"[{lang}] {text}", flush=True)

    import os

    parent = os.getppid()  # serve starts this: when serve is gone (even killed), stop after the current sentence

    try:
        report = warm(catalog, phrases, progress=said, stop=lambda: os.getppid() != parent)
    except KeyboardInterrupt:
        print("voicebot voices warm: stopped; what was rendered is kept", file=sys.stderr)
        return 130
    finally:
        runtime.close()
    print(f"voices warm: {report.line()} -> {runtime.tts_cache_dir}")
    return 0 if report.failed == 0 else 1
