"""The bridge's faults on a virtual timer: agent never answers, agent disconnects, caller hangs up, double accept."""

import asyncio
from datetime import UTC, datetime

from voicebot.core import ContextPacket, Transfer
from voicebot.handoff.bridge import BridgeOptions, HandoffBridge
from voicebot.handoff.routing import Agent
from voicebot.handoff.state import MemoryState

from .conftest import ManualTimer

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Handle:
    """A channel's handle that records what the caller was told and done to."""

    def __init__(self, call_id="CA1") -> None:
        self.call_id, self.channel, self.caller_number = call_id, "test", "+34600000000"
        self.said: list[tuple[str, str]] = []
        self.voice: list[str] = []
        self.back = 0
        self.ended: str | None = None

    async def say(self, text, language):
        self.said.append((text, language))

    async def hold(self, ticket):
        return False

    async def connect_voice(self, agent):
        self.voice.append(agent.id)
        return bool(agent.contact)

    async def back_to_bot(self):
        self.back += 1

    async def end(self, reason):
        self.ended = reason


async def setup(*agents):
    state = MemoryState()
    for a in agents:
        await state.put_agent(a)
    timer = ManualTimer()
    bridge = HandoffBridge(state, BridgeOptions(), now=lambda: MONDAY, sleep=timer.sleep)
    await bridge.start()
    return state, bridge, timer


async def until(pred, timeout=5):
    async def _w():
        while not await pred():
            await asyncio.sleep(0)
    await asyncio.wait_for(_w(), timeout)


MARIA = Agent("maria", "María", ("es",), status="available", timezone="Europe/Madrid")
PABLO = Agent("pablo", "Pablo", ("es",), status="available", timezone="Europe/Madrid", load=0)


async def test_timeout_falls_through_to_next_agent_then_back_to_bot():
    state, bridge, timer = await setup(MARIA, Agent("pablo", "Pablo", ("es",), status="available", load=0, max_load=2))
    h = Handle()
    await bridge.request(h, Transfer("caller_asked", queue="es", context=ContextPacket(orders=["45712"])), "es")
    await until(lambda: _offered(state, "maria"))
    await timer.wait_armed()
    timer.fire()  # María never answers
    await until(lambda: _offered(state, "pablo"))
    assert any("otra persona" in s for s, _ in h.said)  # the caller is told, in Spanish
    await timer.wait_armed()
    timer.fire()  # nor does Pablo: nobody else -> back to the bot
    await until(lambda: _state(state, "returned"))
    assert h.back == 1 and "ningún compañero" in h.said[-1][0]
    t = await state.get_ticket("CA1")
    assert [x["what"] for x in t.history].count("offer_timeout") == 2
    await bridge.stop()


async def test_accept_race_one_wins_and_relay_connects():
    state, bridge, timer = await setup(MARIA, PABLO)
    h = Handle()
    await bridge.request(h, Transfer("caller_asked", queue="es"), "es")
    await until(lambda: _offered(state, "maria"))
    results = await asyncio.gather(bridge.accept("CA1", MARIA), bridge.accept("CA1", PABLO))
    assert sorted(results) == [False, True]
    await until(lambda: _state(state, "bridged"))
    t = await state.get_ticket("CA1")
    assert t.mode == "relay" and "conectado con" in h.said[-1][0]
    winner = MARIA if results[0] else PABLO
    assert (await state.get_agent(winner.id)).load == 1
    await bridge.agent_text("CA1", winner, "Un momento por favor, estoy revisando su pedido.")
    await until(lambda: _said(h, "revisando su pedido"))
    await bridge.stop()


async def test_agent_disconnect_mid_call_returns_caller_to_bot_with_notice():
    state, bridge, _ = await setup(MARIA)
    h = Handle()
    await bridge.request(h, Transfer("caller_asked", queue="es"), "es")
    await until(lambda: _offered(state, "maria"))
    assert await bridge.accept("CA1", MARIA)
    await until(lambda: _state(state, "bridged"))
    await bridge.agent_gone("maria")
    await until(lambda: _state(state, "returned"))
    assert h.back == 1 and "desconectado" in h.said[-1][0]
    assert (await state.get_agent("maria")).load == 0
    await bridge.stop()


async def test_caller_hangs_up_while_queued_removed_but_kept():
    busy = Agent("maria", "María", ("es",), status="available", load=1)
    state, bridge, _ = await setup(busy)
    h = Handle()
    t = await bridge.request(h, Transfer("caller_asked", queue="es"), "es")
    assert t.wait_s == 300 and "5 minutos" in h.said[0][0]
    await until(lambda: _state(state, "queued"))
    await bridge.caller_hung_up("CA1")
    t = await state.get_ticket("CA1")
    assert t.state == "abandoned" and t.history[-1]["what"] == "caller_hung_up"  # the record is kept
    assert not await bridge.accept("CA1", busy)
    await bridge.stop()


async def test_out_of_hours_callback():
    state, bridge, _ = await setup(Agent("kenji", "Kenji", ("ja",), status="available", timezone="Asia/Tokyo"))
    h = Handle()
    t = await bridge.request(h, Transfer("caller_asked", queue="ja"), "ja")
    assert t.state == "callback" and "call you back" in h.said[0][0]
    await bridge.stop()


async def _offered(state, agent):
    t = await state.get_ticket("CA1")
    return t is not None and t.state == "offered" and t.offered_to == agent


async def _state(state, s):
    t = await state.get_ticket("CA1")
    return t is not None and t.state == s


async def _said(h, text):
    return any(text in s for s, _ in h.said)
