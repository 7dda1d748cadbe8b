"""End to end on SIP, attended transfer (``sip.transfer_mode: attended``) with real peers on loopback.

A sipp caller (RTP from a real recording) presses 0 for a person (minimal dialogue); the
English agent Ann accepts on the desk state; the bot calls Ann's phone (baresip, answering
automatically, its microphone a real recording), speaks the briefing to her while the caller
hears the hold tone, then relays both legs' RTP. tshark on the bot's RTP ports shows the
relayed payloads are the other leg's own bytes (pass-through, both PCMU); baresip's own
recording shows it heard the briefing. Ann's phone hangs up (its recording ends): the bot
BYEs the caller and the call record ends as transferred.

Also: Ann's phone answers 486 Busy Here (the caller stays with the bot, Ann typing: relay);
the caller hangs up while bridged (the bot BYEs Ann's phone; a digit pressed while bridged
reaches her leg as RFC 4733); the desk ends a bridged call (BYE on both legs); Ann sends the
caller back to the bot (her leg ends, the bot hears the caller again).

Figures printed: accept -> agent leg answered, answered -> bridged (the briefing).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.sip.helpers import free_port, until
from tests.sip.peers import SCENARIOS as SIP_SCENARIOS
from tests.sip.peers import Capture, Proc, best_correlation, render, require, rms_db, shared_audio
from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import load_audio
from voicebot.channels.sip.channel import SipCallBridge, SipChannel
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.ua import SipOptions
from voicebot.handoff.routes import HandoffOptions, service_for
from voicebot.handoff.routing import Agent
from voicebot.handoff.sip_attended import synthesize_8k
from voicebot.runtime import Runtime

pytestmark = [pytest.mark.peers, pytest.mark.slow]
ALL_DAY = {"hours": (0, 24), "days": (0, 1, 2, 3, 4, 5, 6)}
CALLER_SPEECH = "telephony/spokenwoz_turn16_ch1.wav"  # 4.5 s, a real caller turn, 8 kHz
AGENT_SPEECH = "telephony/azure_callcenter_sample.wav"  # 11 s, a real call-centre agent
DTMF0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")

BUSY_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agent phone busy">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


class RecordingChannel(SipChannel):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.bridges: list[SipCallBridge] = []

    def make_bridge(self, call):  # type: ignore[no-untyped-def]
        bridge = super().make_bridge(call)
        self.bridges.append(bridge)
        return bridge


@pytest.fixture
async def bot(settings):
    """The bot: runtime (attended mode), desk state with its bridge started, SIP channel with two RTP ports."""
    require("sipp", "espeak-ng", "tshark", "baresip")
    if not DTMF0.exists():
        pytest.skip("sipp's RFC 2833 pcaps are missing (/usr/share/sip-tester)")
    settings.sip.transfer_mode = "attended"
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=20.0))
    await svc.ensure_started()
    rtp = _two_free_ports()
    channel = RecordingChannel(runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=rtp, port_max=rtp + 2)))
    await channel.start()
    yield channel, svc, runtime, rtp
    await channel.stop()
    await svc.bridge.stop()
    runtime.close()


def _two_free_ports() -> int:
    import socket

    for _ in range(50):
        p = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", p + 2))
            except OSError:
                continue
        return p
    raise RuntimeError("no two free RTP ports")


async def _sox(*args: str) -> None:
    rc, out = await (await Proc.start("sox", *args)).wait(30)
    assert rc == 0, out


def _caller_scenario(tmp_path: Path, caller_ulaw: Path) -> Path:
    """The caller: its recording streams the whole call; digit 0 at 7 s; waits for the bot's BYE."""
    media = (f'<nop><action><exec rtp_stream="{caller_ulaw},1,0"/></action></nop><pause milliseconds="7000"/>'
             f'<nop><action><exec play_pcap_audio="{DTMF0}"/></action></nop>')
    text = (SIP_SCENARIOS / "caller_waits_bye.xml").read_text()
    text = text.replace('<nop><action><exec rtp_stream="{AUDIO},1,0"/></action></nop>', media).replace("{TIMEOUT_MS}", "90000")
    assert media in text
    scenario = tmp_path / "caller.xml"
    scenario.write_text(text)
    return scenario


