"""A merchant's agents and their callers, in a real headless Chromium against the whole bot app
(``voicebot.server.create_app``: widget, desk, voicemail, QA pages, records), agents added with
the real ``voicebot agents add`` command. The hand-off's clock is injected (a Saturday, or a
Monday morning): nothing waits on the wall clock to reach a weekend.

- The weekend: María's shift is Mon-Fri 09:00-17:00 in Madrid. The desk says nobody is on shift
  until Monday 09:00; a web caller who asks for a person is told the same and asked for a
  voicemail in web wording (no "hash key"); the log gives the reason.
- A bilingual agent: María (en, es) takes a Spanish caller who typed (microphone denied, the
  widget in Spanish) with no translation in the way; the widget names her; QA shows her lines
  as hers and when she took the call.

Screenshots go to $VOICEBOT_SCREENSHOTS (``docs/screenshots`` refreshes the docs' images).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.pipeline.timeline import timeline
from tests.webrtc.conftest import CHROMIUM, FLAGS, screenshots_dir, serve
from voicebot.audio.pcm import write_wav
from voicebot.channels.webrtc.options import InappOptions

pytestmark = [pytest.mark.peers, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 11:00 in Madrid
STATE = "window.voicebot && window.voicebot.state"


def agents_add(home: Path, *args: str, password: str) -> str:
    """``voicebot agents add ...`` as a merchant runs it (the password on stdin)."""
    env = {**os.environ, "VOICEBOT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "voicebot.cli", "agents", "add", *args, "--password-stdin"], input=password + "\n",
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


@pytest.fixture
def app_server(settings, tmp_path):
    """The whole app on a free port, and a setter for the hand-off's clock."""
    from voicebot.records.service import Records
    from voicebot.runtime import Runtime
    from voicebot.server import create_app

    settings.pipeline = ROOT / "tests" / "handoff" / "handoff_test.yaml"  # the customer-service dialogue
    settings.inapp = InappOptions(secret="test-secret-for-the-shift-tests", demo_tokens=True, ice_addresses=("127.0.0.1",),
                                  media_timeout_s=10.0, connect_timeout_s=15.0)
    settings.handoff.offer_timeout_s = 60.0

    class Server:
        url = ""
        runtime = None

        def start(self, now: datetime) -> Server:
            runtime = Runtime(settings)
            runtime.warm_up(runtime.spec())
            runtime.records = Records.open(settings)
            app = create_app(runtime)
            runtime.handoff.bridge.now = lambda: now  # the injected clock: routing, the desk's shifts, what callers hear
            self.runtime, self._gen = runtime, serve(app)
            self.url, _loop = next(self._gen)
            return self

        @property
        def svc(self):  # type: ignore[no-untyped-def]
            return self.runtime.handoff

        def ticket(self, call_id: str):  # type: ignore[no-untyped-def]
            return self.svc.state._tickets.get(call_id)  # the in-process state of this server

        def stop(self) -> None:
            if self.runtime is None:
                return
            for _ in self._gen:
                pass
            self.runtime.close()
            self.runtime.records.close()

    server = Server()
    yield server
    server.stop()


@pytest.fixture
def chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (it drives the system Chromium)")
    quiet = tmp_path / "quiet.wav"  # a caller who says nothing (they type)
    write_wav(quiet, timeline(60.0), 16000)
    pw = sync_api.sync_playwright().start()

    def launch(*, microphone_allowed: bool = True):  # type: ignore[no-untyped-def]
        flags = [*FLAGS, "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={quiet}%noloop"]
        if microphone_allowed:  # without the fake prompt, headless Chromium denies the microphone
            flags.append("--use-fake-ui-for-media-stream")
        return pw.chromium.launch(executable_path=str(CHROMIUM), args=flags)

    try:
        yield launch
    finally:
        pw.stop()


