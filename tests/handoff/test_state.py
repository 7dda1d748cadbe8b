"""Shared state: exactly one of many concurrent accepts wins, in-process and in a real Redis."""

import asyncio

from voicebot.core import ContextPacket
from voicebot.handoff.routing import Agent
from voicebot.handoff.state import MemoryState, RedisState, Ticket


async def _race(state, n=20):
    await state.put_ticket(Ticket("CA1", "twilio", "es", "es", context=ContextPacket(reason="caller_asked", orders=["45712"])))
    results = await asyncio.gather(*(state.claim("CA1", f"agent{i}") for i in range(n)))
    t = await state.get_ticket("CA1")
    return results, t


async def test_memory_claim_exactly_one_wins():
    results, t = await _race(MemoryState())
    assert sum(results) == 1
    assert t.state == "accepted" and t.agent_id == f"agent{results.index(True)}"
    assert t.history[-1]["what"] == "accepted"
    assert t.context == ContextPacket(reason="caller_asked", orders=["45712"])  # the packet survives the copy, typed


async def test_memory_claim_closed_ticket_refused():
    s = MemoryState()
    await s.put_ticket(Ticket("CA2", "twilio", "es", "es", state="abandoned"))
    assert not await s.claim("CA2", "maria")
    assert not await s.claim("nope", "maria")


async def test_redis_claim_exactly_one_wins_across_clients(redis_url):
    # two "bot processes" (separate connections) racing on the same ticket
    a, b = RedisState(redis_url), RedisState(redis_url)
    try:
        await a.put_ticket(Ticket("CA1", "twilio", "es", "es"))
        results = await asyncio.gather(*(s.claim("CA1", f"agent{i}") for i, s in enumerate([a, b] * 10)))
        assert sum(results) == 1
        t = await b.get_ticket("CA1")
        assert t.state == "accepted" and t.agent_id == f"agent{results.index(True)}"
        assert t.transcript == [] and isinstance(t.history, list)
        assert t.context == ContextPacket()  # cjson's {} for the packet's empty lists reads back as lists
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_agents_load_and_events(redis_url):
    a, b = RedisState(redis_url), RedisState(redis_url)
    try:
        await a.put_agent(Agent("maria", "María", ("es",), status="available"))
        await b.change_load("maria", +1)
        got = await a.get_agent("maria")
        assert got.load == 1 and got.languages == ("es",) and got.skills == ()
        sub = b.subscribe()
        first = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0.05)  # let SUBSCRIBE reach the real server (bounded by the wait below)
        await a.publish({"type": "ticket", "call_id": "CA1"})
        assert (await asyncio.wait_for(first, 5))["call_id"] == "CA1"
        await sub.aclose()
    finally:
        await a.aclose()
        await b.aclose()
