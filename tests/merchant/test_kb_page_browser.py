"""The knowledge-base page in a real headless Chromium (Playwright driving /usr/lib/chromium), on the real app.

A supervisor signs in on the agent desk, opens /shop/kb, changes the return window, sees a
refused edit explained, and the running dialogue engine serves the change to the next call.
Screenshots go to $VOICEBOT_SCREENSHOTS when set (``docs/screenshots`` to refresh the ones in the
docs), else to the test's temp dir.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from voicebot.config import Settings
from voicebot.dialogue.api import CallContext, CallerTurn
from voicebot.dialogue.orders.seed import sample_data
from voicebot.handoff.auth import Accounts
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime
from voicebot.server import create_app

CHROMIUM = Path("/usr/lib/chromium/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--mute-audio",
         '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']  # fmt: skip

pytestmark = pytest.mark.peers


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    uvicorn = pytest.importorskip("uvicorn")
    settings = Settings(home=tmp_path, shop={"name": "Nordwind", "languages": ["en", "es"]}, dialogue={"order_store": "demo"})
    accounts = Accounts(tmp_path / "handoff.sqlite3")
    accounts.add(Agent("sara", "Sara", ("en", "es")), "sara-password", role="supervisor")
    accounts.close()
    runtime = Runtime(settings)
    engine = runtime.dialogue(runtime.spec())
    app = create_app(runtime)
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
    yield f"http://127.0.0.1:{port}", engine
    srv.should_exit = True
    thread.join(10)
    runtime.close()


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
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


def test_a_supervisor_edits_the_return_window_and_the_next_call_hears_it(bot, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, engine = bot
    shots = Path(os.environ.get("VOICEBOT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    refused = page.goto(f"{url}/shop/kb")
    assert refused.status == 401 and "Sign in as a supervisor" in page.inner_text("body")
    page.click("a[href='/desk']")  # the desk's own sign-in
    page.fill("#agentId", "sara")
    page.fill("#password", "sara-password")
    page.click("#signIn")
    page.wait_for_selector("#app:not(.hidden)")
    page.goto(f"{url}/shop/kb")
    page.wait_for_selector("#entries tr[data-id='return_window']")
    assert page.inner_text("#shop") == "Nordwind" and page.inner_text("#languages") == "en, es"

    page.fill("#search", "return")
    page.click("#entries tr[data-id='return_window']")
    days = page.locator("#values tr", has=page.locator("input.vkey[value='days']")).locator("input.vval")
    assert days.input_value() == "30"
    days.fill("45")
    en = page.locator("fieldset[data-lang='en'] textarea[name='text']")
    en.fill("Nordwind takes items back within {days} days. The prepaid label comes within {label_hours} hours; "
            "post the parcel within {dropoff_days} days.")
    page.click("#save")
    page.wait_for_function("document.getElementById('saved').textContent.includes('new calls use it now')")
    assert page.locator("#entries tr[data-id='return_window'] .badge").inner_text() == "shop"
    page.screenshot(path=str(shots / "kb-editor.png"), full_page=True)

    # an edit that would leave Spanish callers without an answer is refused, with the reason
    page.locator("fieldset[data-lang='es'] textarea[name='text']").fill("")
    page.click("#save")
    page.wait_for_selector("#problems li")
    assert "return_window: `text` missing language(s): es" in page.inner_text("#problems")
    page.screenshot(path=str(shots / "kb-editor-refused.png"), full_page=True)

    # the running engine serves the saved version to the next call, in English and Spanish
    assert engine.kb.value("return_window", "days") == 45
    assert engine.kb.say("return_window", "en").startswith("Nordwind takes items back within 45 days.")
    assert "45" in engine.kb.say("return_window", "es")
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        assert "Nordwind takes items back within 45 days." in pool.submit(asyncio.run, a_return_call(engine)).result(timeout=60)


async def a_return_call(engine: Any) -> str:
    """A known caller returns a delivered order: the bot's answer quotes the return window (real NLU, demo store)."""
    d = sample_data(date.today())
    caller = d.customer_for_language("en")
    order = d.order_of(caller.id, "delivered")
    session = engine.new_session(CallContext("after-edit", channel="text", caller_number=caller.phone, language="en"))
    await session.respond(CallerTurn(f"I want to return order {order.id}", "en"))
    return (await session.respond(CallerTurn("yes please", "en"))).text
