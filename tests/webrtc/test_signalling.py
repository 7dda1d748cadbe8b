"""The in-app routes refuse bad calls clearly, before any call starts, and keep serving."""

from __future__ import annotations

import json
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from voicebot.channels.webrtc.protocol import (
    BadMessage,
    event_messages,
    parse_client_message,
)
from voicebot.channels.webrtc.routes import make_router
from voicebot.channels.webrtc.service import InappOptions, options_from
from voicebot.config_types import reveal
from voicebot.channels.webrtc.tokens import issue_token
from voicebot.events import CallEvent
from voicebot.runtime import Runtime

SECRET = "test-secret-for-the-inapp-channel"
OWN = "http://testserver"
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


@pytest.fixture
def client(settings):  # type: ignore[no-untyped-def]
    runtime = Runtime(settings)
    router = make_router(runtime, options=InappOptions(secret=SECRET, allowed_origins=("https://shop.example",), max_signal_bytes=20_000))
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as c:
        c.router = router  # type: ignore[attr-defined]
        yield c
    runtime.close()


def offer(client, token: str, origin: str | None = OWN, sdp: str = SDP):  # type: ignore[no-untyped-def]
    headers = {"origin": origin} if origin else {}
    return client.post("/inapp/offer", json={"token": token, "sdp": sdp, "type": "offer"}, headers=headers)


def test_forged_expired_and_missing_tokens_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    forged = issue_token("someone-elses-secret-0000", customer_id="c-1")
    r = offer(client, forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
    expired = issue_token(SECRET, customer_id="c-1", ttl_s=60, now=time.time() - 600)
    r = offer(client, expired)
    assert r.status_code == 401 and r.json()["error"]["code"] == "expired" and "reload" in r.json()["error"]["message"]
    r = client.post("/inapp/offer", json={"sdp": SDP, "type": "offer"}, headers={"origin": OWN})
    assert r.status_code == 400 and "token" in r.json()["error"]["message"]
    assert len(client.router.inapp_live) == 0


def test_wrong_origin_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    good = issue_token(SECRET, customer_id="c-1")
    for origin in ("https://evil.example", None, "null"):
        r = offer(client, good, origin=origin)
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_origin", origin
        assert "access-control-allow-origin" not in r.headers
    bound = issue_token(SECRET, customer_id="c-1", origin="https://shop.example")  # issued for the shop, replayed from the bot's own page
    r = offer(client, bound, origin=OWN)
    assert r.status_code == 403 and "another site" in r.json()["error"]["message"]
    pre = client.options("/inapp/offer", headers={"origin": "https://shop.example", "access-control-request-method": "POST"})
    assert pre.headers["access-control-allow-origin"] == "https://shop.example"


def test_oversized_and_malformed_signalling_get_clear_errors(client) -> None:  # type: ignore[no-untyped-def]
    good = issue_token(SECRET, customer_id="c-1")
    r = offer(client, good, sdp=SDP + "a=x\r\n" * 10_000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    r = client.post("/inapp/offer", content=b"{not json", headers={"origin": OWN, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed"
    r = client.post("/inapp/offer", content=b"[1,2]", headers={"origin": OWN})
    assert r.status_code == 400
    r = offer(client, good, sdp="hello")
    assert r.status_code == 400 and "SDP" in r.json()["error"]["message"]
    r = offer(client, good, sdp=SDP.replace("m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:broken"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_sdp"
    r = client.patch("/inapp/offer", json={"token": good, "pc_id": "nope", "candidates": []}, headers={"origin": OWN})
    assert r.status_code == 404
    assert client.get("/widget.js").status_code == 200  # the server is fine
    assert len(client.router.inapp_live) == 0


def test_websocket_refusals_say_why(client) -> None:  # type: ignore[no-untyped-def]
    good = issue_token(SECRET, customer_id="c-1")
    cases = [
        ({"origin": "https://evil.example"}, json.dumps({"type": "start", "token": good}), "wrong_origin"),
        ({"origin": OWN}, json.dumps({"type": "start", "token": issue_token("someone-elses-secret-0000")}), "bad_signature"),
        ({"origin": OWN}, "{broken", "malformed"),
        ({"origin": OWN}, json.dumps({"type": "start", "token": good, "sample_rate": 12345}), "malformed"),
    ]
    for headers, first, code in cases:
        with client.websocket_connect("/inapp/ws", headers=headers) as ws:
            ws.send_text(first)
            msg = ws.receive_json()
            assert msg["type"] == "error" and msg["code"] == code, (first, msg)


def test_demo_tokens_only_in_demo_mode(settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(settings)
    try:
        for opts, status in ((InappOptions(secret=SECRET), 404), (InappOptions(), 200)):
            app = FastAPI()
            app.include_router(make_router(runtime, options=opts))
            with TestClient(app) as c:
                r = c.post("/inapp/demo-token", json={"name": "Alex", "language": "de"}, headers={"origin": OWN})
                assert r.status_code == status
                if status == 200:
                    assert c.post("/inapp/demo-token", json={}, headers={"origin": "https://evil.example"}).status_code == 403
    finally:
        runtime.close()


def test_settings_come_from_the_environment_with_safe_defaults(settings) -> None:  # type: ignore[no-untyped-def]
    o = options_from(settings, env={})
    assert o.secret is None and o.demo_enabled and o.allowed_origins == ()
    o = options_from(settings, env={"VOICEBOT_INAPP_SECRET": SECRET, "VOICEBOT_INAPP_ORIGINS": "https://a.example, https://b.example"})
    assert reveal(o.secret) == SECRET and not o.demo_enabled and o.allowed_origins == ("https://a.example", "https://b.example")
    with pytest.raises(ValueError, match="16 characters"):
        options_from(settings, env={"VOICEBOT_INAPP_SECRET": "short"})


def test_page_messages_are_validated() -> None:
    assert parse_client_message('{"type":"text","text":"  where is\\n my order "}') == {"type": "text", "text": "where is my order"}
    for raw, code in (("x" * 5000, "too_large"), ('{"type":"text","text":""}', "malformed"), ('{"type":"sudo"}', "unknown_type"),
                      ('{"type":"text","text":"' + "a" * 600 + '"}', "too_large")):
        with pytest.raises(BadMessage) as err:
            parse_client_message(raw)
        assert err.value.code == code


def test_call_events_become_captions_and_states() -> None:
    assert event_messages(CallEvent(0, "transcript", {"text": "hi", "turn_id": 1}))[0]["who"] == "caller"
    assert event_messages(CallEvent(0, "transcript", {"text": "", "turn_id": 1})) == []
    assert event_messages(CallEvent(0, "bot_reply", {"text": "Hello", "turn_id": 0}))[0]["who"] == "bot"
    cut = event_messages(CallEvent(0, "bot_speech_stop", {"turn_id": 2, "heard_text": "I heard", "interrupted": True}))
    assert cut[0]["text"] == "I heard" and cut[0]["interrupted"] and cut[1]["state"] == "listening"
    assert event_messages(CallEvent(0, "action", {"action": "transfer", "queue": "en"}))[0]["state"] == "transferred"
    assert event_messages(CallEvent(0, "call_end", {"reason": "caller_hung_up"}))[0]["state"] == "ended"
