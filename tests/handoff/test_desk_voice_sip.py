"""The agent's voice on a relayed SIP call: a real SIP caller (sipp, RTP PCMU) and the agent's aiortc peer.

Real parts: the bot's SIP channel (UA + RTP) with the hand-off, the call pipeline (minimal
dialogue, espeak voice, dev whisper-tiny), the desk routes, sipp as the caller (25 s of quiet,
digit 0 for a person, then a real English recording), tshark capturing the bot's RTP, and a
Python aiortc peer in the desk's role (test_desk_voice.py drives the real desk in Chromium).

Checked: the caller's speech (RTP from sipp) reaches the agent's track; the agent's voice is sent
on the call's RTP (captured, decoded, voiced) while the dialogue stays muted; the agent ends the
call, the bot sends BYE, the leg is closed and no task is left running.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from fastapi import FastAPI

from tests.handoff.servers import serving
from tests.handoff.test_desk_voice_twilio import AgentPeer, agent_media_tasks
from tests.pipeline.timeline import speech
from tests.sip.helpers import free_port, until
from tests.sip.peers import SCENARIOS as SIP_SCENARIOS
from tests.sip.peers import Capture, Proc, require, rms_db
from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import resample
from voicebot.channels.sip.channel import SipChannel
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.ua import SipOptions
from voicebot.handoff.relay import RELAY_TURN_BASE
from voicebot.handoff.routes import HandoffOptions, make_router, service_for
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime

pytestmark = [pytest.mark.peers, pytest.mark.slow]
ALL_DAY = {"hours": (0, 24), "days": (0, 1, 2, 3, 4, 5, 6)}
CALLER_SPEAKS_AT_S = 25.0


class RecordingChannel(SipChannel):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.bridges: list = []

    def make_bridge(self, call):  # type: ignore[no-untyped-def]
        bridge = super().make_bridge(call)
        self.bridges.append(bridge)
        return bridge


@pytest.fixture
async def desk(settings):
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=30.0, talk_ice_addresses=("127.0.0.1",)))
    svc.accounts.add(Agent("ann", "Ann", ("en",), **ALL_DAY), "ann-password")
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(make_router(runtime))
    async with serving(app) as addr:
        yield addr, svc, runtime
        await svc.media.stop()
    await svc.bridge.stop()
    runtime.close()


def caller_audio(path: Path) -> None:
    """Raw mu-law for sipp's rtp_stream: quiet, then the caller speaking with short pauses (to 90 s)."""
    clip = resample(speech("en/sb_timit_spk1_snt1.wav"), 16000, 8000)
    pcm = np.zeros(8000 * 90, np.int16)
    at = int(CALLER_SPEAKS_AT_S * 8000)
    while at + len(clip) < len(pcm):
        pcm[at : at + len(clip)] = clip
        at += len(clip) + 2400
    path.write_bytes(ulaw_encode(pcm.astype("<i2").tobytes()))


