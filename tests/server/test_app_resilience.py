"""One channel's setup error never takes the web app down, and /health tells the truth."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from voicebot.logs import KeyValueFormatter, get_logger
from voicebot.runtime import Runtime
from voicebot.server import create_app


def test_log_fields_named_like_logrecord_attributes_are_renamed_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("voicebot.test.reserved")
    with caplog.at_level(logging.INFO, logger="voicebot.test.reserved"):
        log.error("channel failed", extra={"module": "voicebot.channels.x", "name": "n", "msg": "m", "args": "a", "call_id": "c1"})
    (rec,) = caplog.records
    assert rec.module_ == "voicebot.channels.x" and rec.name_ == "n" and rec.msg_ == "m" and rec.call_id == "c1"
    assert rec.module == "test_app_resilience" and rec.getMessage() == "channel failed"
    line = KeyValueFormatter().format(rec)
    assert 'module_="voicebot.channels.x"' in line and 'call_id="c1"' in line


def test_a_channel_whose_setup_raises_is_reported_and_the_others_serve(settings, monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    import voicebot.channels.webrtc.routes as inapp

    def broken(runtime):  # type: ignore[no-untyped-def]
        raise ValueError("inapp.secret must be at least 16 characters")

    monkeypatch.setattr(inapp, "make_router", broken)
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(runtime)) as c:
            health = c.get("/health")
            assert health.status_code == 200  # the other channels serve calls
            body = health.json()
            assert body["status"] == "degraded" and "16 characters" in body["failed"]["voicebot.channels.webrtc.routes"]
            assert "twilio" in body["channels"] and "handoff" in body["channels"]
        assert any(r.__dict__.get("channel_module") == "voicebot.channels.webrtc.routes" for r in caplog.records)
    finally:
        runtime.close()


def test_health_checks_registered_by_any_part_degrade_health(settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(settings)
    problems = {"records": None}

    def records() -> str | None:
        return problems["records"]

    def broken() -> str | None:
        raise OSError("probe failed")

    runtime.health_checks["records"] = records
    try:
        with TestClient(create_app(runtime)) as c:
            ok = c.get("/health")
            assert ok.status_code == 200 and ok.json()["status"] == "ok" and ok.json()["problems"] == {}
            problems["records"] = "recordings folder /x is not writable"
            bad = c.get("/health")
            assert bad.status_code == 503 and bad.json()["problems"] == {"records": "recordings folder /x is not writable"}
            runtime.health_checks["models"] = broken
            assert "probe failed" in c.get("/health").json()["problems"]["models"]
    finally:
        runtime.close()
