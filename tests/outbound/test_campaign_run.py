"""A whole campaign run: the scheduler places every call of a late-parcel campaign over Twilio
(the local stand-in of Twilio's API and its side of each call), paced to two calls at once,
and every customer ends with a recorded outcome. Prints the campaign's outcome table.

    PYTHONPATH=. python -m pytest -s tests/outbound/test_campaign_run.py
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.twilio.standin import Callee
from voicebot.outbound.campaigns import outcome_rows
from voicebot.outbound.scheduler import Scheduler

from .test_twilio_outbound import bot  # noqa: F401 - the whole bot server, Twilio stand-in and campaign
from .world import hello_ulaw, voicemail_ulaw

pytestmark = pytest.mark.slow

EXPECTED = {
    "C001": "reached", "C002": "voicemail_left", "C003": "busy", "C004": "no_answer", "C005": "opted_out", "C006": "invalid_number",
    "C007": "wrong_person", "C008": "no_connect", "C009": "hung_up", "C010": "do_not_call", "C011": "no_consent", "C012": "busy",
    "C013": "no_answer", "C014": "voicemail_left", "C015": "failed",
}  # fmt: skip


async def test_a_campaign_run_records_an_outcome_for_every_customer(bot, tmp_path):  # noqa: F811
    world, svc, dialer, twilio, _ = bot
    hello = hello_ulaw(tmp_path, tail_s=6).read_bytes()
    vm = voicemail_ulaw(tmp_path, tail_s=25)[0].read_bytes()
    phones = {t.customer_id: t.phone for t in world.store.targets("late")}
    script = {
        "C001": Callee("answer", audio=hello, digits=[(6.0, "1")], hangup_after_s=14),
        "C002": Callee("answer", audio=vm, hangup_after_s=40), "C014": Callee("answer", audio=vm, hangup_after_s=40),
        "C003": Callee("busy"), "C012": Callee("busy"), "C004": Callee("no-answer"), "C013": Callee("no-answer"),
        "C005": Callee("answer", audio=hello, digits=[(6.0, "9")], hangup_after_s=30),
        "C006": Callee("failed", sip_code=404), "C015": Callee("failed", sip_code=503),
        "C007": Callee("answer", audio=hello, digits=[(6.0, "2")], hangup_after_s=30),
        "C008": Callee("silent"), "C009": Callee("answer", audio=hello, hangup_after_s=5),
    }
    for cid, callee in script.items():
        twilio.callees[phones[cid]] = callee
    world.store.add_dnc(phones["C010"], time.time(), reason="asked by email")
    world.store.set_consent("C011", False, time.time(), source="account settings")
    options = world.options.__class__(**{**world.options.__dict__, "max_concurrent": 2, "max_per_minute": 120.0, "connect_timeout_s": 25.0,
                                         "max_attempts": 1})
    sched = Scheduler(world.store, world.orders, {"twilio": dialer}, options, instance="test")
    dialer.outcomes.options = options
    live_max = 0
    started = time.monotonic()
    while time.monotonic() - started < 240:
        await sched.tick()
        live_max = max(live_max, len(world.store.attempts(live=True, instance="test")))
        states = {t.state for t in world.store.targets("late")}
        if states <= {"done", "skipped"}:
            break
        await asyncio.sleep(1.0)  # the scheduler's poll on the real clock of a live run (the virtual-clock tests check timing)
    summary = world.store.summary("late")
    print("\nCampaign 'late' (late_parcel --days 2) over Twilio, 15 customers in 15 countries:")
    print(f"  {'outcome':24} customers")
    for name, n in outcome_rows(summary):
        print(f"  {name:24} {n}")
    print(f"  wall time {time.monotonic() - started:.0f} s, at most {live_max} calls at once")
    got = {t.customer_id: t.outcome for t in world.store.targets("late")}
    assert got == EXPECTED
    assert live_max <= 2
    creates = [r for r in twilio.requests if r["path"].endswith("/Calls.json")]
    assert len(creates) == 13  # every customer once, none twice; the do-not-call and no-consent ones never
    assert world.store.is_dnc(phones["C005"])  # opted out on the call