def sign_in(page, url: str, agent: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/desk")
    page.fill("#agentId", agent)
    page.fill("#password", password)
    page.click("#signIn")
    page.wait_for_selector("#app:not(.hidden)")


def wait_state(page, state: str, timeout_ms: int = 30000) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(f"{STATE} === {state!r}", timeout=timeout_ms)


def captions(page) -> list[dict]:  # type: ignore[no-untyped-def]
    return page.evaluate("JSON.parse(JSON.stringify(window.voicebot.stats.captions))")


def test_weekend_handoff_says_nobody_is_on_shift_and_until_when(app_server, chromium, settings, tmp_path, caplog) -> None:
    shots = screenshots_dir(tmp_path)
    out = agents_add(settings.home, "maria", "--name", "María", "--languages", "en,es", "--hours", "mon-fri 09:00-17:00",
                     "--timezone", "Europe/Madrid", "--skills", "returns", password="maria-password")
    assert "Mon-Fri 09:00-17:00 (Europe/Madrid)" in out
    caplog.set_level(logging.INFO, logger="voicebot.handoff.bridge")
    bot = app_server.start(SATURDAY)
    browser = chromium()

    desk = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, bot.url, "maria", "maria-password")  # "available", but it is Saturday
    banner = desk.locator("#coverage .q.closed[data-queue=en]")
    banner.wait_for()
    assert "Nobody on shift for queue en — next on shift on Monday at 09:00 (Europe/Madrid)." in banner.inner_text()
    assert "web chats stay with the bot" in banner.inner_text()
    mine = desk.locator("#shifts tr[data-agent=maria] .shift")
    assert mine.inner_text() == "Off shift — next shift on Monday at 09:00 (Europe/Madrid)"
    desk.screenshot(path=str(shots / "desk-off-shift.png"), full_page=True)

    page = browser.new_page(viewport={"width": 820, "height": 760})
    page.goto(f"{bot.url}/?name=Alex&lang=en&transport=webrtc")
    page.click(".vbw-btn")
    wait_state(page, "listening", 30000)
    page.fill(".vbw-form input", "I want to talk to a person")
    page.click(".vbw-form button")
    wait_state(page, "no_agent", 30000)
    note = page.locator(".vbw-note").inner_text()
    assert page.evaluate("window.voicebot.stats.transport") == "webrtc"  # typed into the voice call, not a new chat
    assert "Our team is back" in note and "Monday" in note and "leave a message after the tone" in note, note
    assert "Connecting you to a colleague" not in page.locator(".vbw-state").inner_text()
    page.wait_for_function("window.voicebot.stats.captions.some(c => c.text.includes('press End call'))", timeout=30000)
    said = " ".join(c["text"] for c in captions(page) if c["who"] == "bot")
    assert "hash" not in said.lower() and "keypad" not in said.lower(), said
    assert page.evaluate("window.voicebot.state") == "no_agent"  # the bot speaking the prompt does not hide it
    page.locator(".vbw").screenshot(path=str(shots / "widget-no-agent.png"))

    call_id = page.evaluate("window.voicebot.stats.callId")
    ticket = bot.ticket(call_id)
    assert ticket.state == "voicemail" and ticket.next_open == "2026-11-30T09:00+01:00"
    why = [r for r in caplog.records if r.name == "voicebot.handoff.bridge" and getattr(r, "call_id", None) == call_id]
    assert why and why[0].getMessage() == "no agent on shift for queue en until 2026-11-30T09:00+01:00: voicemail instead"
    assert why[0].next_open == "2026-11-30T09:00+01:00" and why[0].queue == "en"
    page.click(".vbw-btn")  # the caller hangs up without a message
    wait_state(page, "ended")
    deadline = time.monotonic() + 20
    while (call := bot.runtime.records.store.get_call(call_id)) is None or call.ended_at is None:
        assert time.monotonic() < deadline, "the call record was not closed"
        time.sleep(0.05)
    steps = [(a.kind, a.name, a.data.get("instead")) for a in bot.runtime.records.store.actions(call_id)]
    assert ("handoff", "no_agent", "voicemail") in steps
    assert call.outcome == "abandoned"  # nobody took it and no message was left: not "handed off"

    # María takes Saturdays from now on: she edits her own shift on the desk, and the desk agrees
    row = desk.locator("#shifts tr[data-agent=maria]")
    row.locator("input[name=hours]").fill("mon-sat 09:00-17:00")
    row.locator("button").click()
    desk.wait_for_selector("#shifts tr[data-agent=maria] .shift.on")
    assert desk.locator("#shifts tr[data-agent=maria] .shift").inner_text() == "On shift now, until today at 17:00 (Europe/Madrid)"
    desk.locator("#coverage .q.open[data-queue=en]").wait_for()
    assert bot.svc.accounts.get("maria").agent.hours == "mon-sat 09:00-17:00"
    desk.screenshot(path=str(shots / "desk-shift-edited.png"), full_page=True)
    browser.close()


