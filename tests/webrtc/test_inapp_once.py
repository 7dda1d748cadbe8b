"""An in-app session token starts one call, and that call is recorded once.

The WebSocket fallback is driven over the real FastAPI app with the real call pipeline (dev
models) and a real record store.
"""

from __future__ import annotations

import json
import time

from fastapi import FastAPI
from websockets.sync.client import connect

from voicebot.channels.webrtc.routes import make_router
from voicebot.channels.webrtc.service import InappOptions
from voicebot.channels.webrtc.tokens import issue_token
from voicebot.records.service import Records
from voicebot.runtime import Runtime

from .conftest import serve

SECRET = "test-secret-for-the-inapp-channel"


def test_a_token_starts_one_call_and_the_call_is_recorded_once(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("INFO")
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    router = make_router(runtime, options=InappOptions(secret=SECRET, media_timeout_s=10.0))
    app = FastAPI()
    app.include_router(router)
    token = issue_token(SECRET, customer_id="c-1", ttl_s=300)
    try:
        for url, _loop in serve(app):
            ws_url = url.replace("http://", "ws://") + "/inapp/ws"
            own = url
            with connect(ws_url, additional_headers={"Origin": own}) as ws:
                ws.send(json.dumps({"type": "start", "token": token}))
                first = json.loads(ws.recv(30))
                assert first["type"] == "call", first
                call_id = first["call_id"]
                with connect(ws_url, additional_headers={"Origin": own}) as replay:  # the same token again
                    replay.send(json.dumps({"type": "start", "token": token}))
                    refused = json.loads(replay.recv(30))
                    assert refused["type"] == "error" and refused["code"] == "token_used", refused
                ws.send(bytes(640) * 25)  # half a second of silence
                ws.send(json.dumps({"type": "hangup"}))
            deadline = time.monotonic() + 60
            while router.inapp_live.status(call_id) is None or router.inapp_live.status(call_id)["live"]:
                assert time.monotonic() < deadline, "the call did not end"
                time.sleep(0.05)  # polling a real server's state, bounded
        runtime.records.writer.flush()
        store = runtime.records.store
        events = store.events(call_id)
        kinds = [e.kind for e in events]
        assert kinds.count("call_start") == 1 and kinds.count("call_end") == 1, kinds
        assert len({e.seq for e in events}) == len(events)
        opened = [r for r in caplog.records if r.getMessage() == "call record opened" and r.__dict__.get("call_id") == call_id]
        assert len(opened) == 1  # one recorder: every event written once, not twice
        call = store.get_call(call_id)
        assert call is not None and call.ended_at is not None
        fresh = issue_token(SECRET, customer_id="c-1", ttl_s=300)  # a new token from the shop's backend works
        assert fresh != token
    finally:
        runtime.close()
        runtime.records.close()
