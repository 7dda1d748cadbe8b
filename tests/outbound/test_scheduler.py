"""The campaign scheduler on a virtual wall clock: local daytime per country (several zones for
the US), do-not-call, consent, retries, daily limits, pacing, a campaign started twice, two
processes sharing one database, a restart after a crash. No wall-clock sleeps: a day of
calls runs in well under a second."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from voicebot.outbound import campaigns
from voicebot.outbound.scheduler import Scheduler
from voicebot.outbound.timezones import COUNTRY_ZONES

from .conftest import EPOCH, TODAY, StandInDialer, options, run_for, settle


async def start(store, orders, clock, name="late", rule="late_parcel", days=2, consent=True):
    result = await campaigns.start(store, orders, name, rule, days, "sip", clock.now(), TODAY)
    if consent:
        for t in store.targets(name):
            store.set_consent(t.customer_id, True, clock.now(), source="test")
    return result


def make(store, orders, clock, opts=None, instance="p1", **dialer_kw):
    dialer = StandInDialer(clock, **dialer_kw)
    sched = Scheduler(store, orders, {"sip": dialer}, opts or options(max_concurrent=3, max_per_minute=60), clock=clock,
                      instance=instance, today=lambda: TODAY)
    dialer.finish = sched.outcomes.finish
    return sched, dialer


async def test_every_call_starts_in_local_daytime_in_every_zone_of_the_country(outbound_store, orders, clock):
    result = await start(outbound_store, orders, clock)
    assert result.created and result.selected == 15 == result.added  # one late parcel per sample customer, 15 countries
    sched, dialer = make(outbound_store, orders, clock)
    await run_for(clock, sched, [dialer], 26 * 3600, step=300)
    called = {plan.target.country: t for t, plan in dialer.placed}
    assert len(dialer.placed) == 15 and len(called) == 15  # each customer once: all reached on the first try
    for country, t in called.items():
        for zone in COUNTRY_ZONES[country]:
            local = datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(zone))
            assert 9 <= local.hour < 20 and local.weekday() < 6, (country, zone, local)
    # Tokyo is in its afternoon at 06:00 UTC; the US waits for 9:00 in Los Angeles (16:00 UTC, summer time)
    assert called["JP"] - EPOCH < 3600  # at once (paced among the other Asian customers)
    assert datetime.fromtimestamp(called["US"], UTC).hour == 16
    assert datetime.fromtimestamp(called["GB"], UTC).hour == 9  # London is still on GMT on 16 March
    assert outbound_store.summary("late")["outcomes"] == {"reached": 15}


async def test_sunday_is_skipped_to_monday(outbound_store, orders):
    from voicebot.clock import VirtualClock

    sunday_noon = datetime(2026, 3, 15, 12, 0, tzinfo=UTC).timestamp()
    clock = VirtualClock(start=sunday_noon)
    await start(outbound_store, orders, clock)
    sched, dialer = make(outbound_store, orders, clock)
    await sched.tick()
    assert not dialer.placed
    target = outbound_store.target("late", "C006", outbound_store.targets("late")[0].order_id) or outbound_store.targets("late")[0]
    assert target.note == "outside local daytime" and target.next_at > sunday_noon


async def test_do_not_call_and_consent_are_checked_right_before_dialing(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    emma, lukas, maria = "C001", "C002", "C003"
    outbound_store.add_dnc("+44 7700 900123", clock.now(), reason="asked by email")  # Emma's number, written differently
    outbound_store.set_consent(lukas, False, clock.now(), source="settings page")
    sched, dialer = make(outbound_store, orders, clock)
    await run_for(clock, sched, [dialer], 26 * 3600, step=600)
    called = {p.target.customer_id for _, p in dialer.placed}
    assert emma not in called and lukas not in called and maria in called
    by_customer = {t.customer_id: t for t in outbound_store.targets("late")}
    assert (by_customer[emma].state, by_customer[emma].outcome) == ("skipped", "do_not_call")
    assert (by_customer[lukas].state, by_customer[lukas].outcome) == ("skipped", "no_consent")


async def test_consent_required_by_default(outbound_store, orders, clock):
    await start(outbound_store, orders, clock, consent=False)
    sched, dialer = make(outbound_store, orders, clock)
    await sched.tick()
    assert not dialer.placed
    assert {t.outcome for t in outbound_store.targets("late")} == {"no_consent"}


async def test_retries_follow_the_outcome_and_stop_at_max_attempts(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    opts = options(max_concurrent=3, max_per_minute=60, max_attempts=3, max_calls_per_customer_per_day=5)
    sched, dialer = make(outbound_store, orders, clock, opts, outcomes_by_customer={
        "C009": ["no_answer", "busy", "no_answer", "reached"], "C010": ["wrong_person"], "C012": ["busy", "reached"]})
    await run_for(clock, sched, [dialer], 30 * 3600, step=300)
    times = {}
    for t, p in dialer.placed:
        times.setdefault(p.target.customer_id, []).append(t)
    assert len(times["C009"]) == 3  # max_attempts, although the 4th would have reached them
    assert times["C009"][1] - times["C009"][0] >= 4 * 3600  # no_answer: 4 h
    assert 20 * 60 <= times["C009"][2] - times["C009"][1] < 4 * 3600  # busy: 20 min
    assert len(times["C010"]) == 1  # wrong person: never again
    assert len(times["C012"]) == 2
    final = {t.customer_id: (t.state, t.outcome) for t in outbound_store.targets("late")}
    assert final["C009"] == ("done", "no_answer") and final["C010"] == ("done", "wrong_person") and final["C012"] == ("done", "reached")


async def test_daily_limit_per_customer_over_all_campaigns(outbound_store, orders, clock):
    await start(outbound_store, orders, clock, name="late")
    await start(outbound_store, orders, clock, name="customs", rule="customs_hold", days=5)
    opts = options(max_concurrent=5, max_per_minute=60, max_calls_per_customer_per_day=1, max_attempts=5)
    sched, dialer = make(outbound_store, orders, clock, opts, outcomes_by_customer={"C008": ["no_answer"]})
    await run_for(clock, sched, [dialer], 30 * 3600, step=300)
    wang = sorted(t for t, p in dialer.placed if p.target.customer_id == "C008")
    assert len(wang) >= 2 and all(b - a >= 86400 - 300 for a, b in zip(wang, wang[1:]))


async def test_pacing_never_exceeds_concurrency_or_rate(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    opts = options(max_concurrent=2, max_per_minute=1)
    sched, dialer = make(outbound_store, orders, clock, opts, call_s=600)
    await run_for(clock, sched, [dialer], 26 * 3600, step=30)
    assert dialer.max_live <= 2
    starts = sorted(t for t, _ in dialer.placed)
    assert len(starts) == 15 and all(b - a >= 60 for a, b in zip(starts, starts[1:]))


async def test_a_campaign_started_twice_calls_nobody_twice(outbound_store, orders, clock):
    first = await start(outbound_store, orders, clock)
    sched, dialer = make(outbound_store, orders, clock)
    await run_for(clock, sched, [dialer], 3600, step=300)
    again = await start(outbound_store, orders, clock)
    assert not again.created and again.added == 0 and again.selected == first.selected
    with pytest.raises(campaigns.CampaignError):
        await campaigns.start(outbound_store, orders, "bad name!", "late_parcel", 2, "sip", clock.now(), TODAY)
    from voicebot.outbound.store import CampaignConflict

    with pytest.raises(CampaignConflict, match="already exists"):
        await campaigns.start(outbound_store, orders, "late", "customs_hold", 5, "sip", clock.now(), TODAY)
    # another campaign over the same rule does not call the customers already reached either
    await start(outbound_store, orders, clock, name="late-copy")
    await run_for(clock, sched, [dialer], 26 * 3600, step=300)
    per_customer = {}
    for _, p in dialer.placed:
        per_customer[p.target.customer_id] = per_customer.get(p.target.customer_id, 0) + 1
    assert set(per_customer.values()) == {1}
    assert {t.outcome for t in outbound_store.targets("late-copy")} == {"called_by_other_campaign"}


async def test_two_processes_on_one_database_place_each_attempt_once(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    a, da = make(outbound_store, orders, clock, instance="host-a")
    b, db = make(outbound_store, orders, clock, instance="host-b")
    end = clock.now() + 26 * 3600
    import asyncio

    while clock.now() < end:
        await asyncio.gather(a.tick(), b.tick())
        await settle(da, db)
        clock.advance(300)
        await settle(da, db)
    ids = [p.attempt.id for _, p in da.placed + db.placed]
    assert len(ids) == len(set(ids)) == 15


async def test_restart_after_a_crash_marks_the_call_interrupted_and_retries_it(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    sched, dialer = make(outbound_store, orders, clock, call_s=10_000)
    await sched.tick()
    await settle(dialer)
    live = outbound_store.attempts(live=True)
    assert live and all(a.instance == "p1" for a in live)
    # the process dies: its tasks are gone, the rows stay. A new process with the same instance:
    sched2, dialer2 = make(outbound_store, orders, clock)
    recovered = await sched2.recover()
    assert sorted(recovered) == sorted(a.id for a in live)
    assert {outbound_store.attempt(i).outcome for i in recovered} == {"interrupted"}
    t = next(t for t in outbound_store.targets("late") if t.attempts == 1)
    assert t.state == "pending" and t.next_at == pytest.approx(clock.now() + 3600)
    # the call had in fact run on elsewhere and ends well: its outcome replaces "interrupted"
    assert outbound_store.finish(recovered[0], "reached", {}, clock.now(), None)
    assert outbound_store.attempt(recovered[0]).outcome == "reached"
    assert not outbound_store.finish(recovered[0], "no_answer", {}, clock.now(), None)  # but nothing replaces a real outcome
    for task in list(sched._tasks):
        task.cancel()


async def test_a_parcel_delivered_since_the_start_is_not_called_about(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    first = outbound_store.targets("late")[0]
    order = await orders.get_order(first.order_id)
    import dataclasses

    from voicebot.dialogue.orders import Shipment

    delivered = dataclasses.replace(order, status="delivered", shipment=Shipment(order.shipment.carrier, order.shipment.tracking_number,
                                                                                 "delivered", order.shipment.expected_delivery, TODAY))
    con = orders._connect()
    orders.add_order(delivered, con)
    con.commit()
    con.close()
    sched, dialer = make(outbound_store, orders, clock)
    await run_for(clock, sched, [dialer], 26 * 3600, step=600)
    assert first.customer_id not in {p.target.customer_id for _, p in dialer.placed}
    assert outbound_store.target("late", first.customer_id, first.order_id).outcome == "resolved"


async def test_a_call_that_never_connects_is_ended_and_retried(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)

    class Silent:
        channel = "sip"
        cancelled: list = []

        async def place(self, plan):  # hands the call to a network that never answers, never reports
            return None

        async def cancel(self, attempt):
            self.cancelled.append(attempt.id)

    silent = Silent()
    sched = Scheduler(outbound_store, orders, {"sip": silent}, options(max_concurrent=1, connect_timeout_s=90), clock=clock, instance="p1",
                      today=lambda: TODAY)
    await sched.tick()
    [attempt] = outbound_store.attempts(live=True)
    clock.advance(60)
    await sched.tick()
    assert outbound_store.attempt(attempt.id).state == "dialing"  # within the timeout: still waiting, capacity used
    clock.advance(60)
    await sched.tick()
    assert outbound_store.attempt(attempt.id).outcome == "no_connect" and silent.cancelled == [attempt.id]
    t = outbound_store.target(attempt.campaign_id, attempt.customer_id, attempt.order_id)
    assert t.state == "pending" and t.outcome == "no_connect"


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_claims_are_exclusive_on_postgresql(outbound_store, orders, clock):
    await start(outbound_store, orders, clock)
    a, da = make(outbound_store, orders, clock, instance="host-a")
    b, db = make(outbound_store, orders, clock, instance="host-b")
    import asyncio

    for _ in range(60):
        await asyncio.gather(a.tick(), b.tick())
        await settle(da, db)
        clock.advance(1200)
        await settle(da, db)
    ids = [p.attempt.id for _, p in da.placed + db.placed]
    assert len(ids) == len(set(ids)) == 15
