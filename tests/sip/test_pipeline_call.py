"""A SIP call through the real call pipeline (minimal dialogue, dev ASR model, espeak voice):
sipp calls, hears the greeting (captured with tshark), presses 0 (RFC 4733), and is
blind-transferred with REFER to the agent URI configured for the caller's queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from voicebot.audio.pcm import load_audio
from voicebot.channels.sip.channel import SipCallBridge, SipChannel, SipChannelOptions
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.ua import SipOptions, SipUserAgent
from voicebot.runtime import Runtime

from .helpers import free_port, until
from .peers import (
    Capture,
    Proc,
    decode_stream,
    render,
    require,
    rms_db,
    shared_audio,
    speech_fraction,
)

pytestmark = [pytest.mark.peers, pytest.mark.slow]

AGENT_EN = "sip:agent-en@127.0.0.1:5999"


class RecordingChannel(SipChannel):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.bridges: list[SipCallBridge] = []

    def make_bridge(self, call):  # type: ignore[no-untyped-def]
        bridge = super().make_bridge(call)
        self.bridges.append(bridge)
        return bridge


async def test_sip_call_on_pipeline_greets_then_dtmf_zero_refers_to_agent(tmp_path: Path, settings) -> None:
    require("sipp", "tshark", "espeak-ng")
    dtmf0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")
    if not dtmf0.exists():
        pytest.skip("sipp's RFC 2833 pcaps are missing (/usr/share/sip-tester)")
    silence = tmp_path / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000 * 30)  # the caller's line: 30 s of mu-law silence
    media = (f'<nop><action><exec rtp_stream="{silence},1,0"/></action></nop><pause milliseconds="9000"/>'
             f'<nop><action><exec play_pcap_audio="{dtmf0}"/></action></nop>')
    scenario = render("transferee.xml", tmp_path, MEDIA=media, TIMEOUT_MS="60000", FINAL_STATUS="200 OK", REFER_TO="agent-en@")
    rtp_port = free_port()
    runtime = Runtime(settings)
    from voicebot.records.service import Records

    runtime.records = Records.open(settings)  # every call is recorded, as under `voicebot serve`
    channel = RecordingChannel(runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=rtp_port, port_max=rtp_port)),
                               SipChannelOptions(transfer_targets={"en": AGENT_EN}))
    await channel.start()
    try:
        async with Capture(tmp_path / "bot.pcapng", f"udp src port {rtp_port}") as cap:
            sipp = await Proc.start("sipp", f"127.0.0.1:{channel.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1",
                                    "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1",
                                    "-nostdin", "-timeout", "90s", "-trace_err", cwd=tmp_path)
            rc, out = await sipp.wait(100)
            assert rc == 0, out[-3000:]
            await until(lambda: channel.bridges and channel.bridges[0].state.ended, 20)
    finally:
        await channel.stop()
        runtime.close()
    assert not channel.ua.active_calls and not channel.calls
    state = channel.bridges[0].state
    assert state.end_reason == "transferred" and state.ctx.caller_number == "+15550001111"
    record = runtime.records.store.get_call(state.ctx.call_id)  # the call record of the SIP call
    assert record is not None and record.channel == "sip" and record.outcome == "handed_off" and record.ended_at
    assert any(a.kind == "transfer" for a in runtime.records.store.actions(state.ctx.call_id))
    assert runtime.records.store.recording(state.ctx.call_id) is not None
    runtime.records.close()
    results = [e for e in state.events.events if e.kind == "transfer_result"]
    assert results and results[0].data["ok"] is True and results[0].data["target"] == AGENT_EN
    rows = cap.rtp(rtp_port)
    heard = decode_stream(rows)
    # RTP runs for the whole call (silence between the bot's words); the speech in it is the
    # greeting + "I am connecting you to a colleague now."
    frames = [heard[i : i + 320] for i in range(0, len(heard) - 319, 320)]
    voiced = [f for f in frames if rms_db(f) > -45]
    assert len(voiced) * 0.02 > 4.0, len(voiced)
    assert speech_fraction(b"".join(voiced)) > 0.5
    span = max(r[0] for r in rows) - min(r[0] for r in rows)
    assert abs(span - len(frames) * 0.02) < 1.0  # paced in real time



async def test_barge_in_stops_bot_rtp_speech_at_once(settings) -> None:
    """The caller talks over the greeting: the bot's speech on the wire stops within the
    barge-in budget. The caller is this package's own outbound leg (``SipUserAgent.dial``),
    so it can start talking exactly while the bot speaks (sipp cannot react to audio)."""
    require("espeak-ng")
    speech = load_audio(shared_audio("telephony/spokenwoz_turn16_ch1.wav"), 8000).astype("<i2").tobytes()
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())  # as `voicebot serve` does
    bot = RecordingChannel(runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=30000, port_max=30998)))
    phone = SipUserAgent(SipOptions(port=free_port(), user="caller", rtp=RtpOptions(port_min=31000, port_max=31998)), _no_calls)
    await bot.start()
    await phone.start()
    loop = asyncio.get_running_loop()
    try:
        leg = await phone.dial(f"sip:bot@127.0.0.1:{bot.ua.port}", from_user="+15550001111")
        heard: list[tuple[float, bool]] = []  # (arrival time, loud) of every bot frame

        async def listen() -> None:
            async for frame in leg.frames():
                heard.append((loop.time(), rms_db(frame) > -40))

        listener = asyncio.ensure_future(listen())
        # the caller's line: silence every 20 ms until the bot has spoken 0.5 s, then the recording
        deadline, started, i = loop.time(), None, 0
        answered = lambda: started is not None and any(loud for t, loud in heard if t > started + 3.0)
        end = loop.time() + 40
        while loop.time() < end and not (started is not None and i * 320 >= len(speech) and answered()):
            if started is None and sum(loud for _, loud in heard[-25:]) >= 20:
                started, i = loop.time(), 0
            leg.send_frame(speech[i * 320 : (i + 1) * 320].ljust(320, b"\0") if started is not None else bytes(320))
            i += 1
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - loop.time()))
        assert started is not None, "the bot never spoke"
        # without barge-in the rest of the greeting (~3.5 s) would play over the caller
        bot_over_caller = sum(loud for t, loud in heard if started <= t < started + 3.0) * 0.02
        print(f"barge-in: bot spoke {bot_over_caller:.2f} s in the 3 s after the caller started talking")
        assert bot_over_caller < 1.0, f"bot kept talking {bot_over_caller:.2f} s over the caller"
        assert answered(), "the bot never answered the caller's turn"
        await leg.hangup()
        await until(lambda: bot.bridges and bot.bridges[0].state.ended, 20)
        listener.cancel()
    finally:
        await phone.stop()
        await bot.stop()
        runtime.close()
    state = bot.bridges[0].state
    assert state.end_reason == "caller_hung_up" and state.ctx.caller_number == "+15550001111"
    assert any(e.kind == "bot_speech_stop" and e.data.get("interrupted") for e in state.events.events)


async def _no_calls(call) -> None:  # type: ignore[no-untyped-def]
    await call.hangup()