async def test_agent_talks_on_a_relayed_sip_call(tmp_path: Path, desk) -> None:
    require("sipp", "espeak-ng", "tshark")
    dtmf0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")
    if not dtmf0.exists():
        pytest.skip("sipp's RFC 2833 pcaps are missing (/usr/share/sip-tester)")
    host, svc, runtime = desk
    rtp_port = free_port()
    channel = RecordingChannel(runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=rtp_port, port_max=rtp_port)))
    await channel.start()
    audio = tmp_path / "caller.ulaw"
    caller_audio(audio)
    media = (f'<nop><action><exec rtp_stream="{audio},1,0"/></action></nop><pause milliseconds="7000"/>'
             f'<nop><action><exec play_pcap_audio="{dtmf0}"/></action></nop>')
    text = (SIP_SCENARIOS / "caller_waits_bye.xml").read_text()
    text = text.replace('<nop><action><exec rtp_stream="{AUDIO},1,0"/></action></nop>', media).replace("{TIMEOUT_MS}", "120000")
    assert media in text
    scenario = tmp_path / "caller_waits_bye.xml"
    scenario.write_text(text)
    caller = None
    agent = AgentPeer()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as ann:
        async with ann.post(f"http://{host}/handoff/api/login", json={"id": "ann", "password": "ann-password"}) as r:
            assert r.status == 200
        try:
            async with Capture(tmp_path / "bot.pcapng", f"udp src port {rtp_port}") as cap:
                caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                          "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                          "-nostdin", "-timeout", "150s", "-trace_err", cwd=tmp_path)
                offered = lambda: next((t for t in svc.state._tickets.values() if t.state == "offered"), None)
                await until(lambda: offered() is not None, 60)
                call_id = offered().call_id
                bridge = channel.bridges[0]

                def spoken() -> bool:
                    """The latest hand-off line has played to its end."""
                    evs = bridge.state.events.events
                    turns = [e.data["turn_id"] for e in evs if e.kind == "bot_reply" and e.data.get("agent")]
                    return bool(turns) and any(e.kind == "bot_speech_stop" and e.data.get("turn_id") == turns[-1] for e in evs)

                await until(spoken, 30)  # the wait estimate
                async with ann.post(f"http://{host}/handoff/api/calls/{call_id}/accept", json={}) as r:
                    assert r.status == 200, await r.text()
                await until(lambda: svc.state._tickets[call_id].state == "bridged", 20)
                await until(lambda: spoken() and "Ann" in [e for e in bridge.state.events.events if e.kind == "bot_reply"][-1].data["text"], 30)
                loud: list[bool] = []  # the caller's audio as the bot receives it
                bridge.input.audio_taps.append(lambda pcm: loud.append(rms_db(pcm) > -40))
                await until(lambda: sum(loud[-50:]) > 10, 40)  # the caller is speaking now

                dialogue = lambda: sum(1 for e in bridge.state.events.events if e.kind == "bot_speech_start" and e.data.get("turn_id", 0) < RELAY_TURN_BASE)
                dialogue_before = dialogue()
                t_talk = time.time()
                assert await agent.talk(ann, host, call_id, origin={"Origin": f"http://{host}"}) == 200
                leg = svc.media.legs[call_id]
                await until(lambda: agent.heard_speech() > 25, 30)  # the caller's speech reaches the agent
                await until(lambda: leg.stats["agent_loud_frames"] > 100, 30)  # 2 s of the agent's speech played
                t_talked = time.time()
                assert dialogue() == dialogue_before, "the dialogue's replies must stay muted while the agent talks"
                async with ann.post(f"http://{host}/handoff/api/calls/{call_id}/release", json={"back_to_bot": False}) as r:
                    assert r.status == 200
                rc, out = await caller.wait(30)  # the bot's BYE ends the caller's scenario
                assert rc == 0, out[-3000:]
                await until(lambda: leg.closed.is_set(), 15)
                assert leg.end_reason == "call_ended" and call_id not in svc.media.legs and leg.pc.connectionState == "closed"
                await until(lambda: not agent_media_tasks(), 5)
        finally:
            await agent.close()
            if caller is not None and caller.proc.returncode is None:
                await caller.stop()
            await channel.stop()
    rows = [r for r in cap.rtp(rtp_port) if r[4] == 0 and t_talk <= r[0] < t_talked]
    voiced = sum(1 for r in rows if rms_db(ulaw_decode(r[5])) > -45) * 0.02
    assert voiced > 1.5, f"the agent's voice was not on the call's RTP ({voiced:.2f} s voiced of {len(rows) * 0.02:.2f} s)"
    print(f"\nSIP TALK: {voiced:.2f} s of the agent's voice on the call's RTP in {t_talked - t_talk:.2f} s; "
          f"caller frames heard by the agent with speech {agent.heard_speech()}; leg {leg.stats}")
