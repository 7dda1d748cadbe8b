"""End to end: an in-app caller (the WebSocket fallback, driven by a Python client) types "agent";
an English agent signed in to the desk (HTTP API + the desk's WebSocket) gets the offer,
accepts, and types a reply that reaches the caller as speech (16 kHz PCM on the socket) and as
the agent's caption, under her name (not the bot's). The caller's typed line after the hand-off shows in the agent's live transcript.

Real parts: uvicorn with the in-app and desk routes, the call pipeline (minimal dialogue, espeak
voice), the hand-off bridge with its in-process state. No oracle: the caller types.
Figures printed: caller's request -> offer on the desk, accept -> first relayed audio.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import numpy as np
import pytest
from fastapi import FastAPI

from tests.handoff.servers import serving
from voicebot.channels.webrtc.routes import make_router as inapp_router
from voicebot.channels.webrtc.service import InappOptions
from voicebot.channels.webrtc.tokens import issue_token
from voicebot.handoff.routes import HandoffOptions, make_router, service_for
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime

pytestmark = pytest.mark.slow
SECRET = "test-secret-for-the-inapp-handoff"
ALL_DAY = {"hours": (0, 24), "days": (0, 1, 2, 3, 4, 5, 6)}
AGENT_TEXT = "Hello, this is Ann from the support team. Your refund is on its way."


async def wait(pred, timeout=30.0):
    async def _w():
        while not pred():
            await asyncio.sleep(0.02)  # polling state in a real-time test, bounded
    await asyncio.wait_for(_w(), timeout)


@pytest.fixture
async def server(settings):
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=20.0))
    svc.accounts.add(Agent("ann", "Ann", ("en",), **ALL_DAY), "ann-password")
    svc.accounts.add(Agent("jorge", "Jorge", ("es",), **ALL_DAY), "jorge-password")
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(inapp_router(runtime, options=InappOptions(secret=SECRET, media_timeout_s=10.0)))
    app.include_router(make_router(runtime))
    async with serving(app) as addr:
        yield addr, svc
    await svc.bridge.stop()
    runtime.close()


class Caller:
    """The in-app widget's WebSocket protocol, in Python: 20 ms of quiet microphone at real time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[tuple[float, dict]] = []
        self.audio: list[tuple[float, bytes]] = []
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._mic())]

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.audio.append((loop.time(), msg.data))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                self.messages.append((loop.time(), json.loads(msg.data)))

    async def _mic(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while not self.ws.closed:
            await self.ws.send_bytes(bytes(640))
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    def captions(self, who: str) -> list[str]:
        return [m["text"] for _, m in self.messages if m.get("type") == "caption" and m.get("who") == who]

    def loud_after(self, t: float) -> float | None:
        for at, pcm in self.audio:
            if at > t and np.abs(np.frombuffer(pcm, "<i2")).max(initial=0) > 1000:
                return at
        return None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ws.close()


async def test_inapp_caller_typing_agent_is_relayed_to_a_desk_agent(server):
    host, svc = server
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as agent_http, aiohttp.ClientSession() as caller_http:
        async with agent_http.post(f"http://{host}/handoff/api/login", json={"id": "ann", "password": "ann-password"}) as r:
            assert r.status == 200
        desk = await agent_http.ws_connect(f"ws://{host}/handoff/ws")
        desk_events: list[tuple[float, dict]] = []

        async def read_desk() -> None:
            async for msg in desk:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    desk_events.append((loop.time(), json.loads(msg.data)))

        desk_reader = asyncio.create_task(read_desk())
        await wait(lambda: any(e["type"] == "hello" for _, e in desk_events), 10)

        token = issue_token(SECRET, customer_id="c-42", customer_name="Sam", language="en")
        ws = await caller_http.ws_connect(f"ws://{host}/inapp/ws", headers={"Origin": f"http://{host}"})
        await ws.send_str(json.dumps({"type": "start", "token": token, "sample_rate": 16000}))
        caller = Caller(ws)
        try:
            await wait(lambda: any(m.get("type") == "call" for _, m in caller.messages), 10)
            call_id = next(m["call_id"] for _, m in caller.messages if m.get("type") == "call")
            await wait(lambda: caller.captions("bot"), 30)  # the greeting
            await wait(lambda: caller.audio and loop.time() - caller.audio[-1][0] > 0.5, 30)  # ... has been played

            t_request = loop.time()
            await ws.send_str(json.dumps({"type": "text", "text": "I want to talk to an agent"}))
            offered = lambda: next((t for t, e in desk_events if e.get("type") == "ticket" and e.get("call_id") == call_id
                                    and e.get("state") == "offered" and e.get("offered_to") == "ann"), None)
            await wait(lambda: offered() is not None, 30)
            t_offer = offered()
            t = await svc.state.get_ticket(call_id)
            assert t.channel == "websocket" and t.language == "en" and t.state == "offered"
            await wait(lambda: any(m.get("type") == "state" and m.get("state") == "transferred" for _, m in caller.messages), 5)

            # Jorge (Spanish only) may not see or take this English call; Ann takes it.
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": f"http://{host}"}) as other:
                async with other.post(f"http://{host}/handoff/api/login", json={"id": "jorge", "password": "jorge-password"}) as r:
                    assert r.status == 200
                async with other.post(f"http://{host}/handoff/api/calls/{call_id}/accept", json={}) as r:
                    assert r.status == 404
            await wait(lambda: caller.audio and loop.time() - caller.audio[-1][0] > 0.4, 30)  # the wait estimate is over
            t_accept = loop.time()
            async with agent_http.post(f"http://{host}/handoff/api/calls/{call_id}/accept", json={}) as r:
                assert r.status == 200, await r.text()
            await wait(lambda: caller.loud_after(t_accept) is not None, 30)  # "connected with Ann"
            t_audio = caller.loud_after(t_accept)
            t = await svc.state.get_ticket(call_id)
            assert t.state == "bridged" and t.agent_id == "ann" and t.mode == "relay"
            assert any("Ann" in c for c in caller.captions("bot"))
            # the widget leaves "connecting": a person has the call, by name
            await wait(lambda: any(m.get("type") == "state" and m.get("state") == "agent" and m.get("agent_name") == "Ann"
                                   for _, m in caller.messages), 5)

            # The caller types; the line reaches the agent's live transcript (and not the dialogue).
            await ws.send_str(json.dumps({"type": "text", "text": "Where is my refund?"}))
            await wait(lambda: any(e.get("type") == "line" and e["line"]["role"] == "caller" and e["line"]["text"] == "Where is my refund?"
                                   for _, e in desk_events), 10)

            # The agent types; the caller hears it (bot speech) and sees it as a bot caption.
            await wait(lambda: loop.time() - caller.audio[-1][0] > 0.4, 30)
            t_say = loop.time()
            async with agent_http.post(f"http://{host}/handoff/api/calls/{call_id}/say", json={"text": AGENT_TEXT}) as r:
                assert r.status == 200, await r.text()
            await wait(lambda: AGENT_TEXT in caller.captions("agent"), 10)
            assert AGENT_TEXT not in caller.captions("bot")
            assert next(m["name"] for _, m in caller.messages if m.get("who") == "agent" and m.get("text") == AGENT_TEXT) == "Ann"
            await wait(lambda: sum(1 for at, pcm in caller.audio if at > t_say and np.abs(np.frombuffer(pcm, "<i2")).max(initial=0) > 1000) >= 25, 30)
            # the dialogue's own answer to "Where is my refund?" was muted: the only bot lines after the
            # accept are the bridge's ("connected with Ann")
            after = [m["text"] for at, m in caller.messages if at > t_accept and m.get("type") == "caption" and m.get("who") == "bot"]
            assert after and all("Ann" in x for x in after), after
            print(f"\nINAPP HANDOFF FIGURES: typed request -> offer on the desk {t_offer - t_request:.2f} s; "
                  f"bridge {svc.bridge.timings(call_id)}; accept -> first relayed audio {t_audio - t_accept:.2f} s")

            # The agent ends the call: the caller's call ends, the ticket is kept as ended.
            async with agent_http.post(f"http://{host}/handoff/api/calls/{call_id}/release", json={"back_to_bot": False}) as r:
                assert r.status == 200
            await wait(lambda: any(m.get("type") == "state" and m.get("state") == "ended" for _, m in caller.messages), 15)
            await wait(lambda: svc.state._tickets[call_id].state == "ended", 10)
            agent = await svc.state.get_agent("ann")
            assert agent.load == 0
        finally:
            await caller.close()
            desk_reader.cancel()
            await desk.close()
