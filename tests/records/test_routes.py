"""The QA router over HTTP (FastAPI's TestClient): auth, filters, annotations, export, /metrics."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from voicebot.records.routes import QaOptions, make_qa_router, make_router
from voicebot.records.store import RecordStore, open_store

from .seed import seed

NOW = time.time()


def desk_user(request: Request) -> dict:
    """Stands in for the agent desk's dependency: a session cookie names the user (a supervisor;
    what an agent may read is tested with real desk accounts in tests/handoff/test_desk_security.py)."""
    who = request.cookies.get("desk")
    if not who:
        raise HTTPException(401, "sign in to the agent desk")
    return {"name": who, "role": "supervisor"}


@pytest.fixture
async def seeded(tmp_path: Path) -> RecordStore:
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    await seed(store, tmp_path / "rec", NOW)
    yield store
    store.close()


@pytest.fixture
def client(seeded: RecordStore) -> TestClient:
    app = FastAPI()
    app.include_router(make_qa_router(seeded, desk_user, QaOptions()))
    c = TestClient(app, headers={"Origin": "http://testserver"})  # as the QA page's own form posts
    c.cookies.set("desk", "qa-lead")
    return c


def test_pages_need_the_desk_login(seeded: RecordStore) -> None:
    app = FastAPI()
    app.include_router(make_qa_router(seeded, desk_user))
    anon = TestClient(app)
    for path in ("/qa", "/qa/analytics", "/qa/calls/es-1", "/qa/calls/es-1/recording.wav", "/qa/calls/es-1/scenario.zip"):
        assert anon.get(path).status_code == 401, path
    assert anon.post("/qa/calls/es-1/turns/1/annotations", data={"note": "x"}).status_code == 401
    assert anon.get("/metrics").status_code == 200  # Prometheus has no desk login (configurable)
    app2 = FastAPI()
    app2.include_router(make_qa_router(seeded, desk_user, QaOptions(metrics_public=False)))
    assert TestClient(app2).get("/metrics").status_code == 401


def test_runtime_hook_refuses_without_auth(seeded: RecordStore) -> None:
    class Runtime:
        store = seeded

    app = FastAPI()
    app.include_router(make_router(Runtime()))
    r = TestClient(app).get("/qa")
    assert r.status_code == 503 and "require_user" in r.text
    app = FastAPI()
    app.include_router(make_router(type("R", (), {"store": None})()))
    assert TestClient(app).get("/qa").status_code == 404


def test_list_and_filters(client: TestClient) -> None:
    def ids(**params: str) -> list[str]:
        r = client.get("/qa", params=params)
        assert r.status_code == 200, r.text
        return [part.split('"')[0] for part in r.text.split('data-call="')[1:]]

    assert len(ids()) == 8 and "qa-lead" in client.get("/qa").text
    assert sorted(ids(language="de")) == ["de-1", "de-2"]
    assert sorted(ids(outcome="handed_off")) == ["de-2", "en-2", "es-1", "es-2"]
    assert ids(intent="cancel_order") == ["fr-1"]
    assert sorted(ids(channel="twilio")) == ["en-1", "en-2", "en-3", "es-1"]
    today = time.strftime("%Y-%m-%d", time.gmtime(NOW - 3600))  # es-1 started an hour ago (seed.py): its day at any hour
    assert "es-1" in ids(date_from=today, date_to=today) and "de-2" not in ids(date_from=today)
    assert client.get("/qa", params={"date_from": "yesterday"}).status_code == 400
    assert client.get("/qa", params={"outcome": "<script>"}).status_code == 400


def test_call_page_and_recording(client: TestClient) -> None:
    page = client.get("/qa/calls/es-1").text
    assert "mi paquete lleva diez días en aduana" in page and 'id="player"' in page and 'id="timeline"' in page
    assert '<span class="unheard">' in page  # the barged-in reply shows what was not heard
    assert "ana.garcia" not in page  # redacted at the source
    wav = client.get("/qa/calls/es-1/recording.wav")
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and wav.headers["content-type"] == "audio/wav"
    ranged = client.get("/qa/calls/es-1/recording.wav", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100  # seeking in the player
    assert client.get("/qa/calls/nope").status_code == 404
    assert client.get("/qa/calls/en-1/recording.wav").status_code == 404  # not recorded


def test_mark_a_turn_wrong(client: TestClient, seeded: RecordStore) -> None:
    r = client.post("/qa/calls/es-1/turns/2/annotations", data={"wrong": "1", "note": "should have asked for the <b>tracking</b> id"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/qa/calls/es-1#turn-2"
    (a,) = seeded.annotations("es-1")
    assert (a.turn_index, a.wrong, a.author) == (2, True, "qa-lead") and a.note.startswith("should have asked")
    page = client.get("/qa/calls/es-1").text
    assert "&lt;b&gt;tracking&lt;/b&gt;" in page and '<div class="turn wrong" id="turn-2"' in page
    assert client.post("/qa/calls/es-1/turns/99/annotations", data={"note": "x"}).status_code == 404
    evil = client.post("/qa/calls/es-1/turns/1/annotations", data={"wrong": "1", "note": "x"}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and len(seeded.annotations("es-1")) == 1


def test_export_zip(client: TestClient) -> None:
    r = client.get("/qa/calls/es-1/scenario.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(zf.namelist()) == ["call-es-1/scenario.yaml", "call-es-1/turn1.wav", "call-es-1/turn2.wav", "call-es-1/turn3.wav"]
    doc = yaml.safe_load(zf.read("call-es-1/scenario.yaml"))
    assert doc["expect"] == {"handoff": True, "order_id": "45712"}


def test_analytics_and_metrics(client: TestClient) -> None:
    page = client.get("/qa/analytics", params={"days": 7}).text
    for chart in ("calls-per-day", "resolution-per-day", "handoff-reasons", "top-intents", "latency", "interruptions"):
        assert f'id="{chart}"' in page
    assert 'data-label="caller_asked" data-value="2"' in page  # es-1 and de-2
    assert client.get("/qa/analytics", params={"days": 0}).status_code == 400
    text = client.get("/metrics").text
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert samples['voicebot_calls{window="24h",channel="twilio",language="es",outcome="handed_off"}'] == 1
    assert samples['voicebot_handoffs{window="24h",reason="caller_asked"}'] == 1
    assert samples['voicebot_turn_latency_ms_count{window="24h",stage="response"}'] >= 3
    assert samples["voicebot_calls_open"] == 0
    assert "# TYPE voicebot_turn_latency_ms summary" in text


def test_make_router_takes_a_store_and_the_desk_dependency(seeded: RecordStore) -> None:
    app = FastAPI()
    app.include_router(make_router(seeded, desk_user))
    c = TestClient(app)
    assert c.get("/qa").status_code == 401
    c.cookies.set("desk", "qa-lead")
    assert c.get("/qa/calls/es-1").status_code == 200
