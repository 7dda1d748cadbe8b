"""The QA and analytics pages in a real headless Chromium (Playwright driving /usr/lib/chromium),
behind the real agent desk's sign-in (a supervisor account).

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
from fastapi import FastAPI

from voicebot.records.store import open_store

from .seed import seed

CHROMIUM = Path("/usr/lib/chromium/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
         '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']  # fmt: skip

pytestmark = pytest.mark.peers


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The QA pages behind the real agent desk's sign-in (a supervisor account), over a seeded store."""
    from types import SimpleNamespace

    from voicebot.config import Settings
    from voicebot.handoff.routes import make_router as desk_router
    from voicebot.handoff.routes import require_user, service_for
    from voicebot.handoff.routing import Agent
    from voicebot.records.routes import make_router as qa_router

    uvicorn = pytest.importorskip("uvicorn")
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    asyncio.run(seed(store, tmp_path / "rec", time.time()))
    runtime = SimpleNamespace(settings=Settings(home=tmp_path), store=store, require_user=require_user, handoff=None)
    service_for(runtime).accounts.add(Agent("qa-lead", "Quinn", ("en",)), "qa-lead-password", role="supervisor")
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(desk_router(runtime))
    app.include_router(qa_router(runtime))
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
    runtime.handoff.accounts.close()
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


def rows(page) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(page.locator("#calls tbody tr[data-call]").evaluate_all("rows => rows.map(r => r.dataset.call)"))


def test_qa_and_analytics_pages_in_chromium(server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shots = Path(os.environ.get("VOICEBOT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()

    # no desk session: the sign-in page (not a JSON refusal), then back to the page asked for
    page.goto(f"{server}/qa?language=de")
    page.wait_for_url("**/desk?next=%2Fqa%3Flanguage%3Dde")
    assert page.locator("#loginError").inner_text() == "Sign in to see the QA pages."
    page.fill("#agentId", "qa-lead")
    page.fill("#password", "qa-lead-password")
    page.click("#signIn")
    page.wait_for_url("**/qa?language=de")
    assert rows(page) == ["de-1", "de-2"]

    # list, search, filter with the form
    page.goto(f"{server}/qa")
    assert len(rows(page)) == 10
    page.screenshot(path=str(shots / "qa-calls.png"), full_page=True)
    page.fill("input[name=q]", "45712")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=45712**")
    assert rows(page) == ["en-1", "es-1", "es-3"]  # said by the caller, or the order the bot looked up
    assert page.locator("tr[data-call=es-3] .agent-cell").inner_text() == "María"
    page.goto(f"{server}/qa")
    page.select_option("select[name=outcome]", "abandoned")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**outcome=abandoned**")
    assert "es-4" in rows(page) and "left the queue" in page.locator("tr[data-call=es-4]").inner_text()

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

    # nothing is marked in advance: the reviewer says wrong or right, with a note
    assert page.locator("form.mark input[type=checkbox]").count() == 0 and page.locator(".annotation").count() == 0
    form = page.locator("#turn-2 form.mark")
    form.locator("input[name=note]").fill("should have sent the customs form link")
    form.locator("button.mark-wrong").click()
    page.wait_for_selector("#turn-2.wrong .annotation")
    assert "should have sent the customs form link" in page.locator("#turn-2 .annotation").inner_text()
    assert "qa-lead" in page.locator("#turn-2 .annotation").inner_text()
    page.locator("#turn-1 form.mark input[name=note]").fill("good: asked for the order number")
    page.locator("#turn-1 form.mark button.mark-ok").click()
    page.wait_for_selector("#turn-1 .annotation.ok")
    assert page.locator("#turn-1.wrong").count() == 0
    assert "{" not in page.locator("#actions").inner_text()  # actions in words, not JSON
    page.screenshot(path=str(shots / "qa-call.png"), full_page=True)

    # export as a scenario
    with page.expect_download() as dl:
        page.click("#export")
    data = Path(dl.value.path()).read_bytes()
    assert "call-es-1/scenario.yaml" in zipfile.ZipFile(io.BytesIO(data)).namelist()

    # analytics: every chart drawn with data; a bar opens the calls behind it
    page.goto(f"{server}/qa/analytics")
    for chart in ("calls-per-day", "resolution-per-day", "handoff-reasons", "top-intents", "interruptions"):
        assert page.locator(f"#{chart} rect[data-value]").count() > 0, chart
    assert page.locator("#latency g[data-stage]").count() == 4
    assert page.locator("#languages tbody tr").count() == 4  # de, en, es, fr
    assert "handoff" not in page.locator("#top-intents").text_content()
    page.screenshot(path=str(shots / "qa-analytics.png"), full_page=True)
    page.locator("#handoff-reasons a.drill rect[data-label='caller asked']").click()
    page.wait_for_url("**handoff_reason=caller_asked**")
    assert rows(page) == ["de-2", "es-1", "es-3", "es-4"]
    page.goto(f"{server}/qa/analytics")
    page.locator("#top-intents a.drill rect[data-label='cancel order']").click()
    page.wait_for_url("**intent=cancel_order**")
    assert rows(page) == ["fr-1"]

    # the call María took: her lines as hers, when she took it
    page.goto(f"{server}/qa/calls/es-3")
    assert "Taken by María (maria)" in page.inner_text("#handoff")
    assert page.locator("[data-speaker=agent] .speaker").inner_text() == "María (agent):"
    ctx.close()
