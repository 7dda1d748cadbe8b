"""``voicebot kb check``: report every knowledge-base entry or reply template that is missing one
of the shop's languages, whose placeholders differ between languages, or that the call flows
need and cannot find. It checks what ``voicebot serve`` would load: the built-in knowledge
base with the shop's own (``dialogue.kb_dir``) laid over it, and the packs' templates with the
shop's override file, in the languages the shop serves (``shop.languages``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .kb import KbError
from .kb.knowledge import load_shop_kb
from .templates import Templates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kb_command", metavar="ACTION")
    check = sub.add_parser("check", help="report entries missing a language (exit 1 if any)")
    check.add_argument("--languages", help="comma-separated ISO codes (default: the shop's, shop.languages)")
    check.add_argument("--json", action="store_true", help="one JSON object instead of text")
    check.add_argument("--dir", type=Path, help="the shop's knowledge-base folder of *.yaml files (default: dialogue.kb_dir, else <home>/kb)")
    show = sub.add_parser("show", help="print one entry in one language")
    show.add_argument("entry")
    show.add_argument("--lang", default="en")


def _fail(message: str) -> int:
    print(f"voicebot kb: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings
    from ..shop import parse_languages
    from .engine import kb_folder, options_from_settings
    from .flows import missing_kb_entries

    settings = load_settings(getattr(args, "config", None))
    options = options_from_settings(settings)
    shop = settings.shop
    folder = getattr(args, "dir", None) or kb_folder(settings, options)
    if getattr(args, "dir", None) is not None and not Path(folder).is_dir():
        return _fail(f"knowledge base folder {folder} does not exist")
    try:
        kb = load_shop_kb(folder, replace_builtin=options.kb_replace_builtin, fallback=shop.default_language)
        templates = Templates.load(override=options.templates_file, fallback=shop.default_language)
    except (KbError, ValueError) as exc:
        return _fail(str(exc))
    if getattr(args, "kb_command", None) == "show":
        try:
            print(kb.say(args.entry, args.lang) if kb.get(args.entry).text else kb.name(args.entry, args.lang))
        except KeyError as exc:
            return _fail(exc.args[0])
        return 0
    raw = getattr(args, "languages", None)
    try:
        languages = parse_languages(raw, what="--languages") if raw else shop.languages
    except ValueError as exc:
        return _fail(f"--languages: {exc}")
    missing = missing_kb_entries(kb.entries)
    problems = [f"{folder}: the call flows need {m}, which is missing" for m in missing]
    problems += [str(p) for p in kb.check(languages) + templates.check(languages)]
    if getattr(args, "json", False):
        print(json.dumps({"entries": len(kb.entries), "templates": len(templates.table), "languages": list(languages),
                          "problems": problems}, ensure_ascii=False))
    else:
        for p in problems:
            print(p)
        print(f"{len(kb.entries)} entries, {len(templates.table)} templates, {len(languages)} languages "
              f"({', '.join(languages)}): " + ("complete" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0
