"""SIP messages and the user agent's handling of them, fuzzed from captured baresip/sipp traffic."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hypothesis import given

from voicebot.clock import VirtualClock
from voicebot.channels.sip.message import NameAddr, SipParseError, SipRequest, SipUri, frame_stream, parse_message
from voicebot.channels.sip.transport import Source
from voicebot.channels.sip.ua import SipOptions, SipUserAgent

from ..sip.helpers import Dialer, sdp_offer
from .fuzzing import COUNTS, FUZZ, mutated

DATA = Path(__file__).resolve().parents[1] / "sip" / "data"


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(DATA.glob("*.sip"))]
    d = Dialer(5080, 5070, 40000)
    seeds += [d.invite(), d.request("OPTIONS"), d.request("BYE"), d.request("CANCEL"), d.request("INFO", body=b"Signal=5\r\nDuration=160\r\n",
              content_type="application/dtmf-relay"), d.request("NOTIFY", body=b"SIP/2.0 200 OK\r\n", content_type="message/sipfrag"),
              d.invite(body=sdp_offer(40000, extra="a=sendonly"))]
    d.to_tag = "abc"
    seeds += [d.invite(), d.ack()]
    return seeds


SEEDS = _seeds()


@FUZZ
@given(mutated(SEEDS))
def test_sip_parser_raises_only_its_own_error(data: bytes) -> None:
    COUNTS["sip_message"] += 1
    for stream in (False, True):
        try:
            msg = parse_message(data, stream=stream)
            _ = (msg.call_id, msg.cseq, msg.from_addr.tag, msg.to_addr.tag, [v.branch for v in msg.vias], msg.serialize())
            if isinstance(msg, SipRequest):
                _ = msg.uri
                for c in msg.headers.get_all("contact"):
                    SipUri.parse(NameAddr.parse(c).uri)
        except SipParseError:
            pass
    try:
        frame_stream(data)
    except SipParseError:
        pass


def _agent() -> tuple[SipUserAgent, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    ua = SipUserAgent(SipOptions(port=0, answer_delay_s=0.0, rate_limit_per_s=1e9, rate_limit_burst=10**9), lambda call: asyncio.sleep(0),
                      clock=VirtualClock())
    ua.running = True  # handles messages; replies go nowhere (no socket is opened)
    ua._accept_invite = lambda *a: asyncio.sleep(0)  # type: ignore[method-assign]  # no RTP sockets per fuzzed INVITE
    return ua, loop


UA, LOOP = _agent()


@FUZZ
@given(mutated(SEEDS))
def test_the_user_agent_answers_any_datagram_without_an_internal_error(data: bytes) -> None:
    COUNTS["sip_user_agent"] += 1
    logging.getLogger("voicebot.channels.sip.ua").setLevel(logging.CRITICAL)  # replies to nowhere would flood the log

    async def feed() -> None:
        UA._on_data(data, Source("127.0.0.1", 5080, "UDP"))
        await asyncio.sleep(0)

    before = UA.counters["internal_errors"]
    LOOP.run_until_complete(feed())
    assert UA.counters["internal_errors"] == before, "a message reached the catch-all (answered 500)"
