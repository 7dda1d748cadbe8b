"""Outbound calls over Twilio against a local stand-in of Twilio's REST API and its side of the
call (tests/twilio/standin.py, built from Twilio's documented Calls API, webhooks, status
callbacks and Media Streams): the bot's whole server (create_app: signed webhooks, the stream,
the pipeline with the built-in dialogue, records) creates the call with the real twilio
library, answers with <Connect><Stream>, detects the machine or the person, and records how
every call ended."""

from __future__ import annotations

import asyncio
import socket
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import uvicorn

from tests.twilio.conftest import eventually
from tests.twilio.standin import Callee, TwilioRestStandIn
from voicebot.audio.g711 import ulaw_decode
from benchmarks.harness.twilio_peer import sign
from voicebot.server import create_app

from .world import hello_ulaw, make_world, voicemail_ulaw

pytestmark = pytest.mark.slow
HOST = "voice.example.test"
TOKEN = "outbound-test-token-0123456789"
FROM = "+15550100000"


@pytest.fixture
async def bot(settings, tmp_path):
    require_espeak()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    twilio = TwilioRestStandIn("AC123", TOKEN, HOST, f"http://127.0.0.1:{port}")
    api = await twilio.start()
    settings.server.public_host = HOST
    settings.twilio.account_sid, settings.twilio.auth_token, settings.twilio.api_base_url = "AC123", TOKEN, api
    world = await make_world(settings, tmp_path, channel="twilio", caller_id=FROM, ring_timeout_s=20.0)
    settings.outbound = {"channel": "twilio", "caller_id": FROM, "call_hours": [0, 24], "call_days": list(range(7))}
    app = create_app(world.runtime)
    svc = world.runtime.outbound
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started)
    dialer = svc.dialers()["twilio"]
    yield world, svc, dialer, twilio, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 20)
    await twilio.stop()
    world.close()


def require_espeak() -> None:
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")


async def test_a_machine_answers_and_gets_a_message_after_the_beep(bot, tmp_path):
    world, svc, dialer, twilio, _ = bot
    audio, beep_start, beep_end = voicemail_ulaw(tmp_path, tail_s=30)
    plan = world.plan("C015")  # John Miller, US
    twilio.callees[plan.target.phone] = Callee("answer", audio=audio.read_bytes(), hangup_after_s=40)
    await dialer.place(plan)
    [create] = [r for r in twilio.requests if r["path"].endswith("/Calls.json")]
    form = create["form"]
    assert create["ua"].startswith("twilio-python/")  # sent by the real library
    assert form["To"] == "+14155550123" and form["From"] == FROM and form["Method"] == "POST"
    assert form["Url"] == f"https://{HOST}/twilio/outbound/answer?attempt={plan.attempt.id.replace(':', '%3A')}"
    assert sorted(form["StatusCallbackEvent"]) == ["answered", "completed", "initiated", "ringing"]
    call = next(iter(twilio.calls.values()))
    await asyncio.wait_for(call.done.wait(), 60)
    await eventually(lambda: world.store.attempt(plan.attempt.id).state == "ended", 15)
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == "voicemail_left" and a.call_id == call.sid and a.detail["amd"]["label"] == "machine"
    assert call.ended_by == "bot" and set(call.status_replies) == {204}
    stream = ET.fromstring(call.twiml).find("./Connect/Stream")
    assert stream.get("url") == f"wss://{HOST}/twilio/stream"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["caller"] == "+14155550123" and '"reason":"late_parcel"' in params["outbound"]
    # what the machine recorded: the bot's first audible audio comes after the beep
    played = call.stream.played
    assert played, "the bot never spoke"
    loud = [f for f in played if np.sqrt(np.mean(np.frombuffer(ulaw_decode(f.mulaw), "<i2").astype(float) ** 2)) > 300]
    first_word_ms = (loud[0].start - call.stream_started_at) * 1000
    print(f"\nTwilio AMD: beep {beep_start:.0f}-{beep_end:.0f} ms, the bot's first audible word at {first_word_ms:.0f} ms")
    assert first_word_ms >= beep_end, (first_word_ms, beep_end)
    record = world.runtime.records.store.get_call(call.sid)
    assert record is not None and record.channel == "twilio" and record.ended_at


async def test_a_person_presses_1_hears_the_news_and_hangs_up(bot, tmp_path):
    world, svc, dialer, twilio, _ = bot
    plan = world.plan("C001")
    twilio.callees[plan.target.phone] = Callee("answer", audio=hello_ulaw(tmp_path, tail_s=5).read_bytes(), digits=[(6.0, "1")],
                                               hangup_after_s=16)
    await dialer.place(plan)
    call = next(iter(twilio.calls.values()))
    await asyncio.wait_for(call.done.wait(), 60)
    await eventually(lambda: world.store.attempt(plan.attempt.id).state == "ended", 15)
    assert world.store.attempt(plan.attempt.id).outcome == "reached" and call.ended_by == "callee"
    assert plan.attempt.id not in svc.agents  # the agent left with its call
    turns = world.runtime.records.store.turns(call.sid)
    said = [t.bot_text for t in turns if t.bot_text]
    assert "Am I speaking with Emma Thompson?" in said[0] and plan.target.order_id not in said[0]
    assert any(plan.target.order_id in s for s in said[1:])


@pytest.mark.parametrize(("kind", "sip", "outcome", "retried"), [("busy", 0, "busy", True), ("no-answer", 0, "no_answer", True),
                                                                 ("failed", 404, "invalid_number", False), ("failed", 503, "failed", True)])
