"""The Twilio media-stream decoder and the in-app widget protocol, fuzzed from real-shaped messages."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from voicebot.channels.twilio import protocol as tw
from voicebot.channels.webrtc.protocol import BadMessage, parse_client_message, parse_offer, parse_patch

from .fuzzing import COUNTS, FUZZ, mutated

_SID = "MZ00000000000000000000000000000000"
TWILIO = [json.dumps(m).encode() for m in (
    {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    {"event": "start", "sequenceNumber": "1", "streamSid": _SID, "start": {"streamSid": _SID, "accountSid": "AC1", "callSid": "CA1",
     "tracks": ["inbound"], "customParameters": {"caller": "+15550001"},
     "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}},
    {"event": "media", "sequenceNumber": "2", "streamSid": _SID,
     "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": base64.b64encode(b"\xff" * 160).decode()}},
    {"event": "dtmf", "sequenceNumber": "3", "streamSid": _SID, "dtmf": {"track": "inbound_track", "digit": "5"}},
    {"event": "mark", "sequenceNumber": "4", "streamSid": _SID, "mark": {"name": "m1"}},
    {"event": "stop", "sequenceNumber": "5", "streamSid": _SID, "stop": {"accountSid": "AC1", "callSid": "CA1"}},
)] + [b"[" * 5000 + b"]" * 5000, b'{"event": "media", "sequenceNumber": 1e999}']

# JSON of any shape in the fields Twilio fills: numbers, nulls, lists, objects where strings belong.
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@st.composite
def twilio_shaped(draw: st.DrawFn) -> str:
    msg = json.loads(draw(st.sampled_from(TWILIO[:6])))
    for _ in range(draw(st.integers(0, 4))):
        node = msg
        key = draw(st.sampled_from(sorted(node)))
        if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
            node, key = node[key], draw(st.sampled_from(sorted(node[key])))
        node[key] = draw(_JSON)
    return json.dumps(msg)


@FUZZ
@given(st.one_of(mutated(TWILIO), twilio_shaped()))
def test_twilio_decoder_raises_only_protocol_error(data: bytes | str) -> None:
    COUNTS["twilio_media_stream"] += 1
    for message in (data, data.decode("utf-8", "replace") if isinstance(data, bytes) else data.encode()):
        try:
            tw.parse_message(message)
        except tw.ProtocolError:
            pass


SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
WIDGET = [json.dumps(m).encode() for m in (
    {"type": "text", "text": "where is my order?"}, {"type": "hangup"}, {"type": "ping"},
    {"type": "start", "token": "abc.def", "sample_rate": 16000},
    {"token": "abc.def", "sdp": SDP, "type": "offer", "pc_id": "pc1", "restart_pc": False},
    {"token": "abc.def", "pc_id": "pc1", "candidates": [{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdp_mid": "0",
                                                          "sdp_mline_index": 0}]},
)] + [b"[" * 3000 + b"]" * 3000]


@FUZZ
@given(st.one_of(mutated(WIDGET), st.builds(lambda v: json.dumps(v).encode(), _JSON)))
def test_widget_protocol_raises_only_bad_message(data: bytes) -> None:
    COUNTS["widget_protocol"] += 1
    for parse in (parse_client_message, parse_offer, parse_patch):
        try:
            parse(data)
        except BadMessage:
            pass
    try:
        parse_client_message(data.decode("utf-8", "replace"))
    except BadMessage:
        pass
