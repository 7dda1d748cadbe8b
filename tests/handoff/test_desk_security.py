"""The agent desk and QA pages against password guessing, other sites, and agents reading others' calls.

The desk and QA run on the real FastAPI app (TestClient), real desk accounts (scrypt, SQLite)
and a real record store seeded with recorded calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI, WebSocketDisconnect
from fastapi.testclient import TestClient

from voicebot.config import Settings
from voicebot.handoff.options import HandoffOptions
from voicebot.handoff.routes import make_router, require_user, service_for
from voicebot.handoff.routing import Agent
from voicebot.handoff.state import Ticket
from voicebot.records.routes import make_router as qa_router
from voicebot.records.store import open_store

from ..records.seed import seed

OWN = {"Origin": "http://testserver"}


def desk(tmp_path: Path, store=None, **options) -> tuple[TestClient, SimpleNamespace]:  # type: ignore[no-untyped-def]
    runtime = SimpleNamespace(settings=Settings(home=tmp_path), handoff=None, store=store, require_user=require_user)
    svc = service_for(runtime, HandoffOptions(**options))
    svc.accounts.add(Agent("ana", "Ana", ("en",)), "ana-password")
    svc.accounts.add(Agent("bo", "Bo", ("en",)), "bo-password")
    svc.accounts.add(Agent("sue", "Sue", ("en",)), "sue-password", role="supervisor")
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(make_router(runtime))
    if store is not None:
        app.include_router(qa_router(runtime))
    return TestClient(app), runtime


def login(c: TestClient, who: str, password: str | None = None) -> int:
    return c.post("/handoff/api/login", json={"id": who, "password": password or f"{who}-password"}, headers=OWN).status_code


def test_sign_in_locks_out_after_repeated_failures_known_and_unknown_ids_alike(tmp_path: Path) -> None:
    c, _ = desk(tmp_path, login_max_failures=3, login_lockout_s=600, login_failure_floor_s=0.0)
    with c:
        answers = {}
        for who in ("ana", "nobody"):
            got = [c.post("/handoff/api/login", json={"id": who, "password": "guess-123"}, headers=OWN) for _ in range(4)]
            assert [r.status_code for r in got] == [401, 401, 401, 429], who
            answers[who] = [r.json() for r in got]
        assert answers["ana"] == answers["nobody"]  # the answers do not tell which id exists
        assert login(c, "ana") == 429  # locked: even the right password waits
        assert login(c, "bo") == 200  # other agents are not locked out


def test_a_failed_sign_in_costs_the_same_known_or_unknown_and_answers_after_the_floor(tmp_path: Path,
                                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    c, _ = desk(tmp_path, login_failure_floor_s=0.2)
    calls = []
    real = hashlib.scrypt

    def counting(*a, **kw):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **kw)

    with c:
        login(c, "sue", "wrong-password")  # warm up anything computed once
        monkeypatch.setattr(hashlib, "scrypt", counting)
        per_id = {}
        for who in ("ana", "nobody-here"):
            calls.clear()
            t0 = time.monotonic()
            assert login(c, who, "wrong-password") == 401
            per_id[who] = (len(calls), time.monotonic() - t0)
        assert per_id["ana"][0] == per_id["nobody-here"][0] == 1  # one password check either way
        assert min(t for _, t in per_id.values()) >= 0.2


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"Origin": "https://evil.example"}, '{"id": "ana", "password": "ana-password"}', 403),
    ({"Referer": "https://evil.example/page"}, '{"id": "ana", "password": "ana-password"}', 403),
    ({}, '{"id": "ana", "password": "ana-password"}', 403),  # neither Origin nor Referer
    ({"Origin": "null"}, '{"id": "ana", "password": "ana-password"}', 403),
])
def test_cross_site_sign_in_refused(tmp_path: Path, headers: dict, body: str, status: int) -> None:
    c, _ = desk(tmp_path)
    with c:
        r = c.post("/handoff/api/login", content=body, headers={"Content-Type": "application/json", **headers})
        assert r.status_code == status and "set-cookie" not in r.headers


def test_desk_json_api_refuses_text_plain_and_other_sites_with_a_valid_cookie(tmp_path: Path) -> None:
    c, _ = desk(tmp_path)
    with c:
        assert login(c, "ana") == 200
        plain = c.post("/handoff/api/status", content='{"status": "away"}', headers={"Content-Type": "text/plain", **OWN})
        assert plain.status_code == 415
        evil = c.post("/handoff/api/status", json={"status": "away"}, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        bare = c.post("/handoff/api/status", json={"status": "away"})
        assert bare.status_code == 403
        assert c.get("/handoff/api/me").json()["status"] == "available"  # none of them changed anything
        assert c.post("/handoff/api/status", json={"status": "away"}, headers=OWN).status_code == 200
        with pytest.raises(WebSocketDisconnect), c.websocket_connect("/handoff/ws", headers={"Origin": "https://evil.example"}) as ws:
            ws.receive_json()  # another site's page gets no desk events


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    await seed(s, tmp_path / "rec", time.time())
    yield s
    s.close()


async def test_agents_read_only_the_calls_they_took_in_qa_supervisors_all(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    c, runtime = desk(tmp_path / "desk", store=store)

    def listed(client: TestClient) -> set[str]:
        r = client.get("/qa")
        assert r.status_code == 200, r.text
        return {part.split('"')[0] for part in r.text.split('data-call="')[1:]}

    await runtime.handoff.state.put_ticket(Ticket(call_id="es-1", channel="twilio", language="en", queue="en"))
    await asyncio.to_thread(_check_roles, c, listed)


def _check_roles(c: TestClient, listed) -> None:  # type: ignore[no-untyped-def]
    with c:
        assert login(c, "ana") == 200
        assert c.post("/handoff/api/calls/es-1/accept", json={}, headers=OWN).json() == {"ok": True}
        assert listed(c) == {"es-1"}
        for path in ("/qa/calls/es-1", "/qa/calls/es-1/recording.wav", "/qa/calls/es-1/scenario.zip"):
            assert c.get(path).status_code == 200, path
        for path in ("/qa/calls/en-1", "/qa/calls/de-2/scenario.zip", "/qa/calls/en-2"):
            assert c.get(path).status_code == 404, path  # another's call reads as absent
        assert c.post("/qa/calls/en-1/turns/1/annotations", data={"note": "x"}, headers=OWN).status_code == 404
        assert c.get("/qa/analytics").status_code == 403
        c.cookies.clear()
        assert login(c, "bo") == 200
        assert listed(c) == set() and c.get("/qa/calls/es-1").status_code == 404
        c.cookies.clear()
        assert login(c, "sue") == 200
        assert len(listed(c)) == 10 and c.get("/qa/calls/en-1").status_code == 200 and c.get("/qa/analytics").status_code == 200


def test_qa_annotation_without_origin_or_referer_refused(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    c, _ = desk(tmp_path / "desk", store=store)
    with c:
        assert login(c, "sue") == 200
        assert c.post("/qa/calls/es-1/turns/1/annotations", data={"wrong": "1"}, follow_redirects=False).status_code == 403
        assert store.annotations("es-1") == []
        ok = c.post("/qa/calls/es-1/turns/1/annotations", data={"wrong": "1"}, headers={"Referer": "http://testserver/qa/calls/es-1"},
                    follow_redirects=False)
        assert ok.status_code == 303 and len(store.annotations("es-1")) == 1


@pytest.mark.parametrize(("host", "env", "docs", "metrics"), [
    ("0.0.0.0", {}, 404, 401),  # a public bind: closed by default
    ("127.0.0.1", {}, 200, 200),  # loopback: open (local development, a scraper on the same host)
    ("0.0.0.0", {"api_docs": True, "public_metrics": True}, 200, 200),  # opened on purpose
    ("127.0.0.1", {"api_docs": False, "public_metrics": False}, 404, 401),
])
def test_docs_and_metrics_closable_and_closed_on_a_public_bind(settings, store, host: str, env: dict, docs: int, metrics: int) -> None:  # type: ignore[no-untyped-def]
    from voicebot.runtime import Runtime
    from voicebot.server import create_app

    settings.server.host = host
    for k, v in env.items():
        setattr(settings.server, k, v)
    runtime = Runtime(settings)
    runtime.records = SimpleNamespace(store=store)
    try:
        with TestClient(create_app(runtime)) as c:
            for path in ("/docs", "/openapi.json", "/redoc"):
                assert c.get(path).status_code == docs, path
            assert c.get("/metrics").status_code == metrics
    finally:
        runtime.close()
