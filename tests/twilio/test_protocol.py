"""Parsing Twilio's messages (examples as published in Twilio's Media Streams docs) and serializing ours."""

import base64
import json

import numpy as np
import pytest
from pipecat.frames.frames import AudioRawFrame, InterruptionFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from voicebot.audio.g711 import ulaw_encode
from voicebot.channels.twilio import protocol as p

START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"FirstName": "Jane", "LastName": "Doe"},
    },
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
}
SID = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"


def test_connected():
    msg = p.parse_message('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
    assert msg == p.Connected(protocol="Call", version="1.0.0")


def test_start():
    msg = p.parse_message(json.dumps(START))
    assert isinstance(msg, p.Start)
    assert msg.sequence_number == 1 and msg.stream_sid == SID and msg.call_sid.startswith("CA")
    assert msg.custom_parameters == {"FirstName": "Jane", "LastName": "Doe"}
    assert msg.media_format == p.MediaFormat("audio/x-mulaw", 8000, 1)


def test_media_bytes_and_numbers():
    audio = bytes(range(160))
    raw = {"event": "media", "sequenceNumber": "3", "media": {"track": "inbound", "chunk": "1", "timestamp": "5",
           "payload": base64.b64encode(audio).decode()}, "streamSid": SID}
    msg = p.parse_message(json.dumps(raw).encode())
    assert msg == p.Media(sequence_number=3, stream_sid=SID, chunk=1, timestamp_ms=5, payload=audio, track="inbound")


def test_dtmf_mark_stop():
    d = p.parse_message(json.dumps({"event": "dtmf", "streamSid": SID, "sequenceNumber": "5",
                                    "dtmf": {"track": "inbound_track", "digit": "1"}}))
    assert isinstance(d, p.Dtmf) and d.digit == "1" and d.sequence_number == 5
    m = p.parse_message(json.dumps({"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "my label"}}))
    assert isinstance(m, p.Mark) and m.name == "my label"
    s = p.parse_message(json.dumps({"event": "stop", "sequenceNumber": "5", "stop": {"accountSid": "AC1", "callSid": "CA1"},
                                    "streamSid": SID}))
    assert isinstance(s, p.Stop) and s.call_sid == "CA1"


@pytest.mark.parametrize(
    "text,kind",
    [
        ("{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        ("[1, 2]", "not_an_object"),
        ('{"event": "dance"}', "unknown_event"),
        ('{"sequenceNumber": "1"}', "unknown_event"),
        ('{"event": "media", "sequenceNumber": "2", "streamSid": "MZ1", "media": {"chunk": "1", "timestamp": "0", "payload": "!!notbase64!!"}}', "bad_base64"),
        ('{"event": "media", "sequenceNumber": "2", "streamSid": "MZ1", "media": {"chunk": "1", "timestamp": "0", "payload": 12}}', "bad_base64"),
        ('{"event": "media", "sequenceNumber": "2", "streamSid": "MZ1", "media": {"chunk": "1", "timestamp": "0"}}', "missing_field"),
        ('{"event": "media", "sequenceNumber": "2", "media": {"chunk": "1", "timestamp": "0", "payload": ""}}', "missing_field"),
        ('{"event": "media", "streamSid": "MZ1", "media": {"chunk": "1", "timestamp": "0", "payload": ""}}', "missing_field"),
        ('{"event": "media", "sequenceNumber": "two", "streamSid": "MZ1", "media": {}}', "bad_value"),
        ('{"event": "media", "sequenceNumber": "-1", "streamSid": "MZ1", "media": {}}', "bad_value"),
        ('{"event": "media", "sequenceNumber": "2", "streamSid": "MZ1", "media": "x"}', "bad_value"),
        ('{"event": "dtmf", "sequenceNumber": "2", "streamSid": "MZ1", "dtmf": {"digit": "x"}}', "bad_value"),
        ('{"event": "mark", "sequenceNumber": "2", "streamSid": "MZ1", "mark": {}}', "missing_field"),
        ('{"event": "start", "sequenceNumber": "1", "start": {"streamSid": "MZ1"}}', "missing_field"),
    ],
)
def test_malformed_messages_raise_clear_errors(text, kind):
    with pytest.raises(p.ProtocolError) as err:
        p.parse_message(text)
    assert err.value.kind == kind
    assert str(err.value)  # a message an operator can read


def test_outbound_messages_shape():
    assert json.loads(p.mark_message("MZ1", "s1")) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "s1"}}
    assert json.loads(p.clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
    media = json.loads(p.media_message("MZ1", b"\x01\x02"))
    assert media == {"event": "media", "streamSid": "MZ1", "media": {"payload": "AQI="}}
    with pytest.raises(ValueError):
        p.mark_message("MZ1", "")


async def test_outbound_media_and_clear_match_pipecat_serializer():
    ser = TwilioFrameSerializer("MZ1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
    pcm = (np.sin(np.arange(160) / 3.0) * 12000).astype("<i2").tobytes()
    theirs = await ser.serialize(AudioRawFrame(audio=pcm, sample_rate=8000, num_channels=1))
    assert p.media_message("MZ1", ulaw_encode(pcm)) == theirs
    assert p.clear_message("MZ1") == await ser.serialize(InterruptionFrame())


def test_split_frames_20ms():
    frames = p.split_frames(bytes(400))
    assert [len(f) for f in frames] == [160, 160, 80]
