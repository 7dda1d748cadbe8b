"""End to end on SIP: a sipp caller presses 0 for a person (minimal dialogue, espeak voice); an
English agent signed in to the desk (HTTP API + the desk's WebSocket) gets the offer and accepts;
the bot blind-transfers the caller with REFER to the agent's SIP contact, the caller's phone
(sipp, following the REFER) really calls the agent's phone (a second sipp, UAS) and reports the
answer with NOTIFY; the bot leaves the call. A Spanish-only agent signed in too never gets it.

Figures printed: the caller's request (the digit reaching the bot) -> offer on the desk, and
accept -> the agent's phone answered (REFER + the transferee's INVITE + NOTIFY 200).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from fastapi import FastAPI

from tests.handoff.servers import serving
from tests.sip.helpers import free_port, until
from tests.sip.peers import SCENARIOS as SIP_SCENARIOS
from tests.sip.peers import Capture, Proc, require, rms_db
from voicebot.audio.g711 import ulaw_decode
from voicebot.channels.sip.channel import SipChannel
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.ua import SipOptions
from voicebot.handoff.channel_sip import SipHandoff
from voicebot.handoff.routes import HandoffOptions, make_router, service_for
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime

pytestmark = [pytest.mark.peers, pytest.mark.slow]
SCENARIO = Path(__file__).with_name("scenarios") / "transferee_calls_agent.xml"
ALL_DAY = {"hours": (0, 24), "days": (0, 1, 2, 3, 4, 5, 6)}
AGENT_LINE = "Hello, this is Ann from the support team. I can see your order and will fix it now."


class RecordingChannel(SipChannel):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.bridges: list = []
        self.digit_at: float | None = None

    def make_bridge(self, call):  # type: ignore[no-untyped-def]
        bridge = super().make_bridge(call)
        loop = asyncio.get_running_loop()

        def sink(ev) -> None:  # type: ignore[no-untyped-def]
            if ev.kind == "dtmf" and self.digit_at is None:
                self.digit_at = loop.time()

        bridge.session.subscribe(sink)
        self.bridges.append(bridge)
        return bridge


@pytest.fixture
async def desk(settings):
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=20.0))
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(make_router(runtime))
    async with serving(app) as addr:
        yield addr, svc, runtime
    await svc.bridge.stop()
    runtime.close()


async def test_sip_caller_pressing_zero_is_referred_to_the_accepting_agents_phone(tmp_path: Path, desk) -> None:
    require("sipp", "espeak-ng")
    dtmf0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")
    if not dtmf0.exists():
        pytest.skip("sipp's RFC 2833 pcaps are missing (/usr/share/sip-tester)")
    host, svc, runtime = desk
    agent_port = free_port()
    contact = f"sip:agent-ann@127.0.0.1:{agent_port}"
    svc.accounts.add(Agent("ann", "Ann", ("en",), contact=contact, **ALL_DAY), "ann-password")
    svc.accounts.add(Agent("jorge", "Jorge", ("es",), **ALL_DAY), "jorge-password")
    loop = asyncio.get_running_loop()
    rtp_port = free_port()
    channel = RecordingChannel(runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=rtp_port, port_max=rtp_port)))
    await channel.start()
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 60)
    media = (f'<nop><action><exec rtp_stream="{silence},1,0"/></action></nop><pause milliseconds="7000"/>'
             f'<nop><action><exec play_pcap_audio="{dtmf0}"/></action></nop>')
    text = SCENARIO.read_text()
    subs = {"MEDIA": media, "TIMEOUT_MS": "60000", "REFER_TO": "agent-ann@", "AGENT_PORT": str(agent_port),
            "BOT_PORT": str(channel.ua.port), "HOLD_MS": "500"}
    for key, value in subs.items():
        text = text.replace("{" + key + "}", value)
    scenario = tmp_path / SCENARIO.name
    scenario.write_text(text)

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as ann, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as jorge:
        for http, who in ((ann, "ann"), (jorge, "jorge")):
            async with http.post(f"http://{host}/handoff/api/login", json={"id": who, "password": f"{who}-password"}) as r:
                assert r.status == 200
        ws = {who: await http.ws_connect(f"ws://{host}/handoff/ws") for http, who in ((ann, "ann"), (jorge, "jorge"))}
        events: dict[str, list[tuple[float, dict]]] = {"ann": [], "jorge": []}

        async def read(who: str) -> None:
            async for msg in ws[who]:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    events[who].append((loop.time(), json.loads(msg.data)))

        readers = [asyncio.create_task(read(w)) for w in ws]
        agent_phone = caller = None
        try:
            agent_phone = await Proc.start("sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(agent_port), "-mi", "127.0.0.1",
                                           "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", "90s", "-trace_err", cwd=tmp_path)
            caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                      "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                      "-nostdin", "-timeout", "90s", "-trace_err", cwd=tmp_path)
            offer = lambda: next(((t, e) for t, e in events["ann"] if e.get("type") == "ticket" and e.get("state") == "offered"
                                  and e.get("offered_to") == "ann"), None)
            try:
                await until(lambda: offer() is not None, 60)
            except AssertionError:
                print("DEBUG", [(e.kind, e.data) for b in channel.bridges for e in b.state.events.events], events, sep="\n")
                await caller.stop()
                print("CALLER", (await caller.wait(5))[1][-3000:])
                raise
            t_offer, ev = offer()
            call_id = ev["call_id"]
            t = await svc.state.get_ticket(call_id)
            assert t.channel == "sip" and t.language == "en" and t.queue == "en"
            async with jorge.get(f"http://{host}/handoff/api/queue") as r:  # Spanish only: not his call to see
                assert call_id not in [c["call_id"] for c in (await r.json())["calls"]]
            async with ann.get(f"http://{host}/handoff/api/calls/{call_id}") as r:
                card = await r.json()
                assert card["ticket"]["channel"] == "sip"
            t_accept = loop.time()
            async with ann.post(f"http://{host}/handoff/api/calls/{call_id}/accept", json={}) as r:
                assert r.status == 200, await r.text()
            await until(lambda: svc.state._tickets[call_id].state == "bridged", 30)
            t_bridged = loop.time()
            rc, out = await caller.wait(60)
            assert rc == 0, out[-3000:]
            rc, out = await agent_phone.wait(30)
            assert rc == 0, out[-3000:]  # the agent's phone was called, answered and hung up on
            await until(lambda: channel.bridges and channel.bridges[0].state.ended, 20)
        finally:
            for p in (caller, agent_phone):
                if p is not None and p.proc.returncode is None:
                    await p.stop()
            for r in readers:
                r.cancel()
            for w in ws.values():
                await w.close()
            await channel.stop()
    bridge = channel.bridges[0]
    assert isinstance(bridge.output.handoff, SipHandoff)  # the composition's hook, attached by the channel
    t = svc.state._tickets[call_id]
    assert t.state == "bridged" and t.mode == "voice" and t.agent_id == "ann"
    assert not any(e.get("offered_to") == "jorge" for _, e in events["jorge"])
    state = bridge.state
    assert state.end_reason == "transferred"
    results = [e.data for e in state.events.events if e.kind == "transfer_result"]
    assert results == [{"channel": "sip", "target": contact, "ok": True, "agent": "ann"}]
    assert channel.digit_at is not None
    print(f"\nSIP HANDOFF FIGURES: digit 0 at the bot -> offer on the desk {t_offer - channel.digit_at:.2f} s; "
          f"bridge {svc.bridge.timings(call_id)}; accept -> agent's phone answered (REFER done) {t_bridged - t_accept:.2f} s")


async def test_sip_caller_is_relayed_to_a_desk_only_agent_who_types(tmp_path: Path, desk) -> None:
    """No SIP contact for the agent: the bot stays on the line; the agent's typed reply is spoken
    on the call's RTP (captured with tshark); the agent ends the call and the bot sends BYE."""
    require("sipp", "espeak-ng", "tshark")
    dtmf0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")
    if not dtmf0.exists():
        pytest.skip("sipp's RFC 2833 pcaps are missing (/usr/share/sip-tester)")
    host, svc, runtime = desk
    svc.accounts.add(Agent("ann", "Ann", ("en",), **ALL_DAY), "ann-password")
    loop = asyncio.get_running_loop()
    rtp_port = free_port()
    channel = RecordingChannel(runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=rtp_port, port_max=rtp_port)))
    await channel.start()
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 60)
    media = (f'<nop><action><exec rtp_stream="{silence},1,0"/></action></nop><pause milliseconds="7000"/>'
             f'<nop><action><exec play_pcap_audio="{dtmf0}"/></action></nop>')
    text = (SIP_SCENARIOS / "caller_waits_bye.xml").read_text()
    text = text.replace('<nop><action><exec rtp_stream="{AUDIO},1,0"/></action></nop>', media).replace("{TIMEOUT_MS}", "60000")
    assert media in text
    scenario = tmp_path / "caller_waits_bye.xml"
    scenario.write_text(text)
    caller = None
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as ann:
        async with ann.post(f"http://{host}/handoff/api/login", json={"id": "ann", "password": "ann-password"}) as r:
            assert r.status == 200
        desk_ws = await ann.ws_connect(f"ws://{host}/handoff/ws")
        events: list[tuple[float, dict]] = []

        async def read() -> None:
            async for msg in desk_ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    events.append((loop.time(), json.loads(msg.data)))

        reader = asyncio.create_task(read())
        try:
            async with Capture(tmp_path / "bot.pcapng", f"udp src port {rtp_port}") as cap:
                caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                          "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                          "-nostdin", "-timeout", "90s", "-trace_err", cwd=tmp_path)
                offer = lambda: next((e for _, e in events if e.get("type") == "ticket" and e.get("state") == "offered"), None)
                await until(lambda: offer() is not None, 60)
                call_id = offer()["call_id"]
                bridge = channel.bridges[0]

                def spoken(text: str | None = None) -> bool:
                    """The hand-off line carrying ``text`` (None: the latest) has played to its end."""
                    evs = bridge.state.events.events
                    turns = [e.data["turn_id"] for e in evs if e.kind == "bot_reply" and e.data.get("agent")
                             and (text is None or e.data.get("text") == text)]
                    return bool(turns) and any(e.kind == "bot_speech_stop" and e.data.get("turn_id") == turns[-1] for e in evs)

                await until(spoken, 20)  # the wait estimate has been heard
                t_accept = time.time()
                async with ann.post(f"http://{host}/handoff/api/calls/{call_id}/accept", json={}) as r:
                    assert r.status == 200, await r.text()
                await until(lambda: svc.state._tickets[call_id].state == "bridged", 20)
                t = svc.state._tickets[call_id]
                assert t.mode == "relay" and t.channel == "sip"
                await until(lambda: spoken() and "Ann" in [e for e in bridge.state.events.events if e.kind == "bot_reply"][-1].data["text"], 20)
                t_say = time.time()
                async with ann.post(f"http://{host}/handoff/api/calls/{call_id}/say", json={"text": AGENT_LINE}) as r:
                    assert r.status == 200, await r.text()
                await until(lambda: spoken(AGENT_LINE), 30)
                t_said = time.time()
                async with ann.post(f"http://{host}/handoff/api/calls/{call_id}/release", json={"back_to_bot": False}) as r:
                    assert r.status == 200
                rc, out = await caller.wait(30)  # the bot's BYE ends the caller's scenario
                assert rc == 0, out[-3000:]
                await until(lambda: bridge.state.ended, 20)
        finally:
            if caller is not None and caller.proc.returncode is None:
                await caller.stop()
            reader.cancel()
            await desk_ws.close()
            await channel.stop()
    assert svc.state._tickets[call_id].state == "ended" and (await svc.state.get_agent("ann")).load == 0
    replies = [e.data for e in bridge.state.events.events if e.kind == "bot_reply" and e.data.get("agent")]
    assert [r["text"] for r in replies][-1] == AGENT_LINE
    rows = cap.rtp(rtp_port)

    def voiced_s(t0: float, t1: float) -> float:
        frames = [r for r in rows if t0 <= r[0] < t1 and r[4] == 0]
        return sum(1 for r in frames if rms_db(ulaw_decode(r[5])) > -45) * 0.02

    first_voiced = next(r[0] for r in rows if r[0] > t_accept and r[4] == 0
                        and rms_db(ulaw_decode(r[5])) > -45)
    assert voiced_s(t_say, t_said + 0.5) > 2.5, "the agent's words were not spoken on the call"
    print(f"\nSIP RELAY FIGURES: bridge {svc.bridge.timings(call_id)}; accept -> first relayed audio on RTP {first_voiced - t_accept:.2f} s")
