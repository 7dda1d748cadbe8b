"""Pure protocol code on packets captured from real peers (sipp 3.6.1, baresip 1.0.0)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from voicebot.audio.g711 import ulaw_decode
from voicebot.channels.sip import sdp as sdpmod
from voicebot.channels.sip.digest import Challenge, DigestError, digest_response
from voicebot.channels.sip.dtmf import DtmfEvent, DtmfReceiver, dtmf_packets
from voicebot.channels.sip.jitter import JitterBuffer, conceal
from voicebot.channels.sip.message import (
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    frame_stream,
    make_response,
    parse_message,
)
from voicebot.channels.sip.rtp import RtpError, RtpPacket, RtpSender, seq_delta

DATA = Path(__file__).parent / "data"
CAPTURED = sorted(DATA.glob("*.sip"))


def _packets(name: str) -> list[bytes]:
    raw = (DATA / name).read_bytes()
    out, pos = [], 0
    while pos < len(raw):
        n = int.from_bytes(raw[pos : pos + 2], "big")
        out.append(raw[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


# --- SIP messages ---------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_captured_messages_round_trip_byte_exact(path: Path) -> None:
    raw = path.read_bytes()
    msg = parse_message(raw)
    assert msg.serialize() == raw
    assert msg.call_id and msg.cseq[0] > 0


def test_baresip_invite_fields() -> None:
    msg = parse_message((DATA / "baresip_001_INVITE.sip").read_bytes())
    assert isinstance(msg, SipRequest)
    assert (msg.method, msg.uri) == ("INVITE", "sip:bot@127.0.0.1:5070")
    via = msg.vias[0]
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "127.0.0.1", 5080, "z9hG4bK6858f716e42e62a9")
    assert "rport" in via.params and via.params["rport"] is None
    assert msg.from_addr.tag == "71e74a30ba5b8ade" and msg.to_addr.tag is None
    assert msg.cseq == (45677, "INVITE")
    assert SipUri.parse(NameAddr.parse(msg.headers.get("m")).uri).port == 5080  # compact form lookup
    assert msg.body.startswith(b"v=0") and len(msg.body) == 336


def test_sipp_200_has_padded_content_length_and_to_tag() -> None:
    msg = parse_message((DATA / "sipp_003_200.sip").read_bytes())
    assert isinstance(msg, SipResponse) and msg.status == 200 and msg.reason == "OK"
    assert msg.to_addr.tag == "9927SIPpTag011"
    assert len(msg.body) == 129


def test_compact_folded_and_multiple_via() -> None:
    raw = (
        b"BYE sip:bot@10.0.0.1 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP proxy.example:5060;branch=z9hG4bKp1, SIP/2.0/TCP [2001:db8::1]:5062;branch=z9hG4bKa\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKc;received=198.51.100.1\r\n"
        b"f: \"Alice\" <sip:alice@example.com>;tag=aa\r\n"
        b"t: <sip:bot@example.com>\r\n ;tag=bb\r\n"
        b"i: abc@host\r\n"
        b"CSeq: 2 BYE\r\n"
        b"Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n"
        b"l: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    vias = msg.vias
    assert [v.host for v in vias] == ["proxy.example", "2001:db8::1", "192.0.2.9"]
    assert vias[1].port == 5062 and vias[1].transport == "TCP"
    assert vias[2].params["received"] == "198.51.100.1"
    assert msg.to_addr.tag == "bb"  # folded continuation joined
    assert msg.from_addr.display == "Alice"
    assert msg.headers.get_all("record-route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    again = parse_message(msg.serialize())
    assert again.to_addr.tag == "bb" and len(again.vias) == 3


def test_make_response_copies_dialog_headers_and_adds_to_tag() -> None:
    req = parse_message((DATA / "baresip_001_INVITE.sip").read_bytes())
    req.headers.add("Record-Route", "<sip:127.0.0.2;lr>")
    assert isinstance(req, SipRequest)
    resp = make_response(req, 180, to_tag="bot1", contact="<sip:bot@127.0.0.1:5070>")
    parsed = parse_message(resp.serialize())
    assert isinstance(parsed, SipResponse) and parsed.status == 180 and parsed.reason == "Ringing"
    assert parsed.to_addr.tag == "bot1"
    assert parsed.headers.get("record-route") == "<sip:127.0.0.2;lr>"
    assert parsed.vias[0].branch == "z9hG4bK6858f716e42e62a9"
    assert parsed.headers.get("content-length") == "0"
    assert "record-route" not in make_response(req, 486).headers


@pytest.mark.parametrize(
    "raw,needle",
    [
        (b"", "no blank line"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", "truncated"),
        (b"HELLO\r\n\r\n", "bad request line"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n\r\n", "missing cseq"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: x INVITE\r\n\r\n", "bad CSeq"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 BYE\r\n\r\n", "does not match"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 50\r\n\r\nv=0", "body truncated"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: garbage\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\n\r\n", "bad Via"),
        (b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", "malformed header"),
        (b"SIP/2.0 99 Odd\r\n\r\n", "bad status line"),
        (b"\xff\xfe INVITE\r\n\r\n", "UTF-8"),
    ],
)
def test_malformed_input_raises_clear_error(raw: bytes, needle: str) -> None:
    with pytest.raises(SipParseError) as err:
        parse_message(raw)
    assert needle.lower() in err.value.reason.lower()


def test_every_truncation_of_a_real_invite_is_an_error_never_a_crash() -> None:
    raw = (DATA / "sipp_001_INVITE.sip").read_bytes()
    for cut in range(len(raw)):
        with pytest.raises(SipParseError):
            parse_message(raw[:cut])


def test_stream_framing_by_content_length() -> None:
    a = (DATA / "baresip_001_INVITE.sip").read_bytes()
    b = (DATA / "sipp_005_BYE.sip").read_bytes()
    stream = b"\r\n\r\n" + a + b
    msgs = []
    buf = b""
    for i in range(0, len(stream), 97):  # arbitrary TCP segment boundaries
        buf += stream[i : i + 97]
        while True:
            one, buf = frame_stream(buf)
            if one is None:
                break
            msgs.append(one)
    assert msgs == [a, b] and buf == b""
    with pytest.raises(SipParseError):
        frame_stream(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")


def test_uri_and_via_formatting() -> None:
    uri = SipUri.parse("sip:+4930123@[::1]:5070;transport=tcp")
    assert (uri.user, uri.host, uri.port, uri.params) == ("+4930123", "::1", 5070, {"transport": "tcp"})
    assert str(uri) == "sip:+4930123@[::1]:5070;transport=tcp"
    assert str(Via.parse("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx;rport")) == "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx;rport"
    with pytest.raises(SipParseError):
        SipUri.parse("http://example.com")


# --- SDP --------------------------------------------------------------------------------


def test_sdp_round_trip_and_negotiation_on_baresip_offer() -> None:
    body = parse_message((DATA / "baresip_001_INVITE.sip").read_bytes()).body
    desc = sdpmod.SessionDescription.parse(body)
    assert desc.serialize() == body
    params = sdpmod.negotiate(desc)
    assert isinstance(params, sdpmod.MediaParams)
    assert (params.codec, params.payload_type, params.dtmf_payload_type) == ("PCMU", 0, 101)
    assert (params.remote_host, params.remote_port, params.on_hold) == ("192.0.2.2", 9702, False)
    answer = sdpmod.SessionDescription.parse(sdpmod.make_answer(params, "127.0.0.1", 20000, 42))
    audio = answer.audio()
    assert audio is not None and audio.formats == ["0", "101"] and audio.port == 20000
    assert audio.direction == "sendrecv" and audio.rtpmap()[101] == ("TELEPHONE-EVENT", 8000)


def test_sdp_prefers_offer_order_and_reads_static_types_without_rtpmap() -> None:
    offer = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 8 0\r\n"
    params = sdpmod.negotiate(sdpmod.SessionDescription.parse(offer))
    assert isinstance(params, sdpmod.MediaParams) and params.codec == "PCMA" and params.dtmf_payload_type is None


@pytest.mark.parametrize(
    "mline,reason",
    [("m=audio 4000 RTP/AVP 18 9", "no common codec"), ("m=audio 4000 RTP/SAVP 0", "transport"), ("m=video 4000 RTP/AVP 96", "no audio")],
)
def test_sdp_no_common_codec(mline: str, reason: str) -> None:
    offer = f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{mline}\r\na=rtpmap:9 G722/8000\r\n"
    result = sdpmod.negotiate(sdpmod.SessionDescription.parse(offer))
    assert isinstance(result, sdpmod.NoCommonCodec) and reason in result.reason


@pytest.mark.parametrize("extra,conn,held,answer_dir", [
    ("a=sendonly", "127.0.0.1", True, "recvonly"),
    ("a=inactive", "127.0.0.1", True, "inactive"),
    ("", "0.0.0.0", True, "sendrecv"),
    ("a=sendrecv", "127.0.0.1", False, "sendrecv"),
])
def test_sdp_hold_forms(extra: str, conn: str, held: bool, answer_dir: str) -> None:
    offer = f"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {conn}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n{extra}\r\n"
    params = sdpmod.negotiate(sdpmod.SessionDescription.parse(offer.replace("\r\n\r\n", "\r\n")))
    assert isinstance(params, sdpmod.MediaParams) and params.on_hold is held
    answer = sdpmod.SessionDescription.parse(sdpmod.make_answer(params, "127.0.0.1", 20000, 1, 2))
    assert answer.audio().direction == answer_dir  # type: ignore[union-attr]


# --- RTP, jitter buffer, DTMF ------------------------------------------------------------


def test_rtp_round_trip_byte_exact_on_baresip_packets() -> None:
    pkts = _packets("baresip_rtp_pcmu.bin")
    parsed = [RtpPacket.parse(p) for p in pkts]
    assert [p.serialize() for p in parsed] == pkts
    audio = [p for p in parsed if p.payload_type == 0]
    assert len(audio) >= 8 and all(len(p.payload) == 160 for p in audio)
    assert len({p.ssrc for p in audio}) == 1
    for a, b in itertools.pairwise(audio):
        assert seq_delta(b.sequence, a.sequence) == 1 and b.timestamp - a.timestamp == 160
    assert len(ulaw_decode(audio[0].payload)) == 320


def test_rtp_header_fields_csrc_extension_padding() -> None:
    pkt = RtpPacket(96, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"abc", marker=True, csrcs=[1, 2], extension=(0xBEDE, b"\x10\x01\x00\x00"), padding=3)
    raw = pkt.serialize()
    assert raw[0] == 0b10110010 and raw[1] == 0x80 | 96
    back = RtpPacket.parse(raw)
    assert back == pkt
    with pytest.raises(RtpError):
        RtpPacket.parse(raw[:11])
    with pytest.raises(RtpError):
        RtpPacket.parse(b"\x40" + raw[1:])  # version 1


def test_rtp_sender_sequence_timestamp_and_marker() -> None:
    snd = RtpSender(0, ssrc=7, first_seq=65534, first_ts=0xFFFFFF00)
    a, b, c = snd.next(b"x", 160), snd.next(b"x", 160), snd.next(b"x", 160)
    assert [p.sequence for p in (a, b, c)] == [65534, 65535, 0]
    assert [p.timestamp for p in (a, b, c)] == [0xFFFFFF00, 0xFFFFFFA0, 0x40]
    assert [p.marker for p in (a, b, c)] == [True, False, False]
    snd.skip(800)
    d = snd.next(b"x", 160)
    assert d.marker and d.timestamp == 0x40 + 160 + 800 and d.sequence == 1


def _pkt(seq: int, ts: int | None = None) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (ts if ts is not None else seq * 160) & 0xFFFFFFFF, 1, bytes([seq & 0xFF]) * 160)


def _seqs(out) -> list[int | None]:
    return [p.packet.sequence if p.packet else None for p in out]


def test_jitter_buffer_reorders_drops_late_and_duplicates() -> None:
    jb = JitterBuffer(depth=3)
    out = []
    for s in [10, 12, 11, 11, 13, 9, 14]:
        out += jb.push(_pkt(s))
    assert _seqs(out) == [10, 11, 12, 13, 14]
    assert jb.stats.duplicate == 1 and jb.stats.late == 1 and jb.stats.lost == 0


def test_jitter_buffer_conceals_loss_after_depth_and_on_flush() -> None:
    jb = JitterBuffer(depth=2)
    out = []
    for s in [65534, 65535, 1, 2, 3]:  # 0 lost across the wrap
        out += jb.push(_pkt(s))
    assert _seqs(out) == [65534, 65535, None, 1, 2, 3]
    assert jb.stats.lost == 1
    out = jb.push(_pkt(5))
    assert out == []
    assert _seqs(jb.flush()) == [None, 5]


def test_jitter_buffer_resyncs_on_sequence_jump() -> None:
    jb = JitterBuffer(depth=3, max_jump=100)
    out = jb.push(_pkt(100)) + jb.push(_pkt(30000)) + jb.push(_pkt(30001))
    assert _seqs(out) == [100, 30000, 30001] and jb.stats.resyncs == 1 and jb.stats.lost == 0


def test_conceal_fades_then_silence() -> None:
    import numpy as np

    frame = (np.full(160, 1000, dtype="<i2")).tobytes()
    assert np.frombuffer(conceal(frame, 1), "<i2")[0] == 500
    assert conceal(frame, 5) == bytes(320)


def test_dtmf_captured_sipp_digit_reported_once() -> None:
    rx = DtmfReceiver()
    digits: list[str] = []
    pkts = [RtpPacket.parse(p) for p in _packets("sipp_dtmf_2833_1.bin")]
    assert DtmfEvent.parse(pkts[0].payload) == DtmfEvent(1, False, 10, 0)
    for p in pkts:
        digits += rx.push(p)
    assert digits == ["1"]


def test_dtmf_generated_packets_and_lost_end() -> None:
    rx = DtmfReceiver()
    first = dtmf_packets("5", 9, 1, 1000)
    assert next(p.serialize() for p in first)[12:] == DtmfEvent(5, False, 10, 160).serialize()
    digits = []
    for p in first[:-3]:  # the end packets are lost
        digits += rx.push(p)
    assert digits == []
    for p in dtmf_packets("#", 9, 20, 3000):
        digits += rx.push(p)
    assert digits == ["5", "#"]


# --- digest -------------------------------------------------------------------------------


def test_digest_rfc2617_example() -> None:
    ch = Challenge.parse('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    header = digest_response(ch, username="Mufasa", password="Circle Of Life", method="GET", uri="/dir/index.html", cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header and "nc=00000001" in header


def test_digest_rfc7616_sha256_example() -> None:
    ch = Challenge.parse(
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    header = digest_response(ch, username="Mufasa", password="Circle of Life", method="GET", uri="/dir/index.html",
                             cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in header


def test_digest_rejects_unknown_scheme_and_algorithm() -> None:
    with pytest.raises(DigestError, match="scheme"):
        Challenge.parse('Basic realm="x"')
    with pytest.raises(DigestError, match="algorithm"):
        Challenge.parse('Digest realm="x", nonce="y", algorithm=SHA-1')


# --- options and small helpers -------------------------------------------------------------


def test_options_from_settings_and_caller_numbers() -> None:
    from voicebot.channels.sip.channel import SipChannelOptions
    from voicebot.channels.sip.sip_call import number_of
    from voicebot.channels.sip.ua import SipOptions
    from voicebot.config import SipSettings
    from voicebot.core import Transfer

    s = SipSettings(host="10.0.0.5", port=5080, rtp_port_min=30000, rtp_port_max=30100, allow_from=("10.0.0.0/24",), rtp_timeout_s=12.0)
    opts = SipOptions.from_settings(s, user="shop")
    assert (opts.host, opts.port, opts.user, opts.allow_from) == ("10.0.0.5", 5080, "shop", ("10.0.0.0/24",))
    assert (opts.rtp.port_min, opts.rtp.port_max, opts.rtp.timeout_s) == (30000, 30100, 12.0)
    assert number_of('"A" <sip:+4930123;phone-context=x@pbx>') == "+4930123"
    assert number_of("<sip:alice@example.com>") is None and number_of("<tel:+15551234>") == "+15551234"
    ch = SipChannelOptions(transfer_targets={"es": "sip:es@pbx"}, default_transfer_target="sip:any@pbx")
    assert ch.target_for(Transfer(reason="x", queue="es")) == "sip:es@pbx"
    assert ch.target_for(Transfer(reason="x", queue="de")) == "sip:any@pbx"
    assert ch.target_for(Transfer(reason="x", target="sip:boss@pbx")) == "sip:boss@pbx"
