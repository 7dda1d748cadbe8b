"""The media stream over a real WebSocket on loopback, driven by a Twilio-protocol client."""

import asyncio
import json

import httpx
import numpy as np
import pytest
import websockets

from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.channels.twilio.stream import StreamOptions

from .conftest import AUTH_TOKEN, PUBLIC_HOST, eventually
from benchmarks.harness.twilio_peer import TwilioStreamClient, sign

STREAM_URL = f"wss://{PUBLIC_HOST}/twilio/stream"
PARAMS = {"caller": "+15550001", "called": "+15550002", "call_sid": "CA1"}


def signed_headers() -> dict[str, str]:
    return {"X-Twilio-Signature": sign(AUTH_TOKEN, STREAM_URL)}


async def open_call(srv, call_sid="CA1", stream_sid="MZ1", **kw) -> TwilioStreamClient:
    client = TwilioStreamClient(srv.ws_url, call_sid=call_sid, stream_sid=stream_sid, **kw)
    await client.connect(signed_headers())
    await client.send_connected()
    await client.send_start({**PARAMS, "call_sid": call_sid})
    return client


async def test_handshake_signature_rejected_when_forged_or_missing(start_server):
    srv = await start_server()
    for headers in ({}, {"X-Twilio-Signature": sign("wrong-token", STREAM_URL)},
                    {"X-Twilio-Signature": sign(AUTH_TOKEN, srv.ws_url)}):  # signed for the wrong URL
        with pytest.raises(websockets.InvalidStatus) as err:
            await websockets.connect(srv.ws_url, additional_headers=headers, open_timeout=5)
        assert err.value.response.status_code == 403
    assert srv.records == {} and len(srv.live) == 0


async def test_full_call_audio_marks_dtmf_and_stop(start_server, caller_pcm8k, bot_pcm8k):
    srv = await start_server()
    client = await open_call(srv)
    # the bot greets: mu-law media in 20 ms frames, a mark after each sentence, echoed back
    greeting = bot_pcm8k[0]
    await client.wait_for(lambda: client.received.marks == ["greet-1", "greet-2"])
    media = client.received.media
    assert all(len(f) == 160 for f in media[:-1]) and 0 < len(media[-1]) <= 160
    assert sum(len(f) for f in media) == len(greeting) // 2
    assert b"".join(media) == ulaw_encode(np.frombuffer(greeting, "<i2"))  # exact G.711 of the bot audio
    decoded = np.frombuffer(ulaw_decode(b"".join(media)), "<i2").astype(float)
    assert np.sqrt(np.mean(decoded**2)) > 300  # speech, not silence
    bot = srv.calls["CA1"]
    await eventually(lambda: bot.rec.marks_played == ["greet-1", "greet-2"])

    # the caller speaks: a real recording, 20 ms mu-law frames
    mulaw = ulaw_encode(np.frombuffer(caller_pcm8k, "<i2"))
    frames = await client.send_audio(mulaw)
    await client.send_dtmf("4")
    await client.send_dtmf("2")
    await client.send_stop()
    record = await srv.wait_record("CA1")
    assert record.reason == "twilio_stop"
    assert record.audio_pushes == frames
    assert bytes(record.caller_pcm) == ulaw_decode(mulaw)
    assert record.digits == ["4", "2"]
    assert (record.caller, record.called) == ("+15550001", "+15550002")
    await asyncio.wait_for(client.closed.wait(), 5)  # the server closed the socket after stop
    assert len(srv.live) == 0


async def test_bot_hangup_waits_for_last_mark_of_goodbye(start_server):
    srv = await start_server()
    client = await open_call(srv, hold_marks=True)  # a player that has not played the audio yet
    await client.wait_for(lambda: client.received.marks == ["greet-1", "greet-2"])
    await client.play_out()
    await client.send_dtmf("#")  # the stand-in says goodbye and hangs up
    await client.wait_for(lambda: "goodbye" in client.received.marks)
    await asyncio.sleep(0)  # let the server run; it must still hold the call open
    assert not client.closed.is_set() and "CA1" not in srv.records
    await client.play_out()  # Twilio played the goodbye: echoes its mark
    await asyncio.wait_for(client.closed.wait(), 5)  # the bot closed the stream = hang-up
    record = await srv.wait_record("CA1")
    assert record.reason == "bot_hangup" and record.goodbye_heard_before_hangup is True
    assert record.marks_played == ["greet-1", "greet-2", "goodbye"]


async def test_clear_on_barge_in_marks_unplayed_audio(start_server):
    srv = await start_server()
    client = await open_call(srv, hold_marks=True)
    await client.wait_for(lambda: client.received.marks == ["greet-1", "greet-2"])
    await client.send_dtmf("*")  # the stand-in barges in: clear
    await client.wait_for(lambda: client.received.clears == 1)
    bot = srv.calls["CA1"]
    await eventually(lambda: len(bot.rec.marks_unplayed) == 2)
    # Twilio echoes the pending marks after clear, but that audio was never heard
    assert bot.rec.marks_played == [] and bot.rec.marks_unplayed == ["greet-1", "greet-2"]
    await client.send_stop()
    await srv.wait_record("CA1")


