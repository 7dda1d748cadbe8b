"""Task success on scripted multi-turn calls, per language: text in through the same
``DialogueSession`` interface the call pipeline uses, real NLU, real SQLite order store.

    python -m benchmarks.dialogue.evaluate_tasks [--scenarios FILE] [--json] [--verbose]

A task succeeds when the right order was found, the right resolution given (the right case
created in the store, the right facts said) or the right handoff made, every reply was in the
caller's language, and the guard had nothing to block. The scenarios (utterances written as an
ASR would transcribe them) live in tests/dialogue/data/task_scenarios.yaml.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from voicebot.config import ROOT, Settings
from voicebot.dialogue.api import CallContext, CallerTurn, DialogueReply, Note, Transfer
from voicebot.dialogue.engine import DialogueEngineImpl, DialogueOptions, build_engine
from voicebot.dialogue.orders.seed import SampleData, sample_data

SCENARIOS_FILE = ROOT / "tests" / "dialogue" / "data" / "task_scenarios.yaml"
EVAL_TODAY = date(2026, 3, 16)  # the calendar is pinned so every run sees the same data
UNKNOWN_NUMBER = "+12025550199"  # a caller the store does not know


@dataclass
class Outcome:
    lang: str
    task: str
    ok: bool
    why: str = ""
    transcript: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Run:
    """One scripted call and everything it produced."""

    replies: list[DialogueReply] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)

    @property
    def notes(self) -> list[Note]:
        return [a for r in self.replies for a in r.actions if isinstance(a, Note)]

    def note(self, name: str) -> Note | None:
        return next((n for n in self.notes if n.name == name), None)

    @property
    def transfer(self) -> Transfer | None:
        return next((r.transfer for r in self.replies if r.transfer), None)

    @property
    def hung_up(self) -> bool:
        return any(r.hangup for r in self.replies)

    def said(self, text: str) -> bool:
        return any(text in r.text for r in self.replies)


# Each task: which sample order it is about, the caller's number, the turns, and the check.
@dataclass(frozen=True)
class Task:
    name: str
    order_kind: str | None  # a seed KINDS entry, or None
    turns: tuple[str, ...]  # phrase keys; "email" is the customer's email phrase
    check: Callable[[Run, dict[str, Any]], str]  # "" when the task succeeded, else why not
    known_caller: bool = True


def _need(cond: bool, why: str) -> str:
    return "" if cond else why


def _closed(run: Run) -> str:
    return _need(run.hung_up and run.transfer is None, "call did not end with a goodbye")


def _case(name: str) -> Callable[[Run, dict[str, Any]], str]:
    def check(run: Run, ctx: dict[str, Any]) -> str:
        n = run.note(name)
        if n is None:
            return f"no {name} note"
        if n.data.get("order_id") != ctx["order"].id:
            return f"{name} for order {n.data.get('order_id')}, expected {ctx['order'].id}"
        if ctx["cases"] is not None and n.data.get("reference") not in ctx["cases"]:
            return f"{name} reference {n.data.get('reference')} is not in the store"
        return _closed(run)
    return check


def _status(run: Run, ctx: dict[str, Any]) -> str:
    o = ctx["order"]
    return (_need(run.said(o.shipment.tracking_number), "tracking number not given")
            or _need(run.note("order_lookup") is not None, "no order lookup") or _closed(run))


def _customs(run: Run, ctx: dict[str, Any]) -> str:
    n = run.note("customs_explained")
    return (_need(n is not None and n.data.get("order_id") == ctx["order"].id, "customs hold not explained for the right order")
            or _closed(run))


def _email_verified(run: Run, ctx: dict[str, Any]) -> str:
    n = run.note("identity_verified")
    return (_need(n is not None and n.data.get("method") == "email", "identity not verified by email")
            or _status(run, ctx))


def _product(run: Run, ctx: dict[str, Any]) -> str:
    n = run.note("kb_answer")
    return _need(n is not None and n.data.get("entry") == "earbuds-x2", "earbuds facts not given") or _closed(run)


def _transfer(reason: str, queue: str | None = None) -> Callable[[Run, dict[str, Any]], str]:
    def check(run: Run, ctx: dict[str, Any]) -> str:
        t = run.transfer
        if t is None:
            return f"no transfer (wanted {reason})"
        if t.reason != reason:
            return f"transfer reason {t.reason}, wanted {reason}"
        if queue and t.queue != queue:
            return f"transfer queue {t.queue}, wanted {queue}"
        if t.context.get("language") != ctx["lang"] or not t.context.get("transcript") or not t.context.get("summary"):
            return "transfer context packet incomplete"
        return ""
    return check


TASKS = (
    Task("order_status", "in_transit", ("status", "deny"), _status),
    Task("customs_hold", "customs_hold", ("customs", "deny"), _customs),
    Task("late_delivery", "late_in_transit", ("late", "affirm", "deny"), _case("investigation_opened")),
    Task("not_received", "delivered", ("not_received", "affirm", "deny"), _case("investigation_opened")),
    Task("return_refund", "delivered", ("return", "affirm", "deny"), _case("refund_requested")),
    Task("damaged_item", "delivered", ("damaged", "affirm", "deny"), _case("claim_created")),
    Task("change_address", "processing", ("address", "deny"), _case("address_change_link_sent")),
    Task("cancel_order", "processing", ("cancel", "affirm", "deny"), _case("order_cancelled")),
    Task("verify_by_email", "in_transit", ("status", "email", "deny"), _email_verified, known_caller=False),
    Task("product_question", None, ("product", "deny"), _product),
    Task("human_agent", None, ("human",), _transfer("caller_asked")),
    Task("payment_issue", None, ("payment",), _transfer("policy", "billing")),
    Task("frustration", None, ("angry",), _transfer("frustration")),
    Task("not_understood", None, ("gibberish1", "gibberish2"), _transfer("not_understood")),
)


def spaced(order_id: str) -> str:
    """How ASR often writes a number read digit by digit: "4 5 7 1 2"."""
    return " ".join(order_id)


async def run_task(engine: DialogueEngineImpl, data: SampleData, phrases: dict[str, str], lang: str, task: Task, n: int) -> Outcome:
    customer = data.customer_for_language(lang)
    order = data.order_of(customer.id, task.order_kind) if task.order_kind else None
    call = CallContext(f"eval-{lang}-{task.name}-{n}", channel="text", caller_number=customer.phone if task.known_caller else UNKNOWN_NUMBER)
    session = engine.new_session(call)
    run = Run()
    greeting = await session.greet()
    run.transcript.append(("bot", greeting.text))
    for key in task.turns:
        text = phrases[key].format(id=order.id if order else "", id_spaced=spaced(order.id) if order else "", email=customer.email,
                                   email_spoken=customer.email.replace(".", " dot ").replace("@", " at "))
        reply = await session.respond(CallerTurn(text, lang))
        run.replies.append(reply)
        run.transcript += [("caller", text), ("bot", reply.text)]
        if reply.transfer or reply.hangup:
            break
    cases = None
    if order is not None:
        cases = {c.reference for c in await engine.store.cases_for_order(order.id)}
    why = task.check(run, {"order": order, "lang": lang, "cases": cases})
    if not why and any(r.language != lang for r in run.replies):
        why = "a reply was not in the caller's language"
    if not why and run.note("guard_blocked"):
        why = f"guard blocked a reply: {run.note('guard_blocked').data}"  # type: ignore[union-attr]
    return Outcome(lang, task.name, not why, why, run.transcript)


def load_scenarios(path: Path = SCENARIOS_FILE) -> dict[str, dict[str, str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read task scenarios {path}: {exc}") from exc
    needed = {k for t in TASKS for k in t.turns} - {"email"} | {"email"}
    for lang, phrases in data.items():
        missing = needed - set(phrases)
        if missing:
            raise ValueError(f"{path}: language {lang} lacks phrases {sorted(missing)}")
    return data


async def evaluate(scenarios: dict[str, dict[str, str]], home: Path, nlu: Any = None, languages: list[str] | None = None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    shared_nlu = nlu
    for lang in languages or list(scenarios):
        # A fresh store per language: tasks change orders (cancel) and open cases.
        opts = DialogueOptions(today=lambda: EVAL_TODAY, order_store="demo")  # the tasks are written against the sample orders
        engine = build_engine(Settings(home=home / lang), nlu=shared_nlu, options=opts)
        shared_nlu = engine.nlu  # load the lexicons once
        data = sample_data(EVAL_TODAY)
        for n, task in enumerate(TASKS):
            outcomes.append(await run_task(engine, data, scenarios[lang], lang, task, n))
        await engine.close()
    return outcomes


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    per_lang: dict[str, list[Outcome]] = {}
    for o in outcomes:
        per_lang.setdefault(o.lang, []).append(o)
    rows = {lang: {"tasks": len(v), "succeeded": sum(o.ok for o in v), "rate": round(sum(o.ok for o in v) / len(v), 3)} for lang, v in per_lang.items()}
    total = sum(o.ok for o in outcomes)
    return {"per_language": rows, "tasks": len(outcomes), "succeeded": total, "rate": round(total / max(1, len(outcomes)), 3),
            "failures": [{"lang": o.lang, "task": o.task, "why": o.why} for o in outcomes if not o.ok]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dialogue.evaluate_tasks", description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", type=Path, default=SCENARIOS_FILE)
    parser.add_argument("--lang", action="append", help="only these languages (repeatable)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print the transcript of every failed task")
    parser.add_argument("--target", type=float, default=0.95, help="exit 1 when the overall rate is below (default 0.95)")
    args = parser.parse_args(argv)
    try:
        scenarios = load_scenarios(args.scenarios)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = asyncio.run(evaluate(scenarios, Path(tmp), languages=args.lang))
    report = summarize(outcomes)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"{'lang':<6}{'tasks':>7}{'ok':>5}{'rate':>8}")
        for lang, row in report["per_language"].items():
            print(f"{lang:<6}{row['tasks']:>7}{row['succeeded']:>5}{row['rate']:>8.1%}")
        print(f"{'all':<6}{report['tasks']:>7}{report['succeeded']:>5}{report['rate']:>8.1%}")
        for f in report["failures"]:
            print(f"FAIL {f['lang']} {f['task']}: {f['why']}")
        if args.verbose:
            for o in outcomes:
                if not o.ok:
                    print(f"\n--- {o.lang} {o.task}: {o.why}")
                    for who, text in o.transcript:
                        print(f"  {who:>6}: {text}")
    return 0 if report["rate"] >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
