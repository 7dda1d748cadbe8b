"""The two ways a supervisor runs campaigns: ``voicebot campaign ...`` and the /outbound pages
(behind the agent desk's real sign-in, like /qa; starting and pausing need a supervisor)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from voicebot.cli import main
from voicebot.handoff.routes import service_for as handoff_service
from voicebot.handoff.routing import Agent
from voicebot.records.service import Records
from voicebot.runtime import Runtime
from voicebot.server import create_app


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["campaign", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_start_twice_consent_dnc_pause_and_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VOICEBOT_HOME", str(tmp_path))
    rc, out, _ = cli(capsys, "start", "late", "--rule", "late_parcel", "--days", "2")
    assert rc == 0 and "15 orders match late_parcel --days 2, 15 new targets" in out
    assert "15 customers have no recorded consent" in out  # consent is required by default
    rc, out, _ = cli(capsys, "start", "late", "--rule", "late_parcel", "--days", "2")
    assert rc == 0 and "already existed" in out and "0 new targets" in out
    rc, _, err = cli(capsys, "start", "late", "--rule", "customs_hold", "--days", "5")
    assert rc == 2 and "already exists with rule late_parcel" in err
    rc, _, err = cli(capsys, "start", "x y", "--rule", "late_parcel", "--days", "2")
    assert rc == 2 and "campaign name" in err
    assert cli(capsys, "consent", "grant", "C001")[0] == 0
    rc, out, _ = cli(capsys, "consent", "show", "C001")
    assert "C001: granted" in out
    assert cli(capsys, "dnc", "add", "+44 7700 900123", "--reason", "asked by email")[0] == 0
    rc, out, _ = cli(capsys, "dnc", "list")
    assert "+447700900123" in out and "asked by email" in out
    rc, _, err = cli(capsys, "dnc", "remove", "+1555")
    assert rc == 2 and "was not on" in err
    rc, out, _ = cli(capsys, "pause", "late")
    assert rc == 0 and "paused" in out
    rc, out, _ = cli(capsys, "status", "late", "--json")
    data = json.loads(out)
    assert data["campaign"]["status"] == "paused" and data["targets"] == 15 and data["outcomes"] == {"-": 15}
    rc, _, err = cli(capsys, "resume", "nope")
    assert rc == 2 and "no campaign 'nope'" in err
    assert cli(capsys, "stop", "late")[0] == 0
    rc, _, err = cli(capsys, "resume", "late")
    assert rc == 2 and "finished" in err


@pytest.fixture
def desk(settings, tmp_path):
    from .world import PIPELINE

    settings.pipeline = tmp_path / "outbound.yaml"
    settings.pipeline.write_text(PIPELINE)
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    app = create_app(runtime)
    accounts = handoff_service(runtime).accounts
    accounts.add(Agent("sam", "Sam", ("en",)), "sam-password", role="supervisor")
    accounts.add(Agent("ann", "Ann", ("en",)), "ann-password")
    yield app, runtime
    runtime.close()
    runtime.records.close()


def signed_in(app, who: str) -> TestClient:
    c = TestClient(app, headers={"Origin": "http://testserver"})  # as the desk page itself signs in
    r = c.post("/handoff/api/login", json={"id": who, "password": f"{who}-password"})
    assert r.status_code == 200, r.text
    return c


def test_pages_need_the_desk_sign_in_and_a_supervisor_to_act(desk):
    app, runtime = desk
    anon = TestClient(app, headers={"Origin": "http://testserver"})
    assert anon.get("/outbound").status_code == 401
    assert anon.post("/outbound/campaigns", data={"name": "x", "rule": "late_parcel", "days": "2"}).status_code == 401
    ann = signed_in(app, "ann")
    assert ann.get("/outbound").status_code == 200
    r = ann.post("/outbound/campaigns", data={"name": "late", "rule": "late_parcel", "days": "2", "channel": "sip"})
    assert r.status_code == 403 and "supervisor" in r.text
    assert runtime.outbound.store.campaign("late") is None


def test_supervisor_starts_watches_pauses_and_resumes(desk):
    app, runtime = desk
    sam = signed_in(app, "sam")
    form = {"name": "late", "rule": "late_parcel", "days": "2", "channel": "sip"}
    r = sam.post("/outbound/campaigns", data=form, follow_redirects=False)
    assert r.status_code == 303 and "15%20orders%20match" in r.headers["location"]
    r = sam.post("/outbound/campaigns", data=form)
    assert "it existed" in r.text and "0 new" in r.text  # started twice: nobody added twice
    store = runtime.outbound.store
    assert len(store.targets("late")) == 15
    page = sam.get("/outbound/campaigns/late")
    assert page.status_code == 200 and "Outcomes" in page.text and "(not called yet)" in page.text and "Emma Thompson" in page.text
    assert sam.post("/outbound/campaigns/late/pause").status_code == 200
    assert store.campaign("late").status == "paused"
    assert "Resume" in sam.get("/outbound").text
    sam.post("/outbound/campaigns/late/resume")
    assert store.campaign("late").status == "running"
    summary = sam.get("/outbound/campaigns/late/summary.json").json()
    assert summary["targets"] == 15 and summary["campaign"]["status"] == "running" and summary["live"] == []
    r = sam.post("/outbound/campaigns/late/pause", headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and store.campaign("late").status == "running"
    r = sam.post("/outbound/campaigns", data={**form, "rule": "nope"})
    assert "unknown rule" in r.text
    assert sam.get("/outbound/campaigns/nope").status_code == 404


def test_a_pipeline_without_the_builtin_dialogue_is_refused_clearly(settings):
    runtime = Runtime(settings)  # pipelines/minimal.yaml: the minimal dialogue cannot call customers
    runtime.records = Records.open(settings)
    try:
        app = create_app(runtime)
        handoff_service(runtime).accounts.add(Agent("sam", "Sam", ("en",)), "sam-password", role="supervisor")
        r = signed_in(app, "sam").post("/outbound/campaigns", data={"name": "late", "rule": "late_parcel", "days": "2"})
        assert "need the built-in dialogue" in r.text
    finally:
        runtime.close()
        runtime.records.close()
