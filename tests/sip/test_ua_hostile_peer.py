"""What one careless or hostile SIP peer must not be able to do to the bot (real loopback sockets,
the virtual clock for SIP timers): leak calls and sockets until everyone gets 503, crash the
answer path with a broken SDP, or get an answer in a SIP version the bot does not speak."""

from __future__ import annotations

import asyncio
import os

import pytest

from voicebot.channels.sip.message import SipResponse
from voicebot.channels.sip.rtp_session import RtpOptions

from .helpers import Dialer, sdp_offer, until
from .test_ua import Harness


def open_sockets() -> int:
    """Sockets this process holds (each call's RTP socket is one)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass  # closed while listing
    return n


async def test_200_invites_with_contact_star_and_no_ack_leak_nothing_and_later_callers_get_in() -> None:
    async with Harness(max_calls=50, rtp=RtpOptions(port_min=30000, port_max=39998, timeout_s=600.0)) as h:
        before = open_sockets()
        for i in range(200):
            d = Dialer(h.sip.port, h.ua.port, h.rtp.port)
            h.sip.send(d.invite().replace(f"Contact: <sip:tester@127.0.0.1:{h.sip.port}>".encode(), b"Contact: *"), h.ua.port)
            if i % 20 == 19:
                await asyncio.sleep(0.01)  # let the loop read the socket (the kernel buffer is finite)
        await asyncio.sleep(0.2)
        h.clock.advance(40.0)  # Timer H for every un-ACKed 2xx, if any was sent
        await asyncio.sleep(0.2)
        replies = [m for m in (await _all(h)) if isinstance(m, SipResponse)]
        assert not any(r.status == 200 for r in replies), "an INVITE without a usable Contact was answered"
        assert sum(r.status == 400 for r in replies) == 200
        assert h.ua.active_calls == [] and open_sockets() == before
        ok, _call = await h.establish()  # a real caller still gets in
        assert ok.status == 200


async def test_a_target_refresh_to_contact_star_cannot_keep_the_call_alive() -> None:
    """A re-INVITE may not point the dialog at ``*``; and a BYE that cannot be addressed still ends the call."""
    async with Harness() as h:
        _ok, call = await h.establish()
        before = open_sockets()
        reinvite = h.dialer.next("INVITE", body=sdp_offer(h.rtp.port)).replace(
            f"Contact: <sip:tester@127.0.0.1:{h.sip.port}>".encode(), b"Contact: *")
        h.sip.send(reinvite, h.ua.port)
        await h.sip.expect_status(400)
        call.dialog.remote_target = "*"  # as the old target refresh left it: the BYE has nowhere to go
        await call.hangup("handler_done")
        assert call.ended.done() and h.ua.active_calls == []
        await until(lambda: open_sockets() == before - 1)  # its RTP socket closed (transports close on the next loop turn)


@pytest.mark.parametrize(("sdp_edit", "status"), [
    (lambda s: s.replace(b"c=IN IP4 127.0.0.1\r\n", b"c=\r\n"), 400),  # empty c= line
    (lambda s: s.replace(b"c=IN IP4 127.0.0.1\r\n", b"c=IN IP4\r\n"), 400),
    (lambda s: s.replace(b"m=audio 40000 ", b"m=audio 99999 "), 400),  # no such port
    (lambda s: s.replace(b"RTP/AVP 0 8 101", b"RTP/AVP 300") + b"a=rtpmap:300 PCMU/8000\r\n", 488),  # no such payload type
    (lambda s: s.replace(b"m=audio 40000 ", "m=audio ²0000 ".encode()), 400),
])
async def test_broken_sdp_gets_a_clean_answer_never_a_500(sdp_edit, status: int) -> None:  # type: ignore[no-untyped-def]
    async with Harness() as h:
        body = sdp_edit(sdp_offer(40000))
        h.sip.send(h.dialer.invite(body=body), h.ua.port)
        resp = await h.sip.expect_status(status)
        assert resp.status == status and h.ua.counters["internal_errors"] == 0
        assert h.ua.active_calls == []


async def test_a_request_in_another_sip_version_gets_505() -> None:
    async with Harness() as h:
        h.sip.send(h.dialer.request("OPTIONS").replace(b" SIP/2.0\r\n", b" SIP/7.0\r\n", 1), h.ua.port)
        data, _ = await h.sip.recv_raw()
        assert data.startswith(b"SIP/2.0 505 ") and f"Call-ID: {h.dialer.call_id}".encode() in data


async def _all(h: Harness) -> list:  # type: ignore[type-arg]
    out = []
    while True:
        try:
            out.append(await h.sip.recv(0.2))
        except TimeoutError:
            return out


async def test_new_calls_are_refused_while_the_event_loop_is_overloaded() -> None:
    """Past capacity one more call makes every call's audio late: it gets 503 and the proxy tries another bot."""
    import time

    async with Harness(overload_lag_s=0.05) as h:
        busy = True

        async def hog() -> None:  # other calls' work keeping the loop busy (the stimulus, not a timing check)
            while busy:
                time.sleep(0.15)
                await asyncio.sleep(0)

        task = asyncio.create_task(hog())
        await until(lambda: h.ua.loop_lag.overloaded, timeout=10)
        h.sip.send(h.dialer.invite(), h.ua.port)
        resp = await h.sip.expect_status(503, timeout=5)
        assert "overloaded" in resp.reason and h.ua.counters["refused_overload"] == 1 and h.ua.active_calls == []
        busy = False
        await task
        await until(lambda: not h.ua.loop_lag.overloaded, timeout=10)
        h.dialer = Dialer(h.sip.port, h.ua.port, h.rtp.port)
        ok, _call = await h.establish()
        assert ok.status == 200
