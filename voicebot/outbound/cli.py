"""``voicebot campaign``: start, pause, resume and watch outbound campaigns; the do-not-call list;
consent. Writes go to the same database as ``voicebot serve`` (settings store.url), where the
scheduler of a serving process (``outbound.enabled``) picks them up; ``campaign run`` runs a
scheduler here instead (a dedicated dialer process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from .rules import RULES


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("start", help="start a campaign (again: adds only new matching orders; nobody is called twice)")
    s.add_argument("name", help="the campaign's name (letters, digits, - _ .)")
    s.add_argument("--rule", required=True, choices=RULES, help="late_parcel | customs_hold | damage_case")
    s.add_argument("--days", type=int, required=True, help="at least this many days late / held / open")
    s.add_argument("--channel", choices=("sip", "twilio"), help="default: outbound.channel")
    for name, what in (("pause", "stop placing new calls (calls in progress finish)"), ("resume", "place calls again"),
                       ("stop", "finish the campaign for good")):
        sub.add_parser(name, help=what).add_argument("name")
    sub.add_parser("list", help="every campaign with its outcomes")
    st = sub.add_parser("status", help="a campaign's outcome table and live calls")
    st.add_argument("name")
    st.add_argument("--watch", type=float, metavar="S", help="print again every S seconds until interrupted")
    st.add_argument("--json", action="store_true")
    d = sub.add_parser("dnc", help="the do-not-call list")
    d.add_argument("op", choices=("add", "remove", "list"))
    d.add_argument("number", nargs="?")
    d.add_argument("--reason", default="")
    c = sub.add_parser("consent", help="record a customer's consent to calls (outbound.require_consent)")
    c.add_argument("op", choices=("grant", "revoke", "show"))
    c.add_argument("customer", nargs="?", help="customer id (e.g. C001)")
    c.add_argument("--all-customers", action="store_true", help="every customer of the order store (demo data only)")
    c.add_argument("--source", default="cli", help="where the consent comes from (a form, a call...)")
    r = sub.add_parser("run", help="run the scheduler in this process until interrupted")
    r.add_argument("--sip", action="store_true", help="dial over SIP from this process (settings sip.*)")
    r.add_argument("--once", action="store_true", help="one scheduling pass, wait for its calls, exit")


def _fail(message: str) -> int:
    print(f"voicebot campaign: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from voicebot.config import load_settings

    settings = load_settings(args.config)
    try:
        return asyncio.run(_run(args, settings))
    except ValueError as exc:  # CampaignError, CampaignConflict, bad settings: say what to change
        return _fail(str(exc))


async def _run(args: argparse.Namespace, settings: Any) -> int:
    from voicebot.records.store import open_store

    from .options import options_from_settings
    from .store import OutboundStore

    options = options_from_settings(settings)
    records = open_store(settings.store_url)
    store = OutboundStore(records)
    try:
        return await _action(args, settings, options, store)
    finally:
        records.close()


def _orders(settings: Any) -> Any:
    from voicebot.dialogue.engine import make_store, options_from_settings

    return make_store(settings, options_from_settings(settings))


async def _action(args: argparse.Namespace, settings: Any, options: Any, store: Any) -> int:
    from . import campaigns

    now = time.time()
    if args.action == "start":
        orders = _orders(settings)
        result = await campaigns.start(store, orders, args.name, args.rule, args.days, args.channel or options.channel, now,
                                       datetime.now(UTC).date(), by="cli")
        verb = "started" if result.created else "already existed; selected again"
        print(f"campaign {result.campaign.id} {verb}: {result.selected} orders match {args.rule} --days {args.days}, {result.added} new targets"
              + (f"; left out: {result.left_out}" if result.left_out else ""))
        if options.require_consent:
            missing = sum(1 for t in store.targets(args.name) if store.consent(t.customer_id) is None)
            if missing:
                print(f"note: {missing} customers have no recorded consent and will be skipped (outbound.require_consent); "
                      "record it with `voicebot campaign consent grant CUSTOMER`")
        if not options.enabled:
            print("note: no scheduler runs unless a serving process has outbound.enabled, or `voicebot campaign run` is running")
        return 0
    if args.action in ("pause", "resume", "stop"):
        status = {"pause": "paused", "resume": "running", "stop": "done"}[args.action]
        c = await campaigns.set_status(store, args.name, status, now)
        print(f"campaign {c.id}: {c.status}")
        return 0
    if args.action == "list":
        rows = store.campaigns()
        if not rows:
            print("no campaign yet: voicebot campaign start NAME --rule late_parcel --days 2")
        for c in rows:
            s = store.summary(c.id)
            print(f"{c.id:20} {c.status:8} {c.rule} --days {c.days} ({c.channel}) targets {s['targets']} outcomes {json.dumps(s['outcomes'])}")
        return 0
    if args.action == "status":
        return await _status(args, store)
    if args.action == "dnc":
        return _dnc(args, store, now)
    if args.action == "consent":
        return await _consent(args, settings, store, now)
    if args.action == "run":
        return await _run_scheduler(args, settings, options, store)
    return _fail(f"unknown action {args.action}")


async def _status(args: argparse.Namespace, store: Any) -> int:
    from .campaigns import outcome_rows

    while True:
        c = store.campaign(args.name)
        if c is None:
            return _fail(f"no campaign {args.name!r}; `voicebot campaign list` shows them")
        s = store.summary(c.id)
        live = store.attempts(c.id, live=True)
        if args.json:
            print(json.dumps({"campaign": c.__dict__, **s, "live": [a.__dict__ for a in live]}, default=str))
        else:
            print(f"campaign {c.id} ({c.status}): {c.rule} --days {c.days}, channel {c.channel}, {s['targets']} targets")
            print(f"  {'outcome':24} targets")
            for name, n in outcome_rows(s):
                print(f"  {name:24} {n}")
            print(f"  attempts by outcome: {json.dumps(s['attempts'])}; live now: {len(live)}")
        if not args.watch:
            return 0
        await asyncio.sleep(args.watch)


def _dnc(args: argparse.Namespace, store: Any, now: float) -> int:
    if args.op == "list":
        for phone, customer, reason, source, at in store.dnc():
            print(f"{phone:18} {customer or '-':8} {datetime.fromtimestamp(at, UTC):%Y-%m-%d} {source}: {reason}")
        return 0
    if not args.number:
        return _fail("give the number: voicebot campaign dnc add +441234567890")
    if args.op == "add":
        store.add_dnc(args.number, now, reason=args.reason, source="cli")
        print(f"{args.number} is on the do-not-call list")
    elif not store.remove_dnc(args.number):
        return _fail(f"{args.number} was not on the do-not-call list")
    else:
        print(f"{args.number} removed from the do-not-call list")
    return 0


async def _consent(args: argparse.Namespace, settings: Any, store: Any, now: float) -> int:
    if args.all_customers:
        customers = [c.id for c in await _orders(settings).all_customers()]
    elif args.customer:
        customers = [args.customer]
    else:
        return _fail("give a customer id, or --all-customers")
    for cid in customers:
        if args.op == "show":
            print(f"{cid}: {({True: 'granted', False: 'revoked', None: 'not recorded'})[store.consent(cid)]}")
        else:
            store.set_consent(cid, args.op == "grant", now, source=args.source)
    if args.op != "show":
        print(f"consent {args.op}ed for {len(customers)} customer(s)")
    return 0


async def _run_scheduler(args: argparse.Namespace, settings: Any, options: Any, store: Any) -> int:
    from voicebot.records.service import Records
    from voicebot.runtime import Runtime

    from .service import service_for

    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    runtime.records = Records.open(settings, recover=False)
    svc = service_for(runtime)
    assert svc is not None
    sip = None
    if args.sip:
        from voicebot.channels.sip.channel import SipChannel

        sip = SipChannel(runtime)
        await sip.start()
    try:
        svc.check_pipeline()
        if args.once:
            from .scheduler import Scheduler

            sched = Scheduler(svc.store, svc.orders, svc.dialers(sip), options, instance=svc.instance)
            report = await sched.tick()
            print(f"placed {len(report.placed)} call(s); postponed {len(report.postponed)}; skipped {len(report.skipped)}")
            await sched.drain(600)
        else:
            await svc.start(sip_channel=sip)
            await asyncio.Event().wait()
    finally:
        await svc.stop()
        if sip is not None:
            await sip.stop()
        runtime.close()
        runtime.records.close()
    return 0