def _caller_audio(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """18 s of silence (no speech while the bot answers the digit), then the real recording looped to 90 s."""
    speech = load_audio(shared_audio(CALLER_SPEECH), 8000)
    gap = np.zeros(8000, dtype=np.int16)
    body = np.concatenate([np.zeros(18 * 8000, dtype=np.int16)] + [np.concatenate([speech, gap])] * 14)
    path = tmp_path / "caller.ulaw"
    path.write_bytes(ulaw_encode(body))
    return path, speech


def _rtp_flows(cap: Path) -> list[tuple[float, int, int, int, bytes]]:
    """(time, src port, dst port, payload type, payload) of every RTP packet in the capture."""
    out = subprocess.run(
        ["tshark", "-r", str(cap), "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields", "-e", "frame.time_epoch",
         "-e", "udp.srcport", "-e", "udp.dstport", "-e", "rtp.p_type", "-e", "rtp.payload"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        t, sp, dp, pt, payload = (line.split("\t") + [""] * 5)[:5]
        if pt.isdigit():
            rows.append((float(t), int(sp), int(dp), int(pt), bytes.fromhex(payload.replace(":", ""))))
    return rows


def _baresip_agent(tmp_path: Path, port: int, source: Path) -> Path:
    conf, rec = tmp_path / "agent", tmp_path / "agent-rec"
    conf.mkdir()
    rec.mkdir()
    (conf / "config").write_text("\n".join([
        "poll_method epoll", f"sip_listen 127.0.0.1:{port}", "net_interface 127.0.0.1",
        f"audio_source aufile,{source}", "audio_player alsa,null", "audio_alert alsa,null",
        "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so", "module alsa.so", "module sndfile.so",
        f"snd_path {rec}", "module_tmp account.so", "module_app menu.so", "",
    ]))
    (conf / "accounts").write_text("<sip:ann@127.0.0.1>;regint=0;audio_codecs=PCMU;answermode=auto\n")
    return conf


async def test_attended_transfer_briefs_the_agent_then_bridges_and_the_agents_bye_ends_the_caller(tmp_path: Path, bot) -> None:
    channel, svc, runtime, rtp = bot
    loop = asyncio.get_running_loop()
    agent_port = free_port()
    contact = f"sip:ann@127.0.0.1:{agent_port}"
    await svc.state.put_agent(Agent("ann", "Ann", ("en",), contact=contact, status="available", **ALL_DAY))
    caller_ulaw, _ = _caller_audio(tmp_path)
    scenario = _caller_scenario(tmp_path, caller_ulaw)
    agent_wav = tmp_path / "agent.wav"  # 1 s of silence, then the agent talks; the phone hangs up after 26 s
    await _sox(str(shared_audio(AGENT_SPEECH)), "-r", "8000", "-c", "1", "-b", "16", str(agent_wav), "pad", "1", "0", "repeat", "1",
               "trim", "0", "26")
    conf = _baresip_agent(tmp_path, agent_port, agent_wav)
    agent_phone = caller = None
    async with Capture(tmp_path / "rtp.pcapng", f"udp portrange {rtp}-{rtp + 2}") as cap:
        try:
            agent_phone = await Proc.start("baresip", "-f", str(conf), "-t", "90")
            caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                      "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                      "-nostdin", "-timeout", "120s", "-trace_err", cwd=tmp_path)
            offered = lambda: next((t for t in svc.state._tickets.values() if t.state == "offered" and t.offered_to == "ann"), None)
            await until(lambda: offered() is not None, 60)
            call_id = offered().call_id
            bridge = channel.bridges[0]
            t_accept = loop.time()
            assert await svc.bridge.accept(call_id, await svc.state.get_agent("ann"))
            await until(lambda: svc.state._tickets[call_id].state == "bridged", 60)
            transfer = bridge.output.handoff.handle.attended
            assert transfer is not None and svc.state._tickets[call_id].mode == "voice"
            rc, out = await caller.wait(60)  # Ann's phone hangs up; the bot's BYE ends the caller's scenario
            assert rc == 0, out[-3000:]
            await agent_phone.stop()  # a listening phone: it stays up after the call
            await until(lambda: bridge.state.ended, 20)
        finally:
            for p in (caller, agent_phone):
                if p is not None and p.proc.returncode is None:
                    await p.stop()
    # ---- the call record and the ticket
    events = bridge.state.events.events
    legs = [e.data for e in events if e.kind == "handoff_leg"]
    stages = [d["stage"] for d in legs]
    assert sorted(stages) == sorted(["briefing", "dialing", "answered", "bridged", "ended"]), legs
    assert stages.index("dialing") < stages.index("answered") < stages.index("bridged") < stages.index("ended")
    assert legs[-1]["ended_by"] == "agent" and legs[-1]["reason"] == "far_end_bye"
    result = [e.data for e in events if e.kind == "transfer_result"]
    assert len(result) == 1 and result[0]["ok"] and result[0]["mode"] == "attended" and result[0]["agent"] == "ann"
    assert bridge.state.end_reason == "transferred" and bridge.state.outcome == "handed_off"
    ticket = svc.state._tickets[call_id]
    assert ticket.state == "ended" and ticket.history[-1]["what"] == "agent_hung_up"
    assert (await svc.state.get_agent("ann")).load == 0
    # ---- what went over RTP
    caller_port, agent_leg_port = bridge.call.rtp.port, transfer.leg.rtp.port
    t_bridged = transfer.marks["bridged"]
    bridged_at = time.time() - (loop.time() - t_bridged)  # loop time -> capture (epoch) time
    rows = _rtp_flows(cap.path)
    to_agent = [r for r in rows if r[1] == agent_leg_port and r[3] == 0]
    from_agent = [r for r in rows if r[2] == agent_leg_port and r[3] == 0]
    to_caller = [r for r in rows if r[1] == caller_port and r[3] == 0]
    from_caller = [r for r in rows if r[2] == caller_port and r[3] == 0]
    voiced = lambda rs: [r for r in rs if rms_db(ulaw_decode(r[4])) > -40]
    # the briefing: the bot's own voice to the agent before the bridge, speech energy, matching its TTS
    briefing_rows = [r for r in to_agent if r[0] < bridged_at - 0.05]
    assert len(voiced(briefing_rows)) * 0.02 > 2.0, "the agent did not get a spoken briefing"
    text = next(d["text"] for d in legs if d["stage"] == "briefing")
    assert "Call transferred from the voice bot" in text
    briefing = await synthesize_8k(runtime, bridge.session.spec, text, "en")
    heard_files = list((tmp_path / "agent-rec").glob("dump-*-dec.wav"))
    assert len(heard_files) == 1
    heard_by_agent = load_audio(heard_files[0], 8000).astype("<i2").tobytes()
    assert best_correlation(briefing[:16000], heard_by_agent, max_lag=8000) > 0.9
    # while the agent was called and briefed, the caller heard the hold tone (0.2 s in 3 s), never the bot talking
    answered_at = time.time() - (loop.time() - transfer.marks["answered"])
    on_hold = [r for r in to_caller if answered_at + 0.1 < r[0] < bridged_at - 0.1]
    assert len(on_hold) * 0.02 > 0.8 * (bridged_at - answered_at - 0.2), "the caller's line went quiet on hold"
    assert 0 < len(voiced(on_hold)) < 0.12 * len(on_hold), (len(voiced(on_hold)), len(on_hold))
    # bridged: each leg's payloads pass through unchanged (same codec), speech included
    ended_at = time.time() - (loop.time() - transfer.marks["ended"])
    window = lambda rs: [r for r in rs if bridged_at + 0.1 < r[0] < ended_at - 0.2]
    relayed_to_agent, relayed_to_caller = window(to_agent), window(to_caller)
    caller_voiced, agent_voiced = len(voiced(window(from_caller))), len(voiced(window(from_agent)))
    assert caller_voiced * 0.02 > 1.0 and agent_voiced * 0.02 > 1.0, (caller_voiced, agent_voiced)
    assert len(voiced(relayed_to_agent)) >= 0.9 * caller_voiced, "caller speech did not reach the agent"
    assert len(voiced(relayed_to_caller)) >= 0.9 * agent_voiced, "agent speech did not reach the caller"
    from_caller_payloads, from_agent_payloads = {r[4] for r in from_caller}, {r[4] for r in from_agent}
    assert all(r[4] in from_caller_payloads for r in relayed_to_agent)
    assert all(r[4] in from_agent_payloads for r in relayed_to_caller)
    # ... and the agent's phone played the caller's speech after the briefing
    tail = heard_by_agent[int((t_bridged - transfer.marks["answered"]) * 16000) + 8000 :]
    assert sum(rms_db(tail[i : i + 320]) > -40 for i in range(0, len(tail) - 319, 320)) * 0.02 > 1.0
    timings = transfer.timings_ms()
    print(f"\nSIP ATTENDED FIGURES: accept -> agent leg answered {transfer.marks['answered'] - t_accept:.2f} s "
          f"(dialing -> answered {timings['dial_ms'] / 1000:.2f} s); answered -> bridged (briefing of "
          f"{len(briefing) / 16000:.1f} s) {timings['briefing_ms'] / 1000:.2f} s; bridge {svc.bridge.timings(call_id)}")


async def test_busy_agent_phone_486_leaves_the_caller_with_the_bot_relaying(tmp_path: Path, bot) -> None:
    channel, svc, runtime, rtp = bot
    agent_port = free_port()
    await svc.state.put_agent(Agent("ann", "Ann", ("en",), contact=f"sip:ann@127.0.0.1:{agent_port}", status="available", **ALL_DAY))
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 90)
    scenario = _caller_scenario(tmp_path, silence)
    busy = tmp_path / "busy.xml"
    busy.write_text(BUSY_UAS)
    agent_phone = caller = None
    try:
        agent_phone = await Proc.start("sipp", "-sf", str(busy), "-i", "127.0.0.1", "-p", str(agent_port), "-m", "1",
                                       "-nostdin", "-timeout", "90s", "-trace_err", cwd=tmp_path)
        caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                  "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                  "-nostdin", "-timeout", "120s", "-trace_err", cwd=tmp_path)
        offered = lambda: next((t for t in svc.state._tickets.values() if t.state == "offered" and t.offered_to == "ann"), None)
        await until(lambda: offered() is not None, 60)
        call_id = offered().call_id
        bridge = channel.bridges[0]
        assert await svc.bridge.accept(call_id, await svc.state.get_agent("ann"))
        await until(lambda: svc.state._tickets[call_id].state == "bridged", 30)
        rc, out = await agent_phone.wait(20)
        assert rc == 0, out[-3000:]  # the busy phone got the INVITE, said 486 and got its ACK
        ticket = svc.state._tickets[call_id]
        assert ticket.mode == "relay" and bridge.call.is_up
        assert bridge.output.media == "bot" and bridge.output.handoff.handle.attended is None
        # the caller is told who has the call now, in the bot's voice on the call
        await until(lambda: any(e.kind == "bot_reply" and e.data.get("agent") and "Ann" in e.data["text"]
                                for e in bridge.state.events.events), 20)
        await svc.bridge.release(call_id, await svc.state.get_agent("ann"), back_to_bot=False)
        rc, out = await caller.wait(30)  # the bot's BYE ends the caller's scenario
        assert rc == 0, out[-3000:]
        await until(lambda: bridge.state.ended, 20)
    finally:
        for p in (caller, agent_phone):
            if p is not None and p.proc.returncode is None:
                await p.stop()
    legs = [e.data for e in bridge.state.events.events if e.kind == "handoff_leg"]
    failed = [d for d in legs if d["stage"] == "failed"]
    assert len(failed) == 1 and failed[0]["status"] == 486, legs
    result = [e.data for e in bridge.state.events.events if e.kind == "transfer_result"]
    assert result and result[0]["ok"] is False and result[0]["mode"] == "attended"


async def test_caller_bye_during_the_bridge_ends_the_agents_leg_with_bye(tmp_path: Path, bot) -> None:
    channel, svc, _runtime, _rtp = bot
    agent_port = free_port()
    await svc.state.put_agent(Agent("ann", "Ann", ("en",), contact=f"sip:ann@127.0.0.1:{agent_port}", status="available", **ALL_DAY))
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 90)
    # digit 0 at 7 s asks for a person; 0 again at 37 s goes through the bridge to the agent; BYE at 47 s:
    # well after the briefing (about 13 s) even on a busy machine
    media = (f'<nop><action><exec rtp_stream="{silence},1,0"/></action></nop><pause milliseconds="7000"/>'
             f'<nop><action><exec play_pcap_audio="{DTMF0}"/></action></nop><pause milliseconds="30000"/>'
             f'<nop><action><exec play_pcap_audio="{DTMF0}"/></action></nop>')
    scenario = render("caller_audio.xml", tmp_path, MEDIA=media, HOLD_MS="10000")
    agent_wav = tmp_path / "agent.wav"  # the agent's phone would talk for 90 s: the caller leaves first
    await _sox(str(shared_audio(AGENT_SPEECH)), "-r", "8000", "-c", "1", "-b", "16", str(agent_wav), "repeat", "8")
    conf = _baresip_agent(tmp_path, agent_port, agent_wav)
    agent_phone = caller = None
    try:
        agent_phone = await Proc.start("baresip", "-f", str(conf), "-t", "120")
        caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                  "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                  "-nostdin", "-timeout", "120s", "-trace_err", cwd=tmp_path)
        offered = lambda: next((t for t in svc.state._tickets.values() if t.state == "offered" and t.offered_to == "ann"), None)
        await until(lambda: offered() is not None, 60)
        call_id = offered().call_id
        bridge = channel.bridges[0]
        assert await svc.bridge.accept(call_id, await svc.state.get_agent("ann"))
        await until(lambda: svc.state._tickets[call_id].state == "bridged", 60)
        transfer = bridge.output.handoff.handle.attended
        assert transfer is not None, "the agent leg was not bridged before the caller hung up"
        rc, out = await caller.wait(90)  # the caller's BYE, answered 200 by the bot
        assert rc == 0, out[-3000:]
        await until(lambda: transfer.leg is not None and not transfer.leg.is_up and bridge.state.ended, 20)
    finally:
        for p in (caller, agent_phone):
            if p is not None and p.proc.returncode is None:
                await p.stop()
    _rc, agent_out = await agent_phone.wait(10)
    assert transfer.end is not None and transfer.end.ended_by == "caller" and transfer.end.reason == "far_end_bye"
    assert transfer.bridge is not None and transfer.bridge.stats["caller->agent"].dtmf_packets >= 3  # the digit, relayed
    assert transfer.leg.ended.result() == "caller_left_bridge"  # the bot sent BYE on the agent's leg ...
    assert "Call established" in agent_out and "terminated" in agent_out.lower(), agent_out[-2000:]  # ... and baresip took it
    ticket = svc.state._tickets[call_id]
    assert ticket.state == "ended" and ticket.history[-1]["what"] == "caller_hung_up"
    assert bridge.state.end_reason == "transferred" and (await svc.state.get_agent("ann")).load == 0



async def _bridged_call(tmp_path: Path, channel, svc, scenario: Path):  # type: ignore[no-untyped-def]
    """Start a baresip agent and the sipp caller; accept for Ann; return once the legs are bridged."""
    agent_port = free_port()
    await svc.state.put_agent(Agent("ann", "Ann", ("en",), contact=f"sip:ann@127.0.0.1:{agent_port}", status="available", **ALL_DAY))
    agent_wav = tmp_path / "agent.wav"
    await _sox(str(shared_audio(AGENT_SPEECH)), "-r", "8000", "-c", "1", "-b", "16", str(agent_wav), "repeat", "8")
    agent_phone = await Proc.start("baresip", "-f", str(_baresip_agent(tmp_path, agent_port, agent_wav)), "-t", "120")
    caller = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                              "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                              "-nostdin", "-timeout", "120s", "-trace_err", cwd=tmp_path)
    offered = lambda: next((t for t in svc.state._tickets.values() if t.state == "offered" and t.offered_to == "ann"), None)
    await until(lambda: offered() is not None, 60)
    call_id = offered().call_id
    assert await svc.bridge.accept(call_id, await svc.state.get_agent("ann"))
    await until(lambda: svc.state._tickets[call_id].state == "bridged", 60)
    bridge = channel.bridges[0]
    assert bridge.output.handoff.handle.attended is not None
    return call_id, bridge, bridge.output.handoff.handle.attended, caller, agent_phone


async def test_desk_ending_a_bridged_call_sends_bye_on_both_legs(tmp_path: Path, bot) -> None:
    channel, svc, _runtime, _rtp = bot
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 90)
    caller = agent_phone = None
    try:
        call_id, bridge, transfer, caller, agent_phone = await _bridged_call(tmp_path, channel, svc, _caller_scenario(tmp_path, silence))
        await svc.bridge.release(call_id, await svc.state.get_agent("ann"), back_to_bot=False)
        rc, out = await caller.wait(30)  # the bot's BYE to the caller
        assert rc == 0, out[-3000:]
        await until(lambda: not transfer.leg.is_up and bridge.state.ended, 20)
    finally:
        for p in (caller, agent_phone):
            if p is not None and p.proc.returncode is None:
                await p.stop()
    assert transfer.leg.ended.result() == "agent_ended"  # the bot's BYE to the agent
    assert svc.state._tickets[call_id].state == "ended" and (await svc.state.get_agent("ann")).load == 0


async def test_agent_sending_the_caller_back_ends_the_agents_leg_and_the_bot_hears_the_caller_again(tmp_path: Path, bot) -> None:
    channel, svc, _runtime, _rtp = bot
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 90)
    caller = agent_phone = None
    try:
        call_id, bridge, transfer, caller, agent_phone = await _bridged_call(tmp_path, channel, svc, _caller_scenario(tmp_path, silence))
        heard_before = bridge.input.received_ms
        await svc.bridge.release(call_id, await svc.state.get_agent("ann"), back_to_bot=True)
        await until(lambda: not transfer.leg.is_up, 10)
        assert transfer.leg.ended.result() == "back_to_bot" and bridge.call.is_up
        assert bridge.output.media == "bot" and bridge.output.handoff.handle.attended is None and bridge.call.rtp.on_packet is None
        await until(lambda: bridge.input.received_ms > heard_before + 1000, 10)  # the pipeline hears the caller again
        assert svc.state._tickets[call_id].state == "returned" and bridge.state.end_reason is None
    finally:
        for p in (caller, agent_phone):
            if p is not None and p.proc.returncode is None:
                await p.stop()