async def test_busy_no_answer_and_carrier_failures_come_from_signed_status_callbacks(bot, kind, sip, outcome, retried):
    world, svc, dialer, twilio, _ = bot
    plan = world.plan("C002")
    twilio.callees[plan.target.phone] = Callee(kind, sip_code=sip)
    await dialer.place(plan)
    call = next(iter(twilio.calls.values()))
    await asyncio.wait_for(call.done.wait(), 10)
    await eventually(lambda: world.store.attempt(plan.attempt.id).state == "ended", 10)
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == outcome and a.detail["CallStatus"] == kind
    t = world.store.target("late", "C002", plan.target.order_id)
    assert (t.state == "pending") if retried else (t.state == "done")


async def test_an_invalid_number_is_refused_by_twilio_and_never_retried(bot):
    world, svc, dialer, twilio, _ = bot
    plan = world.plan("C003")
    bad = plan.__class__(plan.attempt, plan.target.__class__(**{**plan.target.__dict__, "phone": "+1"}))
    await dialer.place(bad)
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == "invalid_number" and a.detail["twilio_code"] == 21211 and not twilio.calls
    assert world.store.target("late", "C003", plan.target.order_id).state == "done"


async def test_twilio_unreachable_fails_the_attempt_for_a_later_retry(bot):
    world, svc, dialer, twilio, _ = bot
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dialer.control.client.http_client.base_url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()
    plan = world.plan("C004")
    await dialer.place(plan)
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == "failed" and "could not reach" in a.detail["error"]
    assert world.store.target("late", "C004", plan.target.order_id).state == "pending"


async def test_a_call_that_never_connects_is_swept_and_cancelled_at_twilio(bot):
    world, svc, dialer, twilio, _ = bot
    from voicebot.clock import VirtualClock
    from voicebot.outbound.scheduler import Scheduler

    plan = world.plan("C005")
    twilio.callees[plan.target.phone] = Callee("silent")
    await dialer.place(plan)
    clock = VirtualClock(start=world.store.attempt(plan.attempt.id).created_at)
    sched = Scheduler(world.store, world.orders, {"twilio": dialer}, world.options, clock=clock, instance="test")
    clock.advance(world.options.connect_timeout_s + 1)
    assert await sched.sweep(clock.now()) == [plan.attempt.id]
    assert world.store.attempt(plan.attempt.id).outcome == "no_connect"
    call = next(iter(twilio.calls.values()))
    cancel = [r for r in twilio.requests if r["path"].endswith(f"/Calls/{call.sid}.json")]
    assert cancel and cancel[0]["form"] == {"Status": "canceled"}


async def test_forged_or_replayed_webhooks_change_nothing(bot):
    world, svc, dialer, twilio, base = bot
    import aiohttp

    plan = world.plan("C006")
    url = f"https://{HOST}/twilio/outbound/status?attempt={plan.attempt.id}"
    params = {"CallSid": "CAforged", "CallStatus": "busy"}
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{base}/twilio/outbound/status?attempt={plan.attempt.id}", data=params, headers={"X-Twilio-Signature": "forged"})
        assert r.status == 403
        assert world.store.attempt(plan.attempt.id).state == "dialing"
        # a finished attempt answered again (a retry of Twilio's webhook, a campaign started twice): hang up, say nothing
        world.store.finish(plan.attempt.id, "reached", {}, 0.0, None)
        answer = f"https://{HOST}/twilio/outbound/answer?attempt={plan.attempt.id}"
        form = {"CallSid": "CAagain", "From": FROM, "To": plan.target.phone, "CallStatus": "in-progress"}
        r = await s.post(f"{base}/twilio/outbound/answer?attempt={plan.attempt.id}", data=form, headers={"X-Twilio-Signature": sign(TOKEN, answer, form)})
        assert r.status == 200 and ET.fromstring(await r.text()).find("Hangup") is not None
    assert world.store.attempt(plan.attempt.id).outcome == "reached"
    del url


async def test_a_damage_follow_up_is_handed_to_the_agent_desk_like_an_inbound_call(bot, tmp_path):
    world, svc, dialer, twilio, _ = bot
    import time
    from datetime import date

    from voicebot.handoff.routes import service_for as handoff_service
    from voicebot.outbound import campaigns

    order = next(o for o in await world.orders.orders_for_customer("C001") if o.status == "delivered" and not o.final_sale)
    case = await world.orders.create_case("damage_claim", order.id, {"skus": [i.sku for i in order.items]})
    await campaigns.start(world.store, world.orders, "damage", "damage_case", 0, "twilio", time.time(), date.today())
    t = world.store.target("damage", "C001", order.id)
    assert t is not None and t.facts["case"] == case.reference
    attempt = world.store.claim(t, "twilio", "test", time.time())
    from voicebot.outbound.scheduler import CallPlan

    twilio.callees[t.phone] = Callee("answer", audio=hello_ulaw(tmp_path, tail_s=5).read_bytes(), digits=[(6.0, "1"), (17.0, "1")],
                                     hangup_after_s=40)
    await dialer.place(CallPlan(attempt, t))
    call = next(iter(twilio.calls.values()))
    await asyncio.wait_for(call.done.wait(), 60)
    await eventually(lambda: world.store.attempt(attempt.id).state == "ended", 15)
    assert world.store.attempt(attempt.id).outcome == "handed_to_agent"
    actions = world.runtime.records.store.actions(call.sid)
    transfer = next(a for a in actions if a.kind == "transfer")
    assert transfer.name == "outbound_follow_up"  # the record keeps the reason as the action's name
    ticket = handoff_service(world.runtime).state._tickets[call.sid]  # the desk got it, with the verified customer and the order
    assert ticket.context.caller.verified and order.id in ticket.context.orders and case.reference in " ".join(ticket.context.bot_said)
