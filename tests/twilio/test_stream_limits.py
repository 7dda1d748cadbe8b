"""One Twilio media-stream peer cannot make the bot chew megabytes, and every stream leaves a record."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from benchmarks.harness.twilio_peer import TwilioStreamClient
from voicebot.channels.twilio import protocol as p
from voicebot.channels.twilio.routes import make_router
from voicebot.config import load_settings

from .test_stream import PARAMS, open_call, signed_headers


async def test_a_4_mb_media_frame_is_dropped_unread_and_the_call_goes_on(start_server, caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    decoded: list[int] = []
    real = p.json.loads
    monkeypatch.setattr(p.json, "loads", lambda s, *a, **kw: (decoded.append(len(s)), real(s, *a, **kw))[1])
    srv = await start_server()
    client = await open_call(srv)
    huge = client.media_msg(b"\xff" * (3 * 1024 * 1024))  # ~4 MB once base64'd: 6 minutes of audio in one message
    await client.send(huge)
    await client.send_media(b"\xff" * 160)  # the next ordinary frame still arrives
    await client.send_stop()
    record = await srv.wait_record("CA1")
    assert record.reason == "twilio_stop" and record.audio_pushes == 1  # only the ordinary frame reached the call
    assert max(decoded) < p.MAX_MESSAGE_BYTES  # the big one was never parsed
    assert any(r.__dict__.get("problem") == "too_large" for r in caplog.records)


def test_the_cap_is_a_setting() -> None:
    s = load_settings(None, env={"VOICEBOT_TWILIO__MAX_MESSAGE_BYTES": "8192"})
    router = make_router(SimpleNamespace(settings=s), call_factory=lambda info, sender: None)
    assert s.twilio.max_message_bytes == 8192 and router is not None
    with pytest.raises(p.ProtocolError) as err:
        p.parse_message(json.dumps({"event": "media", "x": "a" * 9000}), 8192)
    assert err.value.kind == "too_large"
    with pytest.raises(ValueError, match="twilio.max_message_bytes"):
        load_settings(None, env={"VOICEBOT_TWILIO__MAX_MESSAGE_BYTES": "100000000"})


async def test_an_unsupported_media_format_still_leaves_a_call_record(start_server, caplog) -> None:  # type: ignore[no-untyped-def]
    srv = await start_server()
    other = TwilioStreamClient(srv.ws_url, call_sid="CAalaw", stream_sid="MZa")
    await other.connect(signed_headers())
    await other.send({"event": "start", "sequenceNumber": "1", "streamSid": "MZa",
                      "start": {"streamSid": "MZa", "callSid": "CAalaw", "customParameters": PARAMS,
                                "mediaFormat": {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1}}})
    await asyncio.wait_for(other.closed.wait(), 5)
    record = await srv.wait_record("CAalaw")
    assert record.reason == "bad_media_format" and record.audio_pushes == 0
    assert any(r.__dict__.get("problem") == "media_format" for r in caplog.records)
