"""``voicebot agents add|list|remove``: the agent desk's accounts (passwords hashed with scrypt)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    add = sub.add_parser("add", help="add an agent (asks for the password, or reads it from stdin with --password-stdin)",
                         description="add or replace an agent account")
    add.add_argument("id", help="sign-in name, e.g. maria")
    add.add_argument("--name", help="display name (default: the id)")
    add.add_argument("--languages", required=True, help="ISO 639-1 codes, best first, e.g. es,en")
    add.add_argument("--skills", default="", help="e.g. returns,payments,vip")
    add.add_argument("--timezone", default="UTC", help="IANA time zone of the agent's hours, e.g. Europe/Madrid (default UTC)")
    add.add_argument("--hours", default="mon-fri 09:00-17:00",
                     help='weekly shift in that time zone, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00", "sun-thu 22:00-06:00" '
                          '(overnight) or "24/7" (default mon-fri 09:00-17:00)')
    add.add_argument("--contact", help="phone number or SIP URI for voice transfers (default: desk only)")
    add.add_argument("--translation", action="store_true", help="takes calls in other languages through live translation")
    add.add_argument("--supervisor", action="store_true", help="may see every agent's calls")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("list", help="list agents", description="list agent accounts")


def _accounts(args):
    from voicebot.config import load_settings
    from voicebot.handoff.auth import Accounts

    settings = load_settings(args.config)
    Path(settings.home).mkdir(parents=True, exist_ok=True)
    return Accounts(Path(settings.home) / "handoff.sqlite3")


def run(args: argparse.Namespace) -> int:
    from voicebot.handoff.routing import Agent

    accounts = _accounts(args)
    if args.action == "add":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(f"password for {args.id}: ")
        if len(password) < 8:
            print("voicebot agents add: use a password of at least 8 characters", file=sys.stderr)
            return 2
        from voicebot.handoff.hours import ShiftError, normalize_shift

        try:
            agent = Agent(id=args.id, name=args.name or args.id, languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
                          skills=tuple(x.strip() for x in args.skills.split(",") if x.strip()), timezone=args.timezone,
                          hours=normalize_shift(args.hours), contact=args.contact, translation=args.translation, supervisor=args.supervisor)
        except ShiftError as exc:
            print(f"voicebot agents add: --hours {args.hours!r} / --timezone {args.timezone!r}: {exc}", file=sys.stderr)
            return 2
        accounts.add(agent, password, role="supervisor" if args.supervisor else "agent")
        print(f"agent {args.id} saved ({', '.join(agent.languages)}; {agent.schedule.summary()})")
        return 0
    lister = getattr(accounts, "list_agents", None) or getattr(accounts, "agents", None)
    if lister is None:
        print("listing is not supported by this accounts store", file=sys.stderr)
        return 2
    for agent in lister():
        print(f"{agent.id:16} {','.join(agent.languages):10} {agent.timezone:20} {agent.hours:28} {','.join(agent.skills):16} "
              f"{'supervisor' if agent.supervisor else ''}".rstrip())
    return 0
