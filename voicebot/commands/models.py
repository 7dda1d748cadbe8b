"""``voicebot models list|pull NAME|build-dev``."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="models in the models folder, dev or real", description="list models in the models folder")
    pull = sub.add_parser("pull", help="download a real model from the hub (resumable, checksummed)", description="download a real model by name")
    pull.add_argument("name", help="e.g. whisper-base, whisper-small, whisper-large-v3, xtts-v2")
    dev = sub.add_parser("build-dev", help="build random-weight dev models offline (latency/cost only)",
                         description="build architecture-identical random-weight models: whisper-tiny-dev, whisper-base-dev, vits-dev")
    dev.add_argument("--force", action="store_true", help="rebuild even when present")
    dev.add_argument("names", nargs="*", help="subset to build (default: all)")


def run(args: argparse.Namespace) -> int:
    from voicebot.config import load_settings
    from voicebot.models.registry import DEV_MODELS, build_dev_models, list_models

    settings = load_settings(args.config)
    models_dir = settings.models.dir
    action = args.action or "list"
    if action == "list":
        models = list_models(models_dir)
        if not models:
            print(f"no models in {models_dir}; run `voicebot models build-dev` (offline) or `voicebot models pull whisper-base`")
        for m in models:
            flag = "DEV (random weights)" if m.dev else "real"
            print(f"{m.name:24} {m.kind:4} {m.engine:15} {flag:22} {m.path}")
        return 0
    if action == "pull":
        from voicebot.models.pull import OfflineError, pull

        try:
            path = pull(args.name, models_dir)
        except OfflineError as exc:
            print(f"voicebot models pull: {exc}", file=sys.stderr)
            return 3
        except KeyError as exc:
            print(f"voicebot models pull: {exc.args[0]}", file=sys.stderr)
            return 2
        print(f"pulled {args.name} into {path}")
        return 0
    unknown = [n for n in args.names if n not in DEV_MODELS]
    if unknown:
        print(f"voicebot models build-dev: unknown {unknown}; choose from {list(DEV_MODELS)}", file=sys.stderr)
        return 2
    built = build_dev_models(models_dir, args.names or None, force=args.force)
    for m in built:
        print(f"built {m.name} (DEV, random weights) in {m.path}")
    if not built:
        print(f"dev models already present in {models_dir} (use --force to rebuild)")
    return 0
