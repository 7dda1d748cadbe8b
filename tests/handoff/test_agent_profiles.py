"""The desk's profile API: an agent changes their own shift, languages, skills and status; a
supervisor changes anyone's; bad values are refused with what to write; the coverage lines say
who is on shift per queue and, when nobody is, until when and what callers get."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from voicebot.config import Settings
from voicebot.handoff.routes import make_router, service_for
from voicebot.handoff.routing import Agent

SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def desk(tmp_path):
    runtime = SimpleNamespace(settings=Settings(home=tmp_path), handoff=None)
    svc = service_for(runtime)
    svc.bridge.now = lambda: SATURDAY
    svc.accounts.add(Agent("maria", "María", ("en", "es"), timezone="Europe/Madrid"), "maria-password")
    svc.accounts.add(Agent("jorge", "Jorge", ("es",), timezone="Europe/Madrid"), "jorge-password")
    svc.accounts.add(Agent("lee", "Lee", ("en",)), "lee-password", role="supervisor")
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(make_router(runtime))

    def client(who: str) -> TestClient:
        c = TestClient(app, headers={"Origin": "http://testserver"})
        assert c.post("/handoff/api/login", json={"id": who, "password": f"{who}-password"}).status_code == 200
        return c

    yield client, svc
    svc.accounts.close()


def test_an_agent_edits_their_own_shift_and_no_one_elses(desk):
    client, svc = desk
    maria = client("maria")
    me = maria.get("/handoff/api/me").json()
    assert me["on_shift"] is False and me["next_shift_text"] == "on Monday at 09:00 (Europe/Madrid)"
    r = maria.post("/handoff/api/agents/maria", json={"hours": "Mon-Sat 9-17", "skills": "returns, vip", "status": "away"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["hours"] == "mon-sat 09:00-17:00" and got["on_shift"] and got["skills"] == ["returns", "vip"] and got["status"] == "away"
    assert got["shift_ends_text"] == "today at 17:00 (Europe/Madrid)"
    stored = svc.accounts.get("maria").agent  # kept in the accounts database
    assert stored.hours == "mon-sat 09:00-17:00" and stored.skills == ("returns", "vip")
    assert maria.post("/handoff/api/agents/jorge", json={"hours": "24/7"}).status_code == 403
    assert maria.post("/handoff/api/agents/maria", json={"name": "Boss"}).json()["name"] == "María"  # only a supervisor renames
    assert [a["id"] for a in maria.get("/handoff/api/agents").json()["agents"]] == ["maria"]


@pytest.mark.parametrize("body,says", [
    ({"hours": "mon-fri 9-25"}, "not a time of day"), ({"timezone": "Madrid"}, "not an IANA time zone"),
    ({"languages": "english"}, "english not supported"), ({"languages": []}, "at least one"),
    ({"status": "sleeping"}, "status must be one of"),
])
def test_bad_values_are_refused_with_what_to_write(desk, body, says):
    client, svc = desk
    r = client("maria").post("/handoff/api/agents/maria", json=body)
    assert r.status_code == 400 and says in r.json()["detail"], r.text
    assert svc.accounts.get("maria").agent.hours == "mon-fri 09:00-17:00"  # nothing half-saved


def test_a_supervisor_edits_any_agent_and_coverage_follows(desk):
    client, _ = desk
    lee = client("lee")
    client("jorge")  # signed in to the desk: "available"
    cov = {q["queue"]: q for q in lee.get("/handoff/api/coverage").json()["queues"]}
    assert cov["es"]["on_shift"] == [] and cov["es"]["next_open"] == "2026-11-30T09:00+01:00"
    assert cov["es"]["instead"]["web_text"] == "bot"
    assert {a["id"] for a in lee.get("/handoff/api/agents").json()["agents"]} == {"maria", "jorge", "lee"}
    r = lee.post("/handoff/api/agents/jorge", json={"hours": "sat-sun 10:00-18:00", "languages": "es,pt", "name": "Jorge P."})
    assert r.status_code == 200 and r.json()["on_shift"] and r.json()["name"] == "Jorge P."
    cov = {q["queue"]: q for q in lee.get("/handoff/api/coverage").json()["queues"]}
    assert cov["es"]["on_shift"] == ["Jorge P."] and cov["es"]["available"] == ["Jorge P."] and cov["pt"]["on_shift"] == ["Jorge P."]
    assert lee.post("/handoff/api/agents/nobody", json={"hours": "24/7"}).status_code == 404