async def test_bad_input_is_logged_and_survived_other_call_unaffected(start_server, caller_pcm8k, caplog):
    srv = await start_server()
    good = await open_call(srv, call_sid="CAgood", stream_sid="MZgood")
    bad = TwilioStreamClient(srv.ws_url, call_sid="CAbad", stream_sid="MZbad")
    await bad.connect(signed_headers())
    await bad.send_connected()
    await bad.send_media(b"\xff" * 160)  # media before start
    await bad.send_start(PARAMS | {"call_sid": "CAbad"})
    await bad.send_raw("{not json")
    await bad.send_raw('{"event": "dance", "sequenceNumber": "9"}')
    await bad.send_raw(json.dumps({"event": "media", "sequenceNumber": "99", "streamSid": "MZbad",
                                   "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "%%garbage%%"}}))
    await bad.send(bad.media_msg(b"\x00" * 160, stream_sid="MZother"))  # wrong stream SID
    stale = bad.media_msg(b"\x00" * 160)
    await bad.send(bad.media_msg(b"\x7f" * 160))  # sequenceNumber n+1 first ...
    await bad.send(stale)  # ... then n: out of order
    await bad.ws.send(b"\x00\x01")  # binary frame
    await bad.send_media(b"\xff" * 160)  # still a valid frame afterwards

    mulaw = ulaw_encode(np.frombuffer(caller_pcm8k, "<i2"))
    frames = await good.send_audio(mulaw)
    await good.send_stop()
    good_record = await srv.wait_record("CAgood")
    assert good_record.audio_pushes == frames and good_record.reason == "twilio_stop"

    await bad.send_stop()
    bad_record = await srv.wait_record("CAbad")
    assert bad_record.reason == "twilio_stop"
    assert bad_record.audio_pushes == 2  # the 0x7f frame and the last one; everything bad dropped
    problems = {r.__dict__.get("problem") for r in caplog.records if r.__dict__.get("call_id") == "CAbad"}
    assert {"malformed_json", "unknown_event", "bad_base64", "wrong_stream_sid", "out_of_order", "binary"} <= problems
    before = [r for r in caplog.records if r.__dict__.get("problem") == "before_start"]
    assert before and before[0].__dict__["call_id"] == "unknown"
    # the server still answers
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        assert (await http.post("/twilio/voice", data={})).status_code == 403


async def test_socket_closed_without_stop_keeps_the_record(start_server, caplog):
    srv = await start_server()
    client = await open_call(srv)
    await client.send_audio(b"\xff" * 800)
    await client.close()
    record = await srv.wait_record("CA1")
    assert record.reason == "stream_closed" and record.audio_pushes == 5
    assert any(r.__dict__.get("problem") == "closed_without_stop" and r.__dict__.get("call_id") == "CA1" for r in caplog.records)
    assert len(srv.live) == 0


async def test_silent_socket_is_treated_as_dropped(start_server):
    srv = await start_server(options=StreamOptions(start_timeout_s=5, idle_timeout_s=0.3, end_timeout_s=5))
    client = await open_call(srv)
    record = await srv.wait_record("CA1")  # nothing more is sent
    assert record.reason == "stream_silent"
    await asyncio.wait_for(client.closed.wait(), 5)  # the server closed the socket


async def test_status_callback_ends_live_call(start_server):
    srv = await start_server()
    client = await open_call(srv, call_sid="CA9")
    await client.wait_for(lambda: len(client.received.marks) == 2)
    form = {"CallSid": "CA9", "CallStatus": "completed", "AccountSid": "AC1"}
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.post("/twilio/status", data=form,
                            headers={"X-Twilio-Signature": sign(AUTH_TOKEN, f"https://{PUBLIC_HOST}/twilio/status", form)})
    assert r.status_code == 204
    record = await srv.wait_record("CA9")
    assert record.reason == "twilio_completed"
    await asyncio.wait_for(client.closed.wait(), 5)


async def test_call_setup_failure_closes_that_stream_only(start_server, caplog):
    srv = await start_server()
    srv.fail_sids.add("CAbroken")
    broken = await open_call(srv, call_sid="CAbroken", stream_sid="MZb")
    await asyncio.wait_for(broken.closed.wait(), 5)
    assert any("could not create the call" in r.getMessage() and r.__dict__.get("call_id") == "CAbroken" for r in caplog.records)
    ok = await open_call(srv, call_sid="CAok", stream_sid="MZok")
    await ok.wait_for(lambda: len(ok.received.marks) == 2)
    await ok.send_stop()
    assert (await srv.wait_record("CAok")).reason == "twilio_stop"


async def test_duplicate_start_and_unsupported_media_format(start_server, caplog):
    srv = await start_server()
    client = await open_call(srv)
    await client.send_start(PARAMS)  # a second start on the same socket: ignored
    await client.send_media(b"\xff" * 160)
    await client.send_stop()
    record = await srv.wait_record("CA1")
    assert record.reason == "twilio_stop" and record.audio_pushes == 1
    assert any(r.__dict__.get("problem") == "duplicate_start" for r in caplog.records)

    other = TwilioStreamClient(srv.ws_url, call_sid="CAalaw", stream_sid="MZa")
    await other.connect(signed_headers())
    await other.send({"event": "start", "sequenceNumber": "1", "streamSid": "MZa",
                      "start": {"streamSid": "MZa", "callSid": "CAalaw", "customParameters": {},
                                "mediaFormat": {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1}}})
    await asyncio.wait_for(other.closed.wait(), 5)
    assert any(r.__dict__.get("problem") == "media_format" for r in caplog.records)
    assert (await srv.wait_record("CAalaw")).reason == "bad_media_format"  # ended at once, but on the record
