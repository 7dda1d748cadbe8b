"""The user agent over real loopback sockets, with a virtual clock for every SIP/RTP timer."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from typing import Self

import numpy as np
import pytest

from voicebot.audio.g711 import ulaw_encode
from voicebot.clock import VirtualClock
from voicebot.channels.sip.dtmf import dtmf_packets
from voicebot.channels.sip.message import SipRequest, SipResponse, parse_message
from voicebot.channels.sip.rtp import RtpPacket, seq_delta
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.sdp import SessionDescription
from voicebot.channels.sip.sip_call import SipCall
from voicebot.channels.sip.ua import (
    RegistrationOptions,
    SipCallFailed,
    SipOptions,
    SipUserAgent,
)

from .helpers import Dialer, UdpPeer, free_port, sdp_offer, sent_so_far, until


class Harness:
    """A UA on free ports, a virtual clock, a caller peer (SIP + RTP) and the calls seen."""

    def __init__(self, **opts) -> None:  # type: ignore[no-untyped-def]
        self.clock = VirtualClock()
        self.calls: list[SipCall] = []
        self.call_started = asyncio.Event()
        self.release = asyncio.Event()
        self.dtmf: list[str] = []
        opts.setdefault("rtp", RtpOptions(port_min=30000, port_max=39998, timeout_s=30.0))
        opts.setdefault("answer_delay_s", 0.0)  # answer at once: the virtual clock is not advanced
        self.options = SipOptions(host="127.0.0.1", port=free_port(), **opts)
        self.ua = SipUserAgent(self.options, self.on_call, clock=self.clock)

    async def on_call(self, call: SipCall) -> None:
        call.on_dtmf = self.dtmf.append
        self.calls.append(call)
        self.call_started.set()
        ended = asyncio.ensure_future(asyncio.shield(call.ended))
        await asyncio.wait([ended, asyncio.ensure_future(self.release.wait())], return_when=asyncio.FIRST_COMPLETED)

    async def __aenter__(self) -> Self:
        await self.ua.start()
        self.sip = await UdpPeer.open()
        self.rtp = await UdpPeer.open()
        self.dialer = Dialer(self.sip.port, self.ua.port, self.rtp.port)
        return self

    async def __aexit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        self.release.set()

        async def answer_byes() -> None:  # like a phone: 200 to the bot's shutdown BYEs
            while True:
                msg = await self.sip.recv(10)
                if isinstance(msg, SipRequest) and msg.method == "BYE":
                    self.sip.send(self.dialer.respond(msg, 200), self.ua.port)

        responder = asyncio.ensure_future(answer_byes())
        await self.ua.stop()
        responder.cancel()
        self.sip.close()
        self.rtp.close()
        assert not self.ua.active_calls
        assert not self.ua._tasks, f"leaked tasks {self.ua._tasks}"

    async def establish(self) -> tuple[SipResponse, SipCall]:
        self.sip.send(self.dialer.invite(), self.ua.port)
        assert (await self.sip.recv()).status == 100  # type: ignore[union-attr]
        ringing = await self.sip.expect_status(180)
        ok = await self.sip.expect_status(200)
        assert ringing.to_addr.tag == ok.to_addr.tag
        self.dialer.to_tag = ok.to_addr.tag
        self.sip.send(self.dialer.ack(), self.ua.port)
        await asyncio.wait_for(self.call_started.wait(), 3)
        return ok, self.calls[-1]


def bot_rtp_port(ok: SipResponse) -> int:
    audio = SessionDescription.parse(ok.body).audio()
    assert audio is not None
    return audio.port


async def test_invite_answer_audio_both_ways_dtmf_and_far_end_bye() -> None:
    async with Harness() as h:
        h.dialer.record_route = ["<sip:127.0.0.1:5999;lr>"]
        ok, call = await h.establish()
        assert ok.headers.get("record-route") == "<sip:127.0.0.1:5999;lr>"
        assert "Contact" in [x.name for x in ok.headers] and ok.headers.get("content-type") == "application/sdp"
        answer = SessionDescription.parse(ok.body).audio()
        assert answer is not None and answer.formats == ["0", "101"] and answer.direction == "sendrecv"
        assert call.caller_number == "+4930123456" and call.callee_uri == f"sip:bot@127.0.0.1:{h.ua.port}"

        # the caller's audio: a 440 Hz tone, 5 packets, one reordered
        tone = (np.sin(np.arange(800) * 2 * np.pi * 440 / 8000) * 8000).astype("<i2")
        pkts = [RtpPacket(0, 100 + i, 1000 + 160 * i, 42, ulaw_encode(tone[160 * i : 160 * (i + 1)])) for i in range(5)]
        for p in [pkts[0], pkts[2], pkts[1], pkts[3], pkts[4]]:
            h.rtp.send(p.serialize(), bot_rtp_port(ok))
        frames = []
        async for frame in call.frames():
            frames.append(frame)
            if len(frames) == 5:
                break
        got = np.frombuffer(b"".join(frames), "<i2").astype(float)
        assert len(got) == 800 and np.corrcoef(got, tone.astype(float))[0, 1] > 0.99

        # the bot's audio: three packets with consecutive seq/ts, one SSRC, marker on the first
        for i in range(3):
            assert call.send_frame((tone[160 * i : 160 * (i + 1)]).tobytes())
        sent = [RtpPacket.parse((await h.rtp.recv_raw())[0]) for _ in range(3)]
        assert [p.marker for p in sent] == [True, False, False]
        assert [seq_delta(b.sequence, a.sequence) for a, b in itertools.pairwise(sent)] == [1, 1]
        assert [b.timestamp - a.timestamp for a, b in itertools.pairwise(sent)] == [160, 160]
        assert len({p.ssrc for p in sent}) == 1 and all(p.payload_type == 0 for p in sent)

        # RFC 4733 digit, its end packet sent three times, arrives once
        packets = dtmf_packets("7", 42, 200, 5000)
        received = call.rtp.stats.received
        for p in packets:
            h.rtp.send(p.serialize(), bot_rtp_port(ok))
        await until(lambda: call.rtp.stats.received == received + len(packets))  # every packet handled
        assert h.dtmf == ["7"]

        # RTP from a stranger is ignored
        stranger = await UdpPeer.open()
        received = call.rtp.stats.received
        stranger.send(pkts[0].serialize(), bot_rtp_port(ok))
        await until(lambda: call.rtp.stats.dropped_source == 1)
        assert call.rtp.stats.received == received
        stranger.close()

        h.sip.send(h.dialer.next("BYE"), h.ua.port)
        await h.sip.expect_status(200)
        assert await asyncio.wait_for(call.ended, 2) == "far_end_bye"
        assert call.rtp.closed and not h.ua.active_calls
        assert not call.send_frame(bytes(320))


async def test_late_tick_keeps_timestamps_contiguous_and_a_pause_starts_a_talkspurt() -> None:
    """A pacer that stalls and catches up sends contiguous audio: timestamps step by 160 and
    no marker. Falling 0.5 s behind the media clock is a pause: marker, timestamp advanced."""
    async with Harness() as h:
        ok, call = await h.establish()
        h.rtp.send(RtpPacket(0, 1, 0, 42, b"\xff" * 160).serialize(), bot_rtp_port(ok))  # latch

        async def send(n: int) -> list[RtpPacket]:
            for _ in range(n):
                assert call.send_frame(b"\x00" * 320)
            return [RtpPacket.parse((await h.rtp.recv_raw())[0]) for _ in range(n)]

        sent = await send(3)  # frames due at 0, 20, 40 ms
        h.clock.advance(0.2)  # the pacer stalls 140 ms past the next deadline, then catches up
        sent += await send(8)
        assert [p.marker for p in sent] == [True] + [False] * 10
        assert [b.timestamp - a.timestamp for a, b in itertools.pairwise(sent)] == [160] * 10

        h.clock.advance(1.0)  # the bot stopped talking for a second
        resumed = (await send(1))[0]
        assert resumed.marker and seq_delta(resumed.sequence, sent[-1].sequence) == 1
        # due at 0.22 s on the media clock, sent at 1.2 s: 0.98 s of silence in timestamp units
        assert resumed.timestamp - sent[-1].timestamp == 160 + round(0.98 * 8000)


async def test_2xx_retransmitted_on_t1_doubling_until_ack() -> None:
    async with Harness() as h:
        h.sip.send(h.dialer.invite(), h.ua.port)
        await h.sip.expect_status(180)
        first = await h.sip.expect_status(200)
        for step in (0.5, 1.0, 2.0):
            h.clock.advance(step - 0.01)
            assert await sent_so_far(h.sip, h.ua.port) == []  # not yet due
            h.clock.advance(0.01)
            again = await h.sip.expect_status(200)
            assert again.serialize() == first.serialize()
        h.dialer.to_tag = first.to_addr.tag
        h.sip.send(h.dialer.ack(), h.ua.port)
        await asyncio.wait_for(h.call_started.wait(), 3)
        h.clock.advance(30)
        assert [m for m in await sent_so_far(h.sip, h.ua.port) if b"SIP/2.0 200" in m[:12]] == []


async def test_missing_ack_ends_call_with_bye() -> None:
    async with Harness(rtp=RtpOptions(port_min=30000, port_max=39998, timeout_s=60.0)) as h:
        h.sip.send(h.dialer.invite(), h.ua.port)
        await h.sip.expect_status(200)
        (call,) = h.ua.active_calls
        h.clock.advance(32.1)
        bye = await h.sip.expect_request("BYE")
        assert bye.uri == f"sip:tester@127.0.0.1:{h.sip.port}"
        assert await asyncio.wait_for(call.ended, 1) == "no_ack"
        h.sip.send(Dialer(0, 0).respond(bye, 200), h.ua.port)
        assert not h.calls  # the handler never ran


async def test_retransmitted_invite_gets_same_answer_and_one_call() -> None:
    async with Harness() as h:
        invite = h.dialer.invite()
        h.sip.send(invite, h.ua.port)
        ok = await h.sip.expect_status(200)
        h.sip.send(invite, h.ua.port)
        again = await h.sip.expect_status(200)
        assert again.serialize() == ok.serialize() and len(h.ua.active_calls) == 1


async def test_cancel_before_answer_gives_487() -> None:
    async with Harness(answer_delay_s=5.0) as h:
        h.sip.send(h.dialer.invite(), h.ua.port)
        await h.sip.expect_status(180)
        h.sip.send(h.dialer.request("CANCEL", branch=h.dialer.invite_branch), h.ua.port)
        msgs = [await h.sip.recv(), await h.sip.recv()]
        assert sorted((m.status, m.cseq[1]) for m in msgs) == [(200, "CANCEL"), (487, "INVITE")]  # type: ignore[union-attr]
        assert not h.ua.active_calls
        h.clock.advance(10)
        assert await sent_so_far(h.sip, h.ua.port) == []  # no late 200


async def test_options_keepalive_and_unknown_dialog() -> None:
    async with Harness() as h:
        h.sip.send(h.dialer.request("OPTIONS", uri=f"sip:127.0.0.1:{h.ua.port}"), h.ua.port)
        ok = await h.sip.expect_status(200)
        assert "INVITE" in (ok.headers.get("allow") or "") and ok.cseq[1] == "OPTIONS"
        h.dialer.to_tag = "nope"
        h.sip.send(h.dialer.request("BYE"), h.ua.port)
        await h.sip.expect_status(481)
        h.sip.send(h.dialer.request("SUBSCRIBE"), h.ua.port)
        await h.sip.expect_status(405)


async def test_codec_mismatch_gets_488_with_reason() -> None:
    async with Harness() as h:
        h.sip.send(h.dialer.invite(body=sdp_offer(h.rtp.port, formats="9 18")), h.ua.port)
        resp = await h.sip.expect_status(488)
        assert "no common codec" in (resp.headers.get("warning") or "")
        assert not h.ua.active_calls and h.ua.counters["rejected_488"] == 1


@pytest.mark.parametrize(
    "raw,expect",
    [
        ((b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKx;rport\r\n"
         b"From: <sip:a@b>;tag=1\r\nTo: <sip:bot@c>\r\nCall-ID: m1\r\nCSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0\r\n"), 400),
        ((b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKx;rport\r\n"
         b"From: <sip:a@b>;tag=1\r\nTo: <sip:bot@c>\r\nCall-ID: m2\r\nCSeq: one INVITE\r\n\r\n"), 400),
        ((b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKx;rport\r\n"
         b"From: <sip:a@b>\r\nTo: <sip:bot@c>\r\nCall-ID: m3\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n"
         b"Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"), 488),
        (b"\x00\x01garbage\xff", None),
        (b"SIP/2.0 200 OK\r\n\r\n", None),
    ],
)
async def test_malformed_requests_get_400_or_are_dropped(raw: bytes, expect: int | None) -> None:
    async with Harness() as h:
        h.sip.send(raw.replace(b"{port}", str(h.sip.port).encode()), h.ua.port)
        if expect is None:
            assert await sent_so_far(h.sip, h.ua.port) == []
        else:
            data, _ = await h.sip.recv_raw()
            assert data.startswith(f"SIP/2.0 {expect} ".encode())
        h.sip.send(h.dialer.request("OPTIONS"), h.ua.port)  # still alive
        await h.sip.expect_status(200)


async def test_allow_list_and_rate_limit() -> None:
    async with Harness(allow_from=("10.0.0.0/8",)) as h:
        h.sip.send(h.dialer.invite(), h.ua.port)
        await h.sip.expect_status(403)
        assert not h.ua.active_calls
    async with Harness(rate_limit_burst=10, rate_limit_per_s=1.0) as h:
        for i in range(40):
            h.sip.send(h.dialer.request("OPTIONS", cseq=i + 1), h.ua.port)
        got = 0
        try:
            while True:
                await h.sip.recv(0.3)
                got += 1
        except TimeoutError:
            pass
        assert got == 10 and h.ua.limiter.dropped == 30
        h.clock.advance(5)  # the bucket refills with time
        h.sip.send(h.dialer.request("OPTIONS", cseq=99), h.ua.port)
        await h.sip.expect_status(200)


async def test_reinvite_hold_and_unhold() -> None:
    async with Harness() as h:
        _ok, call = await h.establish()
        h.sip.send(h.dialer.next("INVITE", body=sdp_offer(h.rtp.port, extra="a=sendonly")), h.ua.port)
        held = await h.sip.expect_status(200)
        assert SessionDescription.parse(held.body).audio().direction == "recvonly"  # type: ignore[union-attr]
        h.sip.send(h.dialer.ack(), h.ua.port)
        await until(lambda: not h.ua._invites)
        assert call.on_hold and not call.send_frame(bytes(320))
        h.clock.advance(60)  # no RTP while on hold is not a timeout
        assert await sent_so_far(h.sip, h.ua.port) == [] and call.is_up  # no BYE
        h.sip.send(h.dialer.next("INVITE", body=sdp_offer(h.rtp.port)), h.ua.port)
        resumed = await h.sip.expect_status(200)
        h.sip.send(h.dialer.ack(), h.ua.port)
        assert SessionDescription.parse(resumed.body).audio().direction == "sendrecv"  # type: ignore[union-attr]
        assert not call.on_hold and call.send_frame(bytes(320))


async def test_rtp_timeout_ends_call_with_bye() -> None:
    async with Harness() as h:
        _ok, call = await h.establish()
        h.clock.advance(29)
        assert await sent_so_far(h.sip, h.ua.port) == [] and call.is_up  # no BYE
        h.clock.advance(1.5)
        bye = await h.sip.expect_request("BYE")
        assert await asyncio.wait_for(call.ended, 1) == "rtp_timeout"
        h.sip.send(h.dialer.respond(bye, 200), h.ua.port)


async def test_bot_hangup_routes_bye_through_record_route() -> None:
    async with Harness() as h:
        proxy = await UdpPeer.open()
        h.dialer.record_route = [f"<sip:127.0.0.1:{proxy.port};lr>"]
        ok, call = await h.establish()
        task = asyncio.ensure_future(call.hangup())
        bye = await proxy.expect_request("BYE")
        assert bye.headers.get("route") == f"<sip:127.0.0.1:{proxy.port};lr>"
        assert bye.uri == f"sip:tester@127.0.0.1:{h.sip.port}"
        assert bye.from_addr.tag == ok.to_addr.tag and bye.to_addr.tag == h.dialer.from_tag
        proxy.send(h.dialer.respond(bye, 200), h.ua.port)
        await asyncio.wait_for(task, 2)
        assert call.ended.result() == "bot_hangup"
        proxy.close()


async def test_refer_blind_transfer_with_notify_progress() -> None:
    async with Harness() as h:
        _ok, call = await h.establish()
        result = asyncio.ensure_future(call.refer("sip:agent@127.0.0.1:5099"))
        refer = await h.sip.expect_request("REFER")
        assert refer.headers.get("refer-to") == "<sip:agent@127.0.0.1:5099>"
        assert refer.headers.get("referred-by")
        h.sip.send(h.dialer.respond(refer, 202, "Accepted"), h.ua.port)
        for frag, state in ([(b"SIP/2.0 100 Trying\r\n", "active"), (b"SIP/2.0 200 OK\r\n", "terminated;reason=noresource")]):
            h.sip.send(h.dialer.next("NOTIFY", body=frag, content_type="message/sipfrag",
                                     extra=["Event: refer", f"Subscription-State: {state}"]), h.ua.port)
            await h.sip.expect_status(200)
        assert await asyncio.wait_for(result, 2) is True


async def test_refer_rejected_returns_false() -> None:
    async with Harness() as h:
        _ok, call = await h.establish()
        result = asyncio.ensure_future(call.refer("sip:agent@127.0.0.1:5099"))
        refer = await h.sip.expect_request("REFER")
        h.sip.send(h.dialer.respond(refer, 202, "Accepted"), h.ua.port)
        h.sip.send(h.dialer.next("NOTIFY", body=b"SIP/2.0 486 Busy Here\r\n", content_type="message/sipfrag",
                                 extra=["Event: refer", "Subscription-State: terminated"]), h.ua.port)
        assert await asyncio.wait_for(result, 2) is False
        assert call.is_up


async def test_register_with_digest_challenge() -> None:
    registrar = await UdpPeer.open()
    reg = RegistrationOptions(registrar=f"sip:127.0.0.1:{registrar.port}", username="bot1", password="s3cret", expires_s=120)
    async with Harness(registration=reg) as h:
        first = await registrar.expect_request("REGISTER")
        assert first.headers.get("expires") == "120" and "authorization" not in first.headers
        registrar.send(h.dialer.respond(first, 401, "Unauthorized",
                                        extra=['WWW-Authenticate: Digest realm="pbx", nonce="abc123", qop="auth", algorithm=MD5']), h.ua.port)
        second = await registrar.expect_request("REGISTER")
        auth = second.headers.get("authorization") or ""
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', auth))
        ha1 = hashlib.md5(b"bot1:pbx:s3cret").hexdigest()
        ha2 = hashlib.md5(f"REGISTER:{fields['uri']}".encode()).hexdigest()
        expected = hashlib.md5(f"{ha1}:abc123:{fields['nc']}:{fields['cnonce']}:auth:{ha2}".encode()).hexdigest()
        assert fields["response"] == expected and second.cseq[0] == first.cseq[0] + 1
        registrar.send(h.dialer.respond(second, 200, extra=[f"Contact: <sip:bot@127.0.0.1:{h.ua.port}>;expires=60"]), h.ua.port)
        await asyncio.wait_for(h.ua.registered.wait(), 2)
        h.clock.advance(47.9)
        assert await sent_so_far(registrar, h.ua.port) == []  # no refresh yet
        h.clock.advance(0.2)  # refresh at 80 % of the granted 60 s
        await registrar.expect_request("REGISTER")
    registrar.close()


async def test_dial_outbound_leg_and_failure() -> None:
    async with Harness() as h:
        agent = await UdpPeer.open()
        agent_rtp = await UdpPeer.open()
        dialing = asyncio.ensure_future(h.ua.dial(f"sip:agent@127.0.0.1:{agent.port}"))
        invite = await agent.expect_request("INVITE")
        assert isinstance(invite, SipRequest)
        offer = SessionDescription.parse(invite.body).audio()
        assert offer is not None and offer.formats == ["0", "8", "101"]
        agent.send(h.dialer.respond(invite, 180, "Ringing", extra=[]).replace(b"\r\nTo: <", b"\r\nTo: <", 1), h.ua.port)
        resp = parse_message(h.dialer.respond(invite, 200, "OK"))
        resp.headers.set("To", f"{invite.headers.get('to')};tag=agent1")
        resp.headers.add("Contact", f"<sip:agent@127.0.0.1:{agent.port}>")
        resp.headers.add("Content-Type", "application/sdp")
        resp.body = sdp_offer(agent_rtp.port, formats="8 101")
        agent.send(resp.serialize(), h.ua.port)
        ack = await agent.expect_request("ACK")
        assert ack.to_addr.tag == "agent1" and ack.cseq == (1, "ACK")
        leg = await asyncio.wait_for(dialing, 2)
        assert leg.direction == "outbound" and leg.rtp.media.codec == "PCMA"  # type: ignore[union-attr]
        assert leg.send_frame(bytes(320))
        pkt = RtpPacket.parse((await agent_rtp.recv_raw())[0])
        assert pkt.payload_type == 8 and pkt.payload == bytes([0xD5]) * 160
        agent.send(resp.serialize(), h.ua.port)  # a retransmitted 2xx is ACKed again
        await agent.expect_request("ACK")
        hang = asyncio.ensure_future(leg.hangup())
        bye = await agent.expect_request("BYE")
        agent.send(h.dialer.respond(bye, 200), h.ua.port)
        await asyncio.wait_for(hang, 2)

        failing = asyncio.ensure_future(h.ua.dial(f"sip:agent@127.0.0.1:{agent.port}"))
        invite = await agent.expect_request("INVITE")
        busy = parse_message(h.dialer.respond(invite, 486, "Busy Here"))
        busy.headers.set("To", f"{invite.headers.get('to')};tag=agent2")
        agent.send(busy.serialize(), h.ua.port)
        assert (await agent.expect_request("ACK")).cseq == (1, "ACK")
        with pytest.raises(SipCallFailed) as err:
            await asyncio.wait_for(failing, 2)
        assert err.value.status == 486
        agent.close()
        agent_rtp.close()


async def test_tcp_invite_answered_on_same_connection_and_bad_framing_closes() -> None:
    async with Harness() as h:
        d = Dialer(0, h.ua.port, h.rtp.port, transport="TCP")
        reader, writer = await asyncio.open_connection("127.0.0.1", h.ua.port)
        d.sip_port = writer.get_extra_info("sockname")[1]
        invite = d.invite()
        writer.write(invite[:50])  # split across segments
        await writer.drain()
        writer.write(invite[50:])
        await writer.drain()
        buf = b""
        from voicebot.channels.sip.message import frame_stream

        statuses = []
        while 200 not in statuses:
            buf += await asyncio.wait_for(reader.read(65536), 3)
            while True:
                one, buf = frame_stream(buf)
                if one is None:
                    break
                statuses.append(parse_message(one).status)  # type: ignore[union-attr]
        assert statuses == [100, 180, 200]
        writer.close()
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", h.ua.port)
        writer2.write(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1\r\n\r\n")  # no Content-Length
        await writer2.drain()
        assert await asyncio.wait_for(reader2.read(100), 3) == b""  # closed by the bot
        writer2.close()


def test_client_transaction_timers_on_virtual_clock() -> None:
    from voicebot.channels.sip.transaction import Retransmitter, Timers

    clock = VirtualClock()
    sent: list[float] = []
    expired: list[float] = []
    Retransmitter(clock, lambda d: sent.append(clock.now()), b"x", Timers(), cap=4.0, on_timeout=lambda: expired.append(clock.now()))
    clock.advance(40)
    assert sent[:7] == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5]  # T1 doubling, capped at T2
    assert expired == [32.0] and sent[-1] < 32.0
