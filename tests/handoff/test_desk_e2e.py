"""End to end: a Spanish caller over the Twilio protocol asks for a person; agents in the desk.

Real parts: uvicorn with the Twilio routes and the desk, the call pipeline (webrtcvad turns,
builtin dialogue, espeak TTS), the Twilio protocol client sending real Spanish speech at real
time, headless Chromium (Playwright) as the agent's desk. The transcriber is an ORACLE (the
dev Whisper model has random weights): it returns the scripted words for each real-audio turn.
Figures printed: caller's request -> call on the desk, accept -> caller hears the agent link.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest
from fastapi import FastAPI

from tests.handoff.servers import serving
from tests.pipeline.timeline import OracleTranscriber, speech
from tests.twilio.conftest import fake_api  # noqa: F401 - fixture: Twilio's REST API stand-in
from tests.twilio.test_pipeline_call import open_call
from tests.webrtc.conftest import screenshots_dir
from voicebot.audio.g711 import ulaw_encode
from voicebot.audio.pcm import resample
from voicebot.channels.twilio.routes import make_router as twilio_router
from voicebot.handoff import channel_twilio
from voicebot.handoff.routes import HandoffOptions, make_router, service_for
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"
ORACLE = OracleTranscriber([], language="es")  # the scripted words of each caller turn (shared by the calls)
ALL_DAY = dict(hours=(0, 24), days=(0, 1, 2, 3, 4, 5, 6))


def caller_clip(seconds: float) -> bytes:
    pcm16k = speech("es/silero_es.wav", seconds)
    return ulaw_encode(resample(pcm16k, 16000, 8000).astype("<i2").tobytes())


async def wait(pred, timeout=30.0):
    async def _w():
        while not pred():
            await asyncio.sleep(0.02)  # polling server state in a real-time test, bounded
    await asyncio.wait_for(_w(), timeout)


@pytest.fixture
async def server(settings, fake_api):  # noqa: F811
    base, api_requests = fake_api
    settings.pipeline = Path(__file__).with_name("handoff_test.yaml")
    settings.dialogue = {"greetings": {"en": "Hello, how can I help?"}, "order_store": "demo"}
    settings.server.public_host = "voice.example.test"
    settings.twilio.account_sid, settings.twilio.auth_token, settings.twilio.api_base_url = "AC123", "tok", base
    runtime = Runtime(settings)
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=8.0))
    svc.accounts.add(Agent("ana", "Ana", ("es",), timezone="Europe/Madrid", **ALL_DAY), "ana-password")
    svc.accounts.add(Agent("maria", "María", ("es", "en"), timezone="Europe/Madrid", **ALL_DAY), "maria-password")
    ORACLE.calls.clear()
    ORACLE.texts[:] = ["¿Dónde está mi pedido 55712?", "quiero hablar con una persona"]
    oracle = ORACLE
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(twilio_router(runtime, call_factory=channel_twilio.call_factory(runtime, svc.bridge, transcriber=oracle)))
    app.include_router(make_router(runtime))
    async with serving(app) as addr:
        yield addr, svc, api_requests
    await svc.bridge.stop()
    runtime.close()


@pytest.fixture
async def browser(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    pw_api = pytest.importorskip("playwright.async_api")
    async with pw_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'])
        yield b
        await b.close()


async def sign_in_http(host: str, agent: str, password: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession(headers={"Origin": f"http://{host}"}) as s:
        async with s.post(f"http://{host}/handoff/api/login", json={"id": agent, "password": password}) as r:
            assert r.status == 200


async def test_spanish_caller_reaches_spanish_agent_on_the_desk(server, browser, tmp_path):
    host, svc, api_requests = server
    state = svc.state
    # Ana signs in but never answers; María uses the desk in Chromium.
    await sign_in_http(host, "ana", "ana-password")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 860})).new_page()
    await page.goto(f"http://{host}/desk")
    await page.fill("#agentId", "maria")
    await page.fill("#password", "maria-password")
    await page.click("#signIn")
    await page.wait_for_selector("#app:not(.hidden)")
    shots = screenshots_dir(tmp_path)  # $VOICEBOT_SCREENSHOTS=docs/screenshots refreshes the docs' images

    client, caller = await open_call(f"ws://{host}/twilio/stream", "CAes1")
    try:
        await wait(lambda: len(client.received.marks) >= 1, 60)  # greeting heard
        caller.say(caller_clip(2.0))
        await wait(lambda: svc.bridge.handles == {} and len(client.received.marks) >= 2, 60)  # the order reply
        first = caller.say(caller_clip(1.6))
        n_frames = len(caller_clip(1.6)) // 160
        await wait(lambda: "CAes1" in svc.bridge.marks, 60)
        t_request_end = caller.sent_at[first + n_frames - 1]
        # the desk shows the call (queued for all Spanish agents, offered to Ana first)
        await page.wait_for_selector(".call", timeout=30000)
        t_desk = asyncio.get_running_loop().time()
        t = await state.get_ticket("CAes1")
        assert t.language == "es" and t.context["orders"] == ["55712"]
        # Ana's offer times out -> offered to María: her desk opens the card
        await page.wait_for_selector(".call.offered", timeout=20000)
        await page.wait_for_selector("#card dd", timeout=10000)
        card_text = await page.inner_text("#callBody")
        assert "55712" in card_text and "quiero hablar con una persona" in card_text
        t = await state.get_ticket("CAes1")
        assert [h["what"] for h in t.history].count("offer_timeout") == 1
        await page.screenshot(path=str(shots / "desk-offered.png"))

        loop = asyncio.get_running_loop()
        await wait(lambda: loop.time() - client.received.media_times[-1] > 0.4, 30)  # the "trying someone else" line is over
        media_before = len(client.received.media)
        t_accept = loop.time()
        await page.click("#accept")
        out = svc.bridge.handles["CAes1"].output
        try:
            await wait(lambda: len(client.received.media) > media_before + 5, 30)  # the caller hears "conectado con María"
        except TimeoutError:
            print("DEBUG", [(e.kind, e.data) for e in out.state.events.events if e.kind in ("bot_speech_start", "bot_speech_stop", "error", "action")][-12:])
            raise
        t_bridged = next(x for x in client.received.media_times[media_before:] if x > t_accept)
        t = await state.get_ticket("CAes1")
        assert t.state == "bridged" and t.agent_id == "maria" and t.mode == "relay"
        # María types; the bot speaks it to the caller
        await wait(lambda: loop.time() - client.received.media_times[-1] > 0.4, 30)
        media_before = len(client.received.media)
        await page.fill("#reply", "Un momento por favor, estoy revisando su pedido.")
        await page.click("#send")
        await page.wait_for_selector(".line.agent", timeout=10000)
        await wait(lambda: len(client.received.media) > media_before + 25, 30)  # >= 0.5 s of the agent's words
        await page.screenshot(path=str(shots / "desk-bridged.png"))
        print(f"\nHANDOFF FIGURES: caller's request (end of speech) -> call on desk {t_desk - t_request_end:.2f} s; "
              f"bridge request -> desk {svc.bridge.timings('CAes1')}; accept click -> first bridged audio {t_bridged - t_accept:.2f} s")
    finally:
        await caller.stop()
    await client.send_stop()
    await wait(lambda: _ticket_state(svc, "CAes1") == "ended", 15)  # the caller hung up on the agent

    # A second Spanish caller while María is busy and Ana away: queued with a wait, then hangs up.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as http:  # unsafe: cookies for an IP host
        async with http.post(f"http://{host}/handoff/api/login", json={"id": "ana", "password": "ana-password"}) as r:
            assert r.status == 200
        async with http.post(f"http://{host}/handoff/api/status", json={"status": "away"}) as r:
            assert r.status == 200
    await state.change_load("maria", +1)  # María still on the first call's wrap-up
    client2, caller2 = await open_call(f"ws://{host}/twilio/stream", "CAes2")
    try:
        await wait(lambda: len(client2.received.marks) >= 1, 60)
        svc_oracle_reset(svc)
        caller2.say(caller_clip(1.6))
        await wait(lambda: _ticket_state(svc, "CAes2") == "queued", 60)
        await page.wait_for_selector("text=queued", timeout=10000)
        t = await state.get_ticket("CAes2")
        assert t.wait_s and t.wait_s > 0
        await page.screenshot(path=str(shots / "desk-queued.png"))
    finally:
        await caller2.stop()
    await client2.send_stop()  # the caller hangs up while queued
    await wait(lambda: _ticket_state(svc, "CAes2") == "abandoned", 15)
    await page.wait_for_selector("text=queued", state="detached", timeout=10000)  # gone from María's queue


def svc_oracle_reset(svc):
    ORACLE.calls.clear()
    ORACLE.texts[:] = ["quiero hablar con una persona"]


def _ticket_state(svc, call_id):
    t = svc.state._tickets.get(call_id)  # the in-process state of this server
    return t.state if t else None
