"""``voicebot kb check``: report every knowledge-base entry or reply template that is missing a
language or whose placeholders differ between languages."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .kb import KbError, load_kb
from .nlu_types import LANGUAGES
from .templates import Templates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kb_command", metavar="ACTION")
    check = sub.add_parser("check", help="report entries missing a language (exit 1 if any)")
    check.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated ISO codes (default: all 14)")
    check.add_argument("--json", action="store_true", help="one JSON object instead of text")
    check.add_argument("--dir", type=Path, help="a knowledge-base folder of *.yaml files (default: the built-in one)")
    show = sub.add_parser("show", help="print one entry in one language")
    show.add_argument("entry")
    show.add_argument("--lang", default="en")


def run(args: argparse.Namespace) -> int:
    try:
        kb = load_kb(directory=getattr(args, "dir", None))
        templates = Templates.load()
    except (KbError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "kb_command", None) == "show":
        try:
            print(kb.say(args.entry, args.lang) if kb.get(args.entry).text else kb.name(args.entry, args.lang))
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
        return 0
    languages = tuple(x.strip() for x in getattr(args, "languages", ",".join(LANGUAGES)).split(",") if x.strip())
    problems = kb.check(languages) + templates.check(languages)
    if getattr(args, "json", False):
        print(json.dumps({"entries": len(kb.entries), "templates": len(templates.table), "languages": list(languages),
                          "problems": [str(p) for p in problems]}, ensure_ascii=False))
    else:
        for p in problems:
            print(p)
        print(f"{len(kb.entries)} entries, {len(templates.table)} templates, {len(languages)} languages: "
              + ("complete" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0