def test_bilingual_agent_takes_a_typed_spanish_call_without_translation(app_server, chromium, settings, tmp_path) -> None:
    shots = screenshots_dir(tmp_path)
    agents_add(settings.home, "maria", "--name", "María", "--languages", "en,es", "--hours", "mon-fri 09:00-17:00",
               "--timezone", "Europe/Madrid", password="maria-password")
    agents_add(settings.home, "lead", "--name", "Lee", "--languages", "en", "--supervisor", password="lead-password")
    bot = app_server.start(MONDAY)
    agent_browser, caller_browser = chromium(), chromium(microphone_allowed=False)

    desk = agent_browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, bot.url, "maria", "maria-password")
    desk.locator("#coverage .q.open[data-queue=es]").wait_for()

    page = caller_browser.new_context(permissions=[], viewport={"width": 820, "height": 760}).new_page()
    page.goto(f"{bot.url}/?name=Alex&lang=es&transport=webrtc")
    assert page.locator(".vbw-form input").get_attribute("placeholder") == "Escriba su mensaje…"
    page.click(".vbw-btn")  # a voice call: the microphone is denied
    wait_state(page, "error", 15000)
    message = page.locator(".vbw-msg").inner_text()
    assert "Se ha denegado el acceso al micrófono" in message and "Puede escribir su consulta abajo" in message, message
    assert page.locator(".vbw-form input").is_enabled()
    page.locator(".vbw").screenshot(path=str(shots / "widget-es-mic-denied.png"))

    page.fill(".vbw-form input", "¿dónde está mi pedido?")  # typing starts a chat, no microphone needed
    page.click(".vbw-form button")
    page.wait_for_function("window.voicebot.stats.captions.filter(c => c.who === 'bot').length >= 2", timeout=30000)
    asked = captions(page)[-1]["text"]
    assert "escribirlo en el cuadro de abajo" in asked and "teclado" not in asked, asked  # web wording, in Spanish
    assert page.evaluate("window.voicebot.stats.transport") == "text"
    page.fill(".vbw-form input", "quiero hablar con una persona")
    page.click(".vbw-form button")
    call_id = page.evaluate("window.voicebot.stats.callId")

    desk.wait_for_selector(".call.offered", timeout=30000)
    desk.wait_for_selector("#card dd", timeout=10000)
    card = desk.inner_text("#card")
    assert "es (you speak it: no translation)" in card and "→" not in card
    desk.click("#accept")
    wait_state(page, "agent", 30000)
    assert page.locator(".vbw-state").inner_text().strip() == "Conectado con María"
    desk.fill("#reply", "Hola, soy María. ¿Me dice su número de pedido?")
    desk.click("#send")
    page.wait_for_selector(".vbw-cap.agent", timeout=30000)
    assert page.locator(".vbw-cap.agent b").first.inner_text() == "María"
    assert "Asistente" not in page.locator(".vbw-cap.agent").first.inner_text()
    page.fill(".vbw-form input", "es el 45712")
    page.click(".vbw-form button")
    desk.wait_for_selector(".line.caller >> text=es el 45712", timeout=15000)
    transcript = desk.inner_text("#transcript")
    assert "not translated" not in transcript and "María" in transcript
    assert desk.locator("#notices .notice").count() == 0  # nothing to warn about: she speaks the caller's language
    ticket = bot.ticket(call_id)
    assert ticket.state == "bridged" and not ticket.translated and ticket.agent_name == "María"
    assert all(line.get("note") is None for line in ticket.transcript), ticket.transcript
    page.locator(".vbw").screenshot(path=str(shots / "widget-es-agent.png"))
    desk.screenshot(path=str(shots / "desk-bilingual.png"), full_page=True)
    desk.click("#endCall")
    wait_state(page, "ended", 20000)

    # QA: the supervisor is sent to sign in, comes back, and reads who took the call and when
    deadline = time.monotonic() + 20
    while (call := bot.runtime.records.store.get_call(call_id)) is None or call.ended_at is None:
        assert time.monotonic() < deadline, "the call record was not closed"
        time.sleep(0.05)
    steps = [a.name for a in bot.runtime.records.store.actions(call_id) if a.kind == "handoff"]
    assert steps == ["queued", "offered", "accepted", "bridged", "ended"], steps
    qa = agent_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    qa.goto(f"{bot.url}/qa?q=45712")
    qa.wait_for_url("**/desk?next=**")
    qa.fill("#agentId", "lead")
    qa.fill("#password", "lead-password")
    qa.click("#signIn")
    qa.wait_for_url("**/qa?q=45712")
    row = qa.locator(f"#calls tr[data-call='{call_id}']")
    assert row.locator(".agent-cell").inner_text() == "María" and "handed off" in row.inner_text()
    row.locator("a").first.click()
    qa.wait_for_selector("#handoff")
    assert "Taken by María (maria)" in qa.inner_text("#handoff") and "Call ended by María" in qa.inner_text("#handoff")
    assert qa.locator("[data-speaker=agent] .speaker").first.inner_text() == "María (agent):"
    assert qa.locator("form.mark input[type=checkbox]").count() == 0
    qa.screenshot(path=str(shots / "qa-call-agent.png"), full_page=True)
    agent_browser.close()
    caller_browser.close()
