"""The desk's voicemails: signed-in HTTP requests against the real server app, and one headless
Chromium check of the panel (list, player, mark done).

Real parts: ``voicebot.server.create_app`` (every router in ROUTERS, the voicemail one included),
uvicorn on loopback, the desk's accounts and sessions, the SQLite record store, WAVs made from a
real recording in ../shared/audio, Debian's Chromium through Playwright.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.handoff.servers import serving
from tests.handoff.test_desk_e2e import browser  # noqa: F401 - fixture: headless Chromium
from tests.pipeline.timeline import speech
from voicebot.handoff.routes import HandoffOptions, service_for
from voicebot.handoff.routing import Agent
from voicebot.records.model import Voicemail
from voicebot.records.recorder import recording_path
from voicebot.records.service import Records
from voicebot.records.wav import IncrementalWav
from voicebot.runtime import Runtime
from voicebot.server import create_app

NOW = time.time()


async def wait(pred, timeout=10.0):
    async def _w():
        while not pred():
            await asyncio.sleep(0.02)  # polling server start-up, bounded
    await asyncio.wait_for(_w(), timeout)


@pytest.fixture
async def desk(settings):
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    svc = service_for(runtime, HandoffOptions())
    svc.accounts.add(Agent("ann", "Ann", ("en",)), "ann-password")
    svc.accounts.add(Agent("jorge", "Jorge", ("es",)), "jorge-password")
    svc.accounts.add(Agent("sue", "Sue", ("en",)), "sue-password", role="supervisor")
    pcm = speech("en/sb_timit_spk1_snt1.wav", 2.0).astype("<i2").tobytes()
    root = runtime.records.options.recordings_dir / "voicemail"
    for i, (cid, lang, caller) in enumerate((("CAen", "en", "+15550001"), ("CAes", "es", None), ("CAde", "de", "+4930111"))):
        path = recording_path(root, cid, NOW - 3600 * i)
        wav = IncrementalWav(path, 16000, channels=1)
        wav.write(pcm)
        wav.close()
        runtime.records.store.add_voicemail(Voicemail(call_id=cid, created_at=NOW - 3600 * i, duration_s=2.0, path=str(path),
                                                      sample_rate=16000, language=lang, caller=caller, channel="twilio",
                                                      summary=f"wants a refund ({lang})", transcript="please call me back"))
    app = create_app(runtime)
    assert runtime.handoff is svc and svc.bridge.voicemail is not None  # compose() gave the bridge its voicemail service
    async with serving(app) as addr:
        yield addr, runtime
    await svc.bridge.stop()
    runtime.close()
    runtime.records.close()


async def signed_in(host: str, agent: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"})  # unsafe: cookies for an IP host
    async with http.post(f"http://{host}/handoff/api/login", json={"id": agent, "password": f"{agent}-password"}) as r:
        assert r.status == 200
    return http


async def listed(http: aiohttp.ClientSession, host: str, status: str = "new") -> list[str]:
    async with http.get(f"http://{host}/handoff/api/voicemails?status={status}") as r:
        assert r.status == 200, await r.text()
        return [v["call_id"] for v in (await r.json())["voicemails"]]


async def test_agents_see_their_languages_supervisors_all_audio_and_done(desk):
    host, runtime = desk
    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"http://{host}/handoff/api/voicemails") as r:
            assert r.status == 401
        async with anon.get(f"http://{host}/handoff/api/voicemails/CAen/audio") as r:
            assert r.status == 401
        async with anon.get(f"http://{host}/health") as r:
            assert (await r.json())["failed"] == {}
        async with anon.get(f"http://{host}/desk") as r:
            page = await r.text()
            assert page.count('<script src="/desk/voicemail.js"></script>') == 1 and 'id="voicemails"' in page
        async with anon.get(f"http://{host}/desk/voicemail.js") as r:
            assert r.status == 200 and r.content_type == "text/javascript"

    ann, jorge, sue = [await signed_in(host, a) for a in ("ann", "jorge", "sue")]
    try:
        assert await listed(ann, host) == ["CAen"] and await listed(jorge, host) == ["CAes"]
        assert await listed(sue, host) == ["CAen", "CAes", "CAde"]  # newest first
        async with ann.get(f"http://{host}/handoff/api/voicemails") as r:
            v = (await r.json())["voicemails"][0]
            assert (v["language"], v["caller"], v["duration_s"], v["summary"]) == ("en", "+15550001", 2.0, "wants a refund (en)")

        wav = runtime.records.store.get_voicemail("CAen").path
        async with ann.get(f"http://{host}/handoff/api/voicemails/CAen/audio") as r:
            assert r.status == 200 and r.content_type == "audio/wav"
            assert await r.read() == open(wav, "rb").read()
        for who, cid in ((ann, "CAes"), (jorge, "CAen"), (ann, "nope")):
            async with who.get(f"http://{host}/handoff/api/voicemails/{cid}/audio") as r:
                assert r.status == 404  # not theirs (or none): not revealed
            async with who.post(f"http://{host}/handoff/api/voicemails/{cid}/done", json={"done": True}) as r:
                assert r.status == 404
        async with sue.get(f"http://{host}/handoff/api/voicemails/CAde/audio") as r:
            assert r.status == 200

        async with ann.post(f"http://{host}/handoff/api/voicemails/CAen/done", json={"done": True}) as r:
            assert r.status == 200 and (await r.json())["status"] == "done"
        assert await listed(ann, host) == [] and await listed(ann, host, "done") == ["CAen"]
        done = runtime.records.store.get_voicemail("CAen")
        assert done.status == "done" and done.done_by == "ann"
        async with ann.get(f"http://{host}/handoff/api/voicemails?status=bogus") as r:
            assert r.status == 400
    finally:
        for http in (ann, jorge, sue):
            await http.close()


async def test_desk_panel_lists_plays_and_marks_done(desk, browser):  # noqa: F811
    host, runtime = desk
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"http://{host}/desk")
    await page.fill("#agentId", "sue")
    await page.fill("#password", "sue-password")
    await page.click("#signIn")
    await page.wait_for_selector("#app:not(.hidden)")
    await page.wait_for_function("document.querySelectorAll('#voicemails .vm').length === 3", timeout=15000)
    text = await page.inner_text("#voicemails")
    assert "Voicemail (3 new)" in text and "ES · unknown caller · 0:02" in text and "wants a refund (de)" in text
    assert "please call me back" in text
    src = await page.get_attribute("#voicemails .vm[data-call-id='CAen'] audio", "src")
    assert src == "/handoff/api/voicemails/CAen/audio"
    status = await page.evaluate(f"fetch('{src}').then(r => r.status)")  # the player's source, with the desk's cookie
    assert status == 200
    await page.click("#voicemails .vm[data-call-id='CAen'] button.vmDone")
    await page.wait_for_function("document.querySelectorAll('#voicemails .vm').length === 2", timeout=15000)
    assert runtime.records.store.get_voicemail("CAen").done_by == "sue"
    await page.check("#vmShowDone")
    await page.wait_for_selector("#voicemails .vm.done[data-call-id='CAen']", timeout=15000)
