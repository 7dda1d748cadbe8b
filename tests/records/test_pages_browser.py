"""The QA and analytics pages in a real headless Chromium (Playwright driving /usr/lib/chromium).

Screenshots go to $VOICEBOT_SCREENSHOTS when set (``docs/screenshots`` to refresh the ones in
the docs), else to the test's temp dir.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, Request

from voicebot.records.routes import make_qa_router
from voicebot.records.store import open_store

from .seed import seed

CHROMIUM = Path("/usr/lib/chromium/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
         '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']  # fmt: skip

pytestmark = pytest.mark.peers


def desk_user(request: Request) -> dict:
    who = request.cookies.get("desk")
    if not who:
        raise HTTPException(401, "sign in to the agent desk")
    return {"name": who, "role": "supervisor"}  # the QA lead reads every call


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn")
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    asyncio.run(seed(store, tmp_path / "rec", time.time()))
    app = FastAPI()
    app.include_router(make_qa_router(store, desk_user))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (it drives the system Chromium)")
    pw = sync_api.sync_playwright().start()
    b = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def test_qa_and_analytics_pages_in_chromium(server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shots = Path(os.environ.get("VOICEBOT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()

    assert page.goto(f"{server}/qa").status == 401  # no desk session: nothing shown
    ctx.add_cookies([{"name": "desk", "value": "qa-lead", "url": server}])

    # list, then filter with the form
    assert page.goto(f"{server}/qa").status == 200
    assert page.locator("#calls tbody tr[data-call]").count() == 8
    page.screenshot(path=str(shots / "qa-calls.png"), full_page=True)
    page.select_option("select[name=language]", "de")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**language=de**")
    assert sorted(page.locator("#calls tbody tr[data-call]").evaluate_all("rows => rows.map(r => r.dataset.call)")) == ["de-1", "de-2"]

    # open the recorded Spanish call: the player loads the stereo WAV, the timeline seeks it
    page.goto(f"{server}/qa")
    page.click("a[href='/qa/calls/es-1']")
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10_000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert 15 < duration < 30
    seg = page.locator("#timeline rect.seg").nth(2)
    target_ms = float(seg.get_attribute("data-ms"))
    seg.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {target_ms / 1000}) < 0.5", timeout=10_000)

    # mark turn 2 wrong with a note
    form = page.locator("#turn-2 form.mark")
    form.locator("input[name=note]").fill("should have sent the customs form link")
    form.locator("button").click()
    page.wait_for_selector("#turn-2.wrong .annotation")
    assert "should have sent the customs form link" in page.locator("#turn-2 .annotation").inner_text()
    assert "qa-lead" in page.locator("#turn-2 .annotation").inner_text()
    page.screenshot(path=str(shots / "qa-call.png"), full_page=True)

    # export as a scenario
    with page.expect_download() as dl:
        page.click("#export")
    data = Path(dl.value.path()).read_bytes()
    assert "call-es-1/scenario.yaml" in zipfile.ZipFile(io.BytesIO(data)).namelist()

    # analytics: every chart drawn with data
    page.goto(f"{server}/qa/analytics")
    for chart in ("calls-per-day", "resolution-per-day", "handoff-reasons", "top-intents", "interruptions"):
        assert page.locator(f"#{chart} rect[data-value]").count() > 0, chart
    assert page.locator("#latency g[data-stage]").count() == 4
    assert page.locator("#languages tbody tr").count() == 4  # de, en, es, fr
    page.screenshot(path=str(shots / "qa-analytics.png"), full_page=True)
    ctx.close()
