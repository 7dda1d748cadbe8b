"""End to end: the agent talks to an in-app caller by voice from the desk (Talk, WebRTC both ways).

Real parts: uvicorn with the in-app and desk routes, the call pipeline (minimal dialogue, espeak
voice, dev whisper-tiny), the hand-off bridge, aiortc on the server, and two headless Chromium:
the caller (the widget over WebRTC; its fake microphone plays a real English recording that
starts speaking at 25 s) and the agent (the desk; its fake microphone loops another recording).

Checked: the caller's speech reaches the agent's page (WebAudio analyser on the received track,
getStats bytesReceived); the agent's speech reaches the caller's transport (server side: loud
frames handed to the call's output) and the caller's page (its analyser); Mute silences the
agent; ending the call closes the agent's peer connection and leaves no task running.
Figure printed: Talk pressed -> first caller audio at the agent (ms, measured in the agent's page).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from fastapi import FastAPI

from tests.handoff.servers import serving
from tests.pipeline.timeline import speech, timeline
from tests.webrtc.conftest import screenshots_dir
from voicebot.audio.pcm import write_wav
from voicebot.core import ContextPacket
from voicebot.channels.webrtc.routes import make_router as inapp_router
from voicebot.channels.webrtc.service import InappOptions
from voicebot.handoff.routes import HandoffOptions, make_router, service_for
from voicebot.handoff.relay import RELAY_TURN_BASE
from voicebot.handoff.routing import Agent
from voicebot.handoff.state import Ticket
from voicebot.runtime import Runtime

pytestmark = [pytest.mark.slow, pytest.mark.peers]
CHROMIUM = "/usr/lib/chromium/chromium"
SECRET = "test-secret-for-the-desk-voice"
ALL_DAY = {"hours": (0, 24), "days": (0, 1, 2, 3, 4, 5, 6)}
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
         "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--use-fake-device-for-media-stream"]  # fmt: skip
CALLER_SPEAKS_AT_S = 25.0


async def wait(pred, timeout=30.0):
    async def _w():
        while not pred():
            await asyncio.sleep(0.02)  # polling state in a real-time test, bounded
    await asyncio.wait_for(_w(), timeout)


def loud(pcm: bytes) -> bool:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return len(x) > 0 and float(np.sqrt(np.mean(x * x))) > 300


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> tuple[Path, Path]:
    """The caller: quiet until 25 s (greeting, typed request, hand-off), then speaking with short
    pauses until 180 s. The agent: speaking with short pauses, looped by Chromium."""
    d = tmp_path_factory.mktemp("voices")
    caller_clip, agent_clip = speech("en/sb_timit_spk1_snt1.wav"), speech("en/jfk.flac")
    step = len(caller_clip) / 16000 + 0.3
    caller = timeline(180.0, *[(CALLER_SPEAKS_AT_S + i * step, caller_clip) for i in range(int((180 - CALLER_SPEAKS_AT_S) / step))])
    step = len(agent_clip) / 16000 + 0.2
    agent = timeline(step * 6, *[(i * step, agent_clip) for i in range(6)])
    write_wav(d / "caller.wav", caller, 16000)
    write_wav(d / "agent.wav", agent, 16000)
    return d / "caller.wav", d / "agent.wav"


@pytest.fixture
async def server(settings):
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=30.0, talk_ice_addresses=("127.0.0.1",), talk_media_timeout_s=5.0))
    svc.accounts.add(Agent("ann", "Ann", ("en",), **ALL_DAY), "ann-password")
    svc.accounts.add(Agent("jorge", "Jorge", ("es", "en"), **ALL_DAY), "jorge-password")
    inapp = inapp_router(runtime, options=InappOptions(secret=SECRET, demo_tokens=True, ice_addresses=("127.0.0.1",),
                                                       media_timeout_s=10.0, connect_timeout_s=15.0))
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(inapp)
    app.include_router(make_router(runtime))
    async with serving(app) as addr:
        yield addr, svc, inapp.inapp_live
        await svc.media.stop()
    await svc.bridge.stop()
    runtime.close()


@pytest.fixture
async def launch():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    pw_api = pytest.importorskip("playwright.async_api")
    browsers = []
    async with pw_api.async_playwright() as pw:
        async def start(wav: Path, loop: bool, allow_microphone: bool = True):
            # without --use-fake-ui-for-media-stream headless Chromium dismisses the permission prompt: denied
            b = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                *FLAGS, f"--use-file-for-fake-audio-capture={wav}{'' if loop else '%noloop'}",
                *(["--use-fake-ui-for-media-stream"] if allow_microphone else [])])
            browsers.append(b)
            return b

        yield start
        for b in browsers:  # a killed browser may not answer: bounded
            with contextlib.suppress(Exception):
                await asyncio.wait_for(b.close(), 10)


def dialogue_speech(call) -> int:
    """Bot speech of the dialogue itself (not the bridge's lines nor the agent's typed replies)."""
    return sum(1 for e in call.state.events.events if e.kind == "bot_speech_start" and e.data.get("turn_id", 0) < RELAY_TURN_BASE)


def agent_media_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("agent-media") and not t.done()]


@pytest.mark.parametrize("ending", ["agent_ends_call", "agent_browser_dies"])
async def test_agent_talks_to_an_inapp_caller_from_the_desk(server, launch, voices, ending, tmp_path):
    host, svc, live = server
    caller_wav, agent_wav = voices
    loop = asyncio.get_running_loop()

    # The agent signs in to the desk in Chromium.
    agent_browser = await launch(agent_wav, loop=True)
    desk = await (await agent_browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await desk.goto(f"http://{host}/desk")
    await desk.fill("#agentId", "ann")
    await desk.fill("#password", "ann-password")
    await desk.click("#signIn")
    await desk.wait_for_selector("#app:not(.hidden)")

    # The caller starts an in-app voice call (WebRTC) and types that they want a person.
    caller_browser = await launch(caller_wav, loop=False)
    page = await caller_browser.new_page()
    await page.goto(f"http://{host}/?name=Sam&lang=en&transport=webrtc")
    await page.wait_for_function("window.voicebot && window.voicebot.state === 'idle'")
    await page.click(".vbw-btn")
    await page.wait_for_function("window.voicebot.state === 'listening' && window.voicebot.stats.botVoicedMs > 1000", timeout=60000)
    call_id = await page.evaluate("window.voicebot.stats.callId")
    await page.fill(".vbw-form input", "I want to talk to an agent please")
    await page.click(".vbw-form button")
    await page.wait_for_function("window.voicebot.state === 'transferred'", timeout=30000)

    # Offered to Ann: she accepts; the bot links them (relay), Talk becomes available.
    await desk.wait_for_selector(".call.offered", timeout=30000)
    await desk.wait_for_selector("#accept:not([disabled])", timeout=10000)
    await desk.click("#accept")
    await wait(lambda: svc.state._tickets[call_id].state == "bridged", 30)
    await desk.wait_for_selector("#talk:not([disabled])", timeout=10000)
    call = live.calls[call_id].call
    heard: list[tuple[float, bool]] = []  # the caller's audio as the server receives it
    call.caller_audio_taps.append(lambda pcm: heard.append((loop.time(), loud(pcm))))
    await wait(lambda: sum(1 for _, x in heard[-50:] if x) > 10, 60)  # the caller is speaking now

    # Ann presses Talk.
    dialogue_before = dialogue_speech(call)
    await desk.click("#talk")
    await desk.wait_for_function("window.deskTalk.state === 'talking'", timeout=20000)
    leg = svc.media.legs[call_id]
    # The caller's speech reaches Ann's page (its analyser on the received track, and RTP bytes).
    await desk.wait_for_function("window.deskTalk.stats.firstCallerAudioMs !== null && window.deskTalk.stats.callerVoicedMs > 1000",
                                 timeout=30000)
    stats = await desk.evaluate("JSON.parse(JSON.stringify(window.deskTalk.stats))")
    assert stats["bytesReceived"] > 5000 and stats["callerPeakRms"] > 0.02, stats
    assert leg.to_agent.first_loud_at is not None
    # Ann's speech reaches the caller's transport (server side) and the caller's page.
    voiced_before = await page.evaluate("window.voicebot.stats.botVoicedMs")
    await wait(lambda: leg.stats["agent_loud_frames"] > 50, 30)
    await page.wait_for_function(f"window.voicebot.stats.botVoicedMs > {voiced_before + 1000}", timeout=30000)
    assert dialogue_speech(call) == dialogue_before, "the dialogue's own replies must stay muted while the agent talks"
    await desk.screenshot(path=str(screenshots_dir(tmp_path) / "desk-talking.png"))  # $VOICEBOT_SCREENSHOTS: docs' images

    # Mute: the caller stops hearing Ann (a long run of quiet frames while her microphone keeps speaking).
    await desk.click("#mute")
    await desk.wait_for_function("window.deskTalk.state === 'muted'")
    await wait(lambda: leg.stats["quiet_run"] >= 100, 15)
    loud_muted = leg.stats["agent_loud_frames"]
    await desk.click("#mute")
    await desk.wait_for_function("window.deskTalk.state === 'talking'")
    await wait(lambda: leg.stats["agent_loud_frames"] > loud_muted + 25, 15)

    # Typed replies keep working alongside the voice.
    await desk.fill("#reply", "I am sending you the tracking link now.")
    await desk.click("#send")
    await page.wait_for_function("window.voicebot.stats.captions.some(c => c.text === 'I am sending you the tracking link now.')",
                                 timeout=15000)

    print(f"\nDESK VOICE FIGURES: Talk pressed -> first caller audio at the agent {stats['firstCallerAudioMs']:.0f} ms "
          f"(agent page analyser); server: leg opened -> first loud caller frame sent to the agent "
          f"{(leg.to_agent.first_loud_at - leg.opened_at) * 1000:.0f} ms; agent frames {leg.stats}")

    if ending == "agent_ends_call":
        # Ann ends the call: her peer connection is closed, the caller's call ends, nothing keeps running.
        await desk.click("#endCall")
        await wait(lambda: svc.state._tickets[call_id].state == "ended", 15)
        await wait(lambda: leg.closed.is_set() and call_id not in svc.media.legs, 10)
        await desk.wait_for_function("window.deskTalk.state === 'ended' && window.deskTalk.pc === null", timeout=10000)
        await page.wait_for_function("window.voicebot.state === 'ended'", timeout=15000)
        assert leg.end_reason == "call_ended" and leg.pc.connectionState == "closed"
    else:
        # Ann's browser dies (no hang-up, nothing closed): the caller goes back to the bot and is told.
        bot_captions = await page.evaluate("window.voicebot.stats.captions.filter(c => c.who === 'bot').length")
        cdp = await agent_browser.new_browser_cdp_session()
        procs = (await cdp.send("SystemInfo.getProcessInfo"))["processInfo"]
        os.kill(next(p["id"] for p in procs if p["type"] == "browser"), signal.SIGKILL)
        await wait(lambda: svc.state._tickets[call_id].state == "returned", 30)
        assert any(h["what"] == "agent_left" for h in svc.state._tickets[call_id].history)
        await wait(lambda: leg.closed.is_set() and call_id not in svc.media.legs, 15)
        assert leg.pc.connectionState == "closed", leg.end_reason
        await page.wait_for_function(f"window.voicebot.stats.captions.filter(c => c.who === 'bot').length > {bot_captions}"
                                     " && window.voicebot.stats.captions.some(c => c.text.includes('disconnected'))", timeout=20000)
        assert await page.evaluate("window.voicebot.state") != "ended"  # the call goes on with the bot
        assert (await svc.state.get_agent("ann")).load == 0
        print(f"agent's browser killed: leg closed ({leg.end_reason}), caller back with the bot")
        await page.click(".vbw-btn")  # the caller hangs up
    await wait(lambda: call_id in live.ended, 20)  # the call has ended on the server
    await wait(lambda: not agent_media_tasks(), 5)


async def test_talk_is_refused_for_a_call_the_agent_does_not_own(server):
    host, svc, _live = server
    await svc.state.put_ticket(Ticket(call_id="jorges-call", channel="webrtc", language="en", queue="en", state="bridged", agent_id="jorge"))
    await svc.state.put_ticket(Ticket(call_id="queued-call", channel="webrtc", language="en", queue="en", state="queued"))
    offer = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}
    own = {"Origin": f"http://{host}"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as http:
        async with http.post(f"http://{host}/handoff/api/calls/jorges-call/talk", json=offer, headers=own) as r:
            assert r.status == 401  # not signed in
        async with http.post(f"http://{host}/handoff/api/login", json={"id": "ann", "password": "ann-password"}, headers=own) as r:
            assert r.status == 200
        for call_id in ("jorges-call", "queued-call", "no-such-call"):
            async with http.post(f"http://{host}/handoff/api/calls/{call_id}/talk", json=offer, headers=own) as r:
                assert r.status == 403, (call_id, await r.text())
                assert "accepted" in (await r.json())["error"]
        async with http.post(f"http://{host}/handoff/api/calls/jorges-call/talk", json=offer, headers={"Origin": "http://evil.example"}) as r:
            assert r.status == 403 and "cross-site" in (await r.json())["detail"]
        as_json = {**own, "Content-Type": "application/json"}
        async with http.post(f"http://{host}/handoff/api/calls/jorges-call/talk", data=b"x" * 70_000, headers=as_json) as r:
            assert r.status == 413
        async with http.post(f"http://{host}/handoff/api/calls/jorges-call/talk", data=b"{not json", headers=as_json) as r:
            assert r.status == 400
        async with http.delete(f"http://{host}/handoff/api/calls/jorges-call/talk", headers=own) as r:
            assert r.status == 404
    assert svc.media.legs == {} and not agent_media_tasks()


async def test_a_denied_microphone_gets_its_own_message_and_no_leg(server, launch, voices, tmp_path):
    host, svc, _live = server
    await svc.state.put_ticket(Ticket(call_id="webrtc-denied", channel="webrtc", language="en", queue="en", state="bridged",
                                      agent_id="ann", context=ContextPacket(reason="caller_asked")))
    browser = await launch(voices[1], loop=True, allow_microphone=False)
    desk = await (await browser.new_context(viewport={"width": 1280, "height": 900}, permissions=[])).new_page()
    await desk.goto(f"http://{host}/desk")
    await desk.fill("#agentId", "ann")
    await desk.fill("#password", "ann-password")
    await desk.click("#signIn")
    await desk.click(".call.mine")
    await desk.wait_for_selector("#talk:not([disabled])", timeout=10000)
    await desk.click("#talk")
    await desk.wait_for_function("window.deskTalk.state === 'mic_denied'", timeout=10000)
    text = await desk.inner_text("#talkState")
    assert "Microphone access was denied" in text and "type replies" in text, text
    assert await desk.get_attribute("#talkPanel", "data-state") == "mic_denied"
    assert not await desk.is_disabled("#talk")  # Talk can be pressed again once the microphone is allowed
    await desk.screenshot(path=str(screenshots_dir(tmp_path) / "desk-mic-denied.png"))
    assert svc.media.legs == {} and not agent_media_tasks()
