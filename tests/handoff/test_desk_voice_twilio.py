"""The agent's voice on a relayed Twilio call, and an agent whose voice connection vanishes.

Real parts: uvicorn with the Twilio routes (the hand-off call factory) and the desk routes, the
call pipeline (minimal dialogue, espeak voice, dev whisper-tiny), aiortc on both sides: the
agent's side is a Python aiortc peer sending a real recording (the desk's browser is covered by
test_desk_voice.py). Twilio's side is the media-stream protocol client sending a real caller
recording at real time.

Checked: the caller's audio reaches the agent's track; the agent's voice reaches Twilio's media
(mixed into the stream's 20 ms frames at 8 kHz); when the agent's audio stops (a browser that
vanished without closing anything), the leg is closed after the media timeout and the caller
goes back to the bot and is told, as for a desk that disconnected; no task is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time

import aiohttp
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from fastapi import FastAPI

from tests.handoff.servers import serving
from tests.pipeline.timeline import speech
from tests.twilio.conftest import PUBLIC_HOST
from tests.twilio.test_pipeline_call import open_call
from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import resample
from voicebot.channels.twilio.routes import make_router as twilio_router
from voicebot.channels.webrtc.links import restrict_host_candidates
from voicebot.handoff import channel_twilio
from voicebot.handoff.routes import HandoffOptions, make_router, service_for
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime

pytestmark = pytest.mark.slow
ALL_DAY = {"hours": (0, 24), "days": (0, 1, 2, 3, 4, 5, 6)}
ORIGIN = {"Origin": f"https://{PUBLIC_HOST}"}  # the desk is served by the bot: its public origin


async def wait(pred, timeout=30.0):
    async def _w():
        while not pred():
            await asyncio.sleep(0.02)  # polling state in a real-time test, bounded
    await asyncio.wait_for(_w(), timeout)


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


class SpeakingTrack(MediaStreamTrack):
    """The agent's microphone: a real recording, looped, 20 ms at 16 kHz on the media clock; ``vanish()`` stops it."""

    kind = "audio"

    def __init__(self, pcm16k: np.ndarray) -> None:
        super().__init__()
        self.pcm = np.concatenate([pcm16k, np.zeros(3200, np.int16)])
        self.i = 0
        self.start: float | None = None
        self.gone = asyncio.Event()

    def vanish(self) -> None:
        self.gone.set()

    async def recv(self) -> AudioFrame:
        if self.gone.is_set():
            await asyncio.Event().wait()  # no more audio, nothing closed: like a frozen or unplugged browser
        if self.start is None:
            self.start = time.time()
        await asyncio.sleep(max(0.0, self.start + self.i * 0.02 - time.time()))
        n = 320
        at = (self.i * n) % (len(self.pcm) - n)
        frame = AudioFrame.from_ndarray(self.pcm[at : at + n].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 16000, self.i * n, fractions.Fraction(1, 16000)
        self.i += 1
        return frame


@pytest.fixture
async def server(settings):
    settings.server.public_host = PUBLIC_HOST
    settings.twilio.auth_token = "tok"  # the stream client's signing key; no account: the bot keeps the stream (relay)
    runtime = Runtime(settings)
    await asyncio.to_thread(runtime.warm_up, runtime.spec())
    svc = service_for(runtime, HandoffOptions(offer_timeout_s=30.0, talk_ice_addresses=("127.0.0.1",), talk_media_timeout_s=3.0))
    svc.accounts.add(Agent("ann", "Ann", ("en",), **ALL_DAY), "ann-password")
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(twilio_router(runtime, call_factory=channel_twilio.call_factory(runtime, svc.bridge)))
    app.include_router(make_router(runtime))
    async with serving(app) as addr:
        yield addr, svc
        await svc.media.stop()
    await svc.bridge.stop()
    runtime.close()


class AgentPeer:
    """The desk's role in Python: an aiortc peer with a speaking microphone, recording what it hears."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = SpeakingTrack(speech("en/jfk.flac"))
        self.pc.addTrack(self.mic)
        restrict_host_candidates(self.pc, ("127.0.0.1",))  # aioice never offers loopback
        self.heard: list[float] = []  # RMS of each 20 ms frame of the caller's audio received
        self._readers: list[asyncio.Task] = []
        self.pc.on("track", lambda track: self._readers.append(asyncio.ensure_future(self._read(track))))

    async def _read(self, track) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.heard.append(rms(frame.to_ndarray().reshape(-1)))

    def heard_speech(self) -> int:
        return sum(1 for x in self.heard if x > 300)

    async def talk(self, http: aiohttp.ClientSession, host: str, call_id: str, origin: dict[str, str] = ORIGIN) -> int:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with http.post(f"http://{host}/handoff/api/calls/{call_id}/talk", headers=origin,
                             json={"sdp": self.pc.localDescription.sdp, "type": "offer"}) as r:
            if r.status != 200:
                return r.status
            await self.pc.setRemoteDescription(RTCSessionDescription(**await r.json()))
            return 200

    async def close(self) -> None:
        await self.pc.close()
        for t in self._readers:
            t.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def agent_media_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("agent-media") and not t.done()]


@pytest.mark.parametrize("ending", ["agent_vanishes", "agent_page_closes", "hang_up_talk_then_back_to_bot", "caller_hangs_up"])
async def test_agent_talks_on_a_relayed_twilio_call(server, ending):
    host, svc = server
    loop = asyncio.get_running_loop()
    call_id = "CAvoice1"
    client, caller = await open_call(f"ws://{host}/twilio/stream", call_id)
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=ORIGIN)
    agent = AgentPeer()
    stopped = False
    try:
        async with http.post(f"http://{host}/handoff/api/login", json={"id": "ann", "password": "ann-password"}) as r:
            assert r.status == 200
        await wait(lambda: len(client.received.marks) >= 1, 60)  # the greeting
        await client.send_dtmf("0")  # "an agent, please"
        await wait(lambda: (t := svc.state._tickets.get(call_id)) is not None and t.state == "offered", 60)
        async with http.post(f"http://{host}/handoff/api/calls/{call_id}/accept", json={}) as r:
            assert r.status == 200
        await wait(lambda: svc.state._tickets[call_id].state == "bridged", 30)
        # "connected with Ann" and the other hand-off lines are over: from now on, media is the agent's voice
        await wait(lambda: client.received.media_times and loop.time() - client.received.media_times[-1] > 0.5, 30)

        media_before = len(client.received.media)
        assert await agent.talk(http, host, call_id) == 200
        leg = svc.media.legs[call_id]
        t_answer = loop.time()

        # The agent's voice reaches Twilio's media (8 kHz mu-law frames with speech energy).
        def agent_on_stream() -> int:
            return sum(1 for f in client.received.media[media_before:] if rms(np.frombuffer(ulaw_decode(f), "<i2")) > 300)
        await wait(lambda: agent_on_stream() > 50, 30)
        # The caller speaks; the agent hears it.
        clip = speech("en/sb_timit_spk1_snt1.wav")
        caller.say(ulaw_encode(resample(clip, 16000, 8000).astype("<i2").tobytes()))
        await wait(lambda: agent.heard_speech() > 25, 30)
        assert leg.stats["agent_loud_frames"] > 50
        print(f"\nTWILIO TALK: agent frames on the stream with speech {agent_on_stream()}, caller frames heard by the agent "
              f"with speech {agent.heard_speech()}, leg {leg.stats} after {loop.time() - t_answer:.2f} s")
        t_end = loop.time()

        if ending == "agent_vanishes":
            # Audio stops and nothing is closed (a frozen or unplugged browser): after the media timeout
            # the caller goes back to the bot and is told, as for a desk that disconnected.
            agent.mic.vanish()
            await wait(lambda: svc.state._tickets[call_id].state == "returned", 20)
            print(f"agent audio stopped -> caller back to the bot {loop.time() - t_end:.2f} s (media timeout 3 s)")
            assert any(h["what"] == "agent_left" for h in svc.state._tickets[call_id].history)
            assert leg.end_reason == "agent_media_timeout"
            n = len(client.received.media)
            await wait(lambda: len(client.received.media) > n + 25, 30)  # the caller hears "the agent had to leave"
        elif ending == "agent_page_closes":
            await agent.pc.close()  # the desk's tab closed: its peer connection goes, with no DELETE before it
            await wait(lambda: svc.state._tickets[call_id].state == "returned", 20)
            print(f"agent peer closed -> caller back to the bot {loop.time() - t_end:.2f} s ({leg.end_reason})")
            assert any(h["what"] == "agent_left" for h in svc.state._tickets[call_id].history)
            assert leg.end_reason in ("agent_peer_closed", "agent_media_ended"), leg.end_reason
        elif ending == "hang_up_talk_then_back_to_bot":
            async with http.delete(f"http://{host}/handoff/api/calls/{call_id}/talk") as r:
                assert r.status == 200
            assert leg.end_reason == "agent_hung_up_talk" and svc.state._tickets[call_id].state == "bridged"  # the call goes on
            assert "send_audio" not in vars(svc.bridge.handles[call_id].output)  # the output's own hooks again
            second = AgentPeer()  # Talk again on the same call
            try:
                assert await second.talk(http, host, call_id) == 200
                leg = svc.media.legs[call_id]
                await wait(lambda: leg.stats["agent_loud_frames"] > 10, 30)
                async with http.post(f"http://{host}/handoff/api/calls/{call_id}/release", json={"back_to_bot": True}) as r:
                    assert r.status == 200
                await wait(lambda: leg.closed.is_set(), 10)
                assert leg.end_reason == "call_returned" and svc.state._tickets[call_id].state == "returned"
            finally:
                await second.close()
        else:
            await caller.stop()
            await client.send_stop()  # the caller hangs up while the agent talks
            stopped = True
            await wait(lambda: leg.closed.is_set(), 15)
            assert leg.end_reason == "call_ended" and svc.state._tickets[call_id].state == "ended"
        assert leg.closed.is_set() and call_id not in svc.media.legs and leg.pc.connectionState == "closed"
        await wait(lambda: not agent_media_tasks(), 5)
    finally:
        await agent.close()
        if not stopped:
            await caller.stop()
            await client.send_stop()
        await http.close()
