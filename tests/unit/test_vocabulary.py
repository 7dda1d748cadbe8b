"""The call's vocabulary: events every reader understands, one clock for every timer, a
context packet that survives its wire form."""

from __future__ import annotations

import asyncio
import json

import pytest

from voicebot.clock import VirtualClock
from voicebot.core import CallerCard, ContextPacket
from voicebot.events import ACTION_KINDS, EVENT_KINDS, CallEvent, EventLog


def test_an_event_kind_no_reader_knows_is_refused_before_it_reaches_a_sink() -> None:
    log, seen = EventLog(), []
    log.subscribe(seen.append)
    with pytest.raises(ValueError, match="unknown call event kind 'bot_replied'"):
        log.emit(0, "bot_replied", text="hi")  # type: ignore[arg-type]
    assert seen == [] and log.events == []


@pytest.mark.parametrize("data", [{"kind": "transfer"}, {}, {"action": "teleport"}])
def test_an_action_event_says_what_was_done_in_one_key(data) -> None:
    with pytest.raises(ValueError, match="action="):
        EventLog().emit(0, "action", **data)


def test_every_action_kind_is_read_back_from_its_event_and_its_json() -> None:
    log = EventLog()
    for i, action in enumerate(sorted(ACTION_KINDS)):
        log.emit(i, "action", action=action, reason="why")
    back = [CallEvent.from_json(e.to_json()) for e in log.events]
    assert [e.action for e in back] == sorted(ACTION_KINDS)
    assert CallEvent(0, "action", {"kind": "hangup"}).action == "hangup"  # a call recorded before the key was settled
    assert CallEvent(0, "bot_reply", {"action": "x"}).action is None
    assert {"call_start", "action", "call_end"} <= EVENT_KINDS


async def test_virtual_clock_fires_callbacks_and_sleepers_in_deadline_order() -> None:
    clock, order = VirtualClock(start=100.0), []

    async def sleeper(deadline: float) -> None:
        await clock.sleep_until(deadline)
        order.append(("slept", deadline, clock.now()))

    task = asyncio.ensure_future(sleeper(102.0))
    await asyncio.sleep(0)  # the sleeper is waiting
    clock.call_later(1.0, lambda: order.append(("timer", 101.0, clock.now())))
    cancelled = clock.call_later(1.5, lambda: order.append(("cancelled", 101.5, clock.now())))
    cancelled.cancel()
    # a timer armed by a timer during the advance fires in the same advance, at its own time
    clock.call_later(2.5, lambda: clock.call_later(0.25, lambda: order.append(("rearmed", 102.75, clock.now()))))
    assert clock.pending == 3  # the cancelled one is not waiting
    clock.advance(3.0)
    await task
    assert order == [("timer", 101.0, 101.0), ("rearmed", 102.75, 102.75), ("slept", 102.0, 103.0)]
    assert clock.now() == 103.0 and clock.pending == 0
    clock.set(50.0)  # never backwards
    assert clock.now() == 103.0


def test_context_packet_reads_back_from_its_wire_form_and_from_cjsons_empty_tables() -> None:
    packet = ContextPacket(reason="frustration", caller=CallerCard(number="+4930123", verified=True, verified_by="caller_number"),
                           language="de", transcript=[{"role": "caller", "text": "Hallo"}], orders=["A1"])
    assert ContextPacket.from_dict(json.loads(json.dumps(packet.to_dict()))) == packet
    stored = {**ContextPacket().to_dict(), "intents": {}, "transcript": {}, "unknown_key": 1}  # Redis' cjson: [] -> {}
    assert ContextPacket.from_dict(stored) == ContextPacket()
    assert ContextPacket.from_dict(None) == ContextPacket()
