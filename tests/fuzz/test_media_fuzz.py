"""SDP offers, RTP packets and RFC 4733 telephone-events, fuzzed from captured baresip/sipp media."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from voicebot.channels.sip.dtmf import DtmfError, DtmfEvent, DtmfReceiver, dtmf_packets
from voicebot.channels.sip.rtp import RtpError, RtpPacket
from voicebot.channels.sip.sdp import MediaParams, NoCommonCodec, SdpError, SessionDescription, negotiate

from ..sip.helpers import sdp_offer
from .fuzzing import COUNTS, FUZZ, mutated

DATA = Path(__file__).resolve().parents[1] / "sip" / "data"


def _packets(name: str) -> list[bytes]:
    raw = (DATA / name).read_bytes()
    out, pos = [], 0
    while pos < len(raw):
        n = int.from_bytes(raw[pos : pos + 2], "big")
        out.append(raw[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


def _sdp_seeds() -> list[bytes]:
    seeds = [sdp_offer(40000), sdp_offer(40000, extra="a=sendonly"), sdp_offer(40000, formats="9 18"), sdp_offer(0)]
    for p in sorted(DATA.glob("*.sip")):
        body = p.read_bytes().partition(b"\r\n\r\n")[2]
        if body.startswith(b"v=0"):
            seeds.append(body)
    return seeds


RTP_SEEDS = _packets("baresip_rtp_pcmu.bin")[:20] + [p.serialize() for p in dtmf_packets("5", 1234, 10, 8000)] + [
    RtpPacket(0, 1, 160, 99, b"\xff" * 160, csrcs=[1, 2], extension=(0xBEDE, b"\x10\x01\x00\x00"), padding=4).serialize()]


@FUZZ
@given(mutated(_sdp_seeds()))
def test_sdp_parse_and_negotiation_raise_only_sdp_error_and_agree_only_sane_media(data: bytes) -> None:
    COUNTS["sdp"] += 1
    try:
        desc = SessionDescription.parse(data)
    except SdpError:
        return
    desc.serialize()
    got = negotiate(desc)
    if isinstance(got, NoCommonCodec):
        return
    assert isinstance(got, MediaParams)
    assert 0 < got.remote_port <= 65535 and 0 <= got.payload_type <= 127 and got.codec in ("PCMU", "PCMA")
    assert got.dtmf_payload_type is None or 0 <= got.dtmf_payload_type <= 127
    assert 10 <= got.ptime_ms <= 120 and got.remote_host


@FUZZ
@given(mutated(RTP_SEEDS))
def test_rtp_parse_raises_only_rtp_error_and_parsed_packets_serialize(data: bytes) -> None:
    COUNTS["rtp"] += 1
    try:
        pkt = RtpPacket.parse(data)
    except RtpError:
        return
    assert 0 <= pkt.payload_type <= 127
    again = RtpPacket.parse(pkt.serialize())
    assert (again.payload_type, again.sequence, again.timestamp, again.ssrc, again.payload) == \
        (pkt.payload_type, pkt.sequence, pkt.timestamp, pkt.ssrc, pkt.payload)


_RECEIVER = DtmfReceiver()


@FUZZ
@given(st.one_of(mutated([p.payload for p in dtmf_packets("#", 1, 1, 0)] + [b"\x05\x8a\x03\x20"]), st.binary(max_size=16)),
       st.integers(0, 2**32 - 1))
def test_telephone_events_raise_only_dtmf_error_and_the_receiver_never_fails(payload: bytes, ts: int) -> None:
    COUNTS["rfc4733_dtmf"] += 1
    try:
        ev = DtmfEvent.parse(payload)
        assert ev.digit is None or ev.digit in "0123456789*#ABCD"
    except DtmfError:
        pass
    for digit in _RECEIVER.push(RtpPacket(101, 1, ts, 7, payload)):
        assert digit in "0123456789*#ABCD"
