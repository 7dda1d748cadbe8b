"""The leg bridge: payload conversion and header rewriting (pure), then three user agents on
loopback (caller -> bot -> agent) with the bot relaying, transcoding PCMU <-> PCMA."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicebot.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voicebot.channels.sip.leg_bridge import LegBridge, StreamRewriter, convert_payload, send_paced
from voicebot.channels.sip.rtp import RtpPacket
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.sdp import MediaParams
from voicebot.channels.sip.sip_call import SipCall
from voicebot.channels.sip.ua import SipOptions, SipUserAgent

from .helpers import free_port, until

PCMU = MediaParams("127.0.0.1", 4000, 0, "PCMU", 101, "sendrecv")
PCMA = MediaParams("127.0.0.1", 4002, 8, "PCMA", 96, "sendrecv")
PCMA_NO_DTMF = MediaParams("127.0.0.1", 4002, 8, "PCMA", None, "sendrecv")


def _speechlike(seconds: float, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(8000 * seconds)) / 8000
    x = 6000 * np.sin(2 * np.pi * 300 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + rng.normal(0, 300, len(t))
    return x.astype("<i2").tobytes()


def test_same_codec_passes_the_payload_through_untouched() -> None:
    payload = ulaw_encode(_speechlike(0.02))
    assert convert_payload(RtpPacket(0, 1, 160, 7, payload), PCMU, PCMU) == (0, payload, False)


def test_different_laws_are_transcoded() -> None:
    pcm = _speechlike(0.02)
    out = convert_payload(RtpPacket(0, 1, 160, 7, ulaw_encode(pcm)), PCMU, PCMA)
    assert out is not None and out[0] == 8 and out[2] is True
    assert out[1] == alaw_encode(ulaw_decode(ulaw_encode(pcm)))
    back = convert_payload(RtpPacket(8, 1, 160, 7, alaw_encode(pcm)), PCMA, PCMU)
    assert back is not None and back[0] == 0 and back[1] == ulaw_encode(alaw_decode(alaw_encode(pcm)))


def test_digits_map_their_payload_type_or_are_dropped_when_the_far_end_has_none() -> None:
    event = bytes([5, 0x8A, 0x03, 0x20])
    assert convert_payload(RtpPacket(101, 1, 160, 7, event), PCMU, PCMA) == (96, event, False)
    assert convert_payload(RtpPacket(101, 1, 160, 7, event), PCMU, PCMA_NO_DTMF) is None
    assert convert_payload(RtpPacket(13, 1, 160, 7, b"\x40"), PCMU, PCMA) is None  # comfort noise


def test_rewriter_continues_the_outgoing_stream_and_keeps_gaps_and_order() -> None:
    rw = StreamRewriter(ssrc=0xABC, next_seq=500, ts_now=80_000, now=10.0)
    first = rw.rewrite(RtpPacket(0, 65534, 1_000, 1), 0, b"a", now=10.0)
    assert (first.ssrc, first.sequence, first.timestamp, first.marker) == (0xABC, 500, 80_000, True)
    second = rw.rewrite(RtpPacket(0, 65535, 1_160, 1), 0, b"b", now=10.02)
    assert (second.sequence, second.timestamp, second.marker) == (501, 80_160, False)
    after_gap = rw.rewrite(RtpPacket(0, 1, 1_480, 1), 0, b"d", now=10.06)  # 0 lost (seq wraps), kept as a gap
    assert (after_gap.sequence, after_gap.timestamp) == (503, 80_480)
    late = rw.rewrite(RtpPacket(0, 0, 1_320, 1), 0, b"c", now=10.07)  # the lost one, late: its own place
    assert (late.sequence, late.timestamp) == (502, 80_320)
    assert rw.next_seq == 504


def test_rewriter_resyncs_with_a_marker_when_the_far_end_restarts_its_stream() -> None:
    rw = StreamRewriter(ssrc=9, next_seq=10, ts_now=0, now=0.0)
    rw.rewrite(RtpPacket(0, 100, 5_000, 1), 0, b"x", now=0.0)
    restarted = rw.rewrite(RtpPacket(0, 7, 999_999, 2), 0, b"y", now=1.0)  # new SSRC one second later
    assert (restarted.sequence, restarted.timestamp, restarted.marker) == (11, 8_000, True)


class Phone:
    """A user agent on loopback that keeps every call it answers until it ends."""

    def __init__(self, codecs: tuple[str, ...] = ("PCMU", "PCMA"), on_call=None) -> None:  # type: ignore[no-untyped-def]
        rtp = free_port()
        self.calls: list[SipCall] = []
        self.ua = SipUserAgent(SipOptions(port=free_port(), transports=("udp",), codecs=codecs, answer_delay_s=0.0,
                                          rtp=RtpOptions(port_min=rtp, port_max=rtp + 40)), on_call or self._keep)

    async def _keep(self, call: SipCall) -> None:
        self.calls.append(call)
        await call.ended


@pytest.fixture
async def three():
    """caller -> bot -> agent: the bot dials the agent for each call and bridges the legs."""
    agent = Phone(codecs=("PCMA",))
    bridges: list[LegBridge] = []

    async def bot_call(call: SipCall) -> None:
        leg = await bot.ua.dial(f"sip:agent@127.0.0.1:{agent.ua.port}")
        bridge = LegBridge(call, leg)
        bridges.append(bridge)
        await bridge.run()

    bot = Phone(on_call=bot_call)
    caller = Phone(codecs=("PCMU",))
    for p in (agent, bot, caller):
        await p.ua.start()
    yield caller, bot, agent, bridges
    for p in (caller, bot, agent):
        await p.ua.stop()


async def _collect(call: SipCall, into: list[bytes]) -> None:
    async for frame in call.frames():
        into.append(frame)


async def test_bridged_legs_hear_each_other_transcoded_digits_pass_and_a_bye_ends_both(three) -> None:
    caller, _bot, agent, bridges = three
    leg = await caller.ua.dial(f"sip:bot@127.0.0.1:{_bot.ua.port}")
    await until(lambda: bridges and agent.calls and bridges[0]._started, 5)
    agent_call = agent.calls[0]
    assert leg.rtp.media.codec == "PCMU" and agent_call.rtp.media.codec == "PCMA"
    heard_by_agent: list[bytes] = []
    heard_by_caller: list[bytes] = []
    readers = [asyncio.create_task(_collect(agent_call, heard_by_agent)), asyncio.create_task(_collect(leg, heard_by_caller))]
    digits: list[str] = []
    leg.on_dtmf = digits.append
    speech_a, speech_b = _speechlike(1.0, 1), _speechlike(1.0, 2)
    await asyncio.gather(send_paced(leg, speech_a), send_paced(agent_call, speech_b))
    agent_call.send_dtmf("5")
    await until(lambda: digits == ["5"] and len(heard_by_agent) >= 45 and len(heard_by_caller) >= 45, 5)
    a = np.frombuffer(b"".join(heard_by_agent), "<i2").astype(float)
    ref = np.frombuffer(speech_a, "<i2").astype(float)
    n = min(len(a), len(ref)) - 400
    best = max(np.corrcoef(ref[:n], a[lag : lag + n])[0, 1] for lag in range(0, 400, 1))
    assert best > 0.99  # mu-law in, A-law out: transcoded, nearly lossless
    stats = bridges[0].stats
    assert stats["caller->agent"].transcoded >= 45 and stats["agent->caller"].dtmf_packets >= 1
    await agent_call.hangup("agent_done")  # the agent's BYE ...
    await asyncio.wait_for(leg.ended, 5)  # ... ends the caller's leg with the bot's BYE
    assert leg.ended.result() == "far_end_bye"
    for r in readers:
        r.cancel()
