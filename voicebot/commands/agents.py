"""``voicebot agents add|list|remove``: the agent desk's accounts (passwords hashed with scrypt).

The password is asked on the terminal, or read from standard input with ``--password-stdin``
(scripts, containers, CI: ``printf '%s\\n' "$PW" | voicebot agents add maria --languages es,en
--password-stdin``); it is never an argument, where ``ps`` and shell history would show it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_PASSWORD = 8


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    add = sub.add_parser("add", help="add an agent (asks for the password, or reads it from stdin with --password-stdin)",
                         description="add or replace an agent account")
    add.add_argument("id", help="sign-in name, e.g. maria")
    add.add_argument("--name", help="display name (default: the id)")
    add.add_argument("--languages", required=True, help="ISO 639-1 codes the shop serves (shop.languages), best first, e.g. es,en")
    add.add_argument("--skills", default="", help="e.g. returns,payments,vip")
    add.add_argument("--timezone", help="IANA time zone, e.g. Europe/Madrid (default: the shop's, shop.hours.timezone)")
    add.add_argument("--hours", default="9-17",
                     help='weekly shift in that time zone: "9-17" (whole hours, Mon-Fri), "mon-fri 09:00-17:00; sat 10:00-14:00", '
                          '"sun-thu 22:00-06:00" (overnight) or "24/7" (default 9-17)')
    add.add_argument("--contact", help="phone number or SIP URI for voice transfers (default: desk only)")
    add.add_argument("--translation", action="store_true", help="takes calls in other languages through live translation")
    add.add_argument("--supervisor", action="store_true", help="may see every agent's calls")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    sub.add_parser("list", help="list agents", description="list agent accounts")
    remove = sub.add_parser("remove", help="remove an agent (their sessions end at once)", description="remove an agent account")
    remove.add_argument("id", help="sign-in name")


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from voicebot.config import load_settings

    return load_settings(args.config)


def _accounts(settings):  # type: ignore[no-untyped-def]
    from voicebot.handoff.auth import Accounts

    Path(settings.home).mkdir(parents=True, exist_ok=True)
    return Accounts(Path(settings.home) / "handoff.sqlite3")


def _fail(message: str) -> int:
    print(f"voicebot agents: {message}", file=sys.stderr)
    return 2


def read_password(agent_id: str, from_stdin: bool) -> str | None:
    """The password from stdin (``--password-stdin``) or the terminal; None when there is no way to ask."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n") if line else None
    if not sys.stdin.isatty():
        return None
    try:
        return getpass.getpass(f"password for {agent_id}: ")
    except (EOFError, getpass.GetPassWarning):
        return None


def _hours(text: str) -> str:
    """The shift's canonical text (:mod:`voicebot.handoff.hours`): ``9-17`` is Mon-Fri 09:00-17:00."""
    from voicebot.handoff.hours import ShiftError, normalize_shift

    try:
        return normalize_shift(text)
    except ShiftError as exc:
        raise ValueError(f"--hours {text!r}: write START-END in whole hours (9-17, Mon-Fri) or a weekly shift, "
                         f"e.g. \"mon-fri 09:00-17:00; sat 10:00-14:00\" or \"24/7\" ({exc})") from None


def _add(args: argparse.Namespace, settings, accounts) -> int:  # type: ignore[no-untyped-def]
    from voicebot.handoff.routing import Agent
    from voicebot.shop import parse_languages

    try:
        languages = parse_languages(args.languages, served=settings.shop.languages, what="--languages")
    except ValueError as exc:
        return _fail(f"--languages: {exc}")
    try:
        hours = _hours(args.hours)
    except ValueError as exc:
        return _fail(str(exc))
    args.timezone = args.timezone or settings.shop.hours.timezone
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"--timezone {args.timezone!r} is not an IANA time zone; write e.g. Europe/Madrid or America/New_York")
    try:  # checked before the password is asked for
        skills = tuple(x.strip() for x in args.skills.split(",") if x.strip())
        agent = Agent(id=args.id, name=args.name or args.id, languages=languages, skills=skills, timezone=args.timezone, hours=hours, contact=args.contact, translation=args.translation, supervisor=args.supervisor)
    except ValueError as exc:  # ShiftError: a shift the schedule cannot hold
        return _fail(f"--hours {args.hours!r} / --timezone {args.timezone!r}: {exc}")
    password = read_password(args.id, args.password_stdin)
    if password is None:
        return _fail("no terminal to ask for the password; pipe it in with --password-stdin, e.g.\n"
                     f"  printf '%s\\n' \"$PASSWORD\" | voicebot agents add {args.id} --languages {args.languages} --password-stdin")
    if len(password) < MIN_PASSWORD:
        return _fail(f"use a password of at least {MIN_PASSWORD} characters")
    accounts.add(agent, password, role="supervisor" if args.supervisor else "agent")
    print(f"agent {args.id} saved ({', '.join(agent.languages)}; {args.timezone} {args.hours}): on shift {agent.schedule.summary()}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action is None:
        return _fail("say what to do: add, list or remove (voicebot agents --help)")
    settings = _settings(args)
    accounts = _accounts(settings)
    try:
        if args.action == "add":
            return _add(args, settings, accounts)
        if args.action == "remove":
            if not accounts.remove(args.id):
                print(f"voicebot agents remove: there is no agent {args.id!r} (voicebot agents list shows them)", file=sys.stderr)
                return 1
            print(f"agent {args.id} removed; their desk sessions ended")
            return 0
        agents = accounts.list_agents()
        if not agents:
            print("no agents yet; add one with: voicebot agents add NAME --languages en")
        for agent in agents:
            print(f"{agent.id:16} {','.join(agent.languages):10} {agent.timezone:20} {agent.hours:28} {','.join(agent.skills):16} "
                  f"{'supervisor' if agent.supervisor else ''}".rstrip())
        return 0
    finally:
        accounts.close()
