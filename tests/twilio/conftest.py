"""Fixtures: a real uvicorn server on a free loopback port with the Twilio routes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import base64

import pytest
import uvicorn
from aiohttp import web
from fastapi import FastAPI

from voicebot.audio.pcm import load_audio
from voicebot.channels.twilio.routes import make_router
from voicebot.channels.twilio.stream import LiveStreams, StreamOptions
from voicebot.config import Settings

from .standin import CallRecord, StandInBot

SHARED_AUDIO = (Path(__file__).resolve().parents[2] / ".." / "shared" / "audio").resolve()
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_HOST = "voice.example.test"


def shared_audio(rel: str) -> Path:
    path = SHARED_AUDIO / rel
    if not path.exists():
        pytest.skip(f"recording {path} missing (see ../shared/audio/manifest.json)")
    return path


@pytest.fixture(scope="session")
def caller_pcm8k() -> bytes:
    """A real caller recording (TIMIT sentence, 16 kHz) resampled to 8 kHz PCM16."""
    return load_audio(shared_audio("en/sb_timit_spk1_snt1.wav"), 8000).astype("<i2").tobytes()


@pytest.fixture(scope="session")
def bot_pcm8k() -> tuple[bytes, bytes]:
    """The stand-in bot's greeting and goodbye: real synthetic-speech recordings at 8 kHz."""
    greet = load_audio(shared_audio("en_tts_synthetic/multiwoz_mul0981_Turn-5.wav"), 8000)
    bye = load_audio(shared_audio("en_tts_synthetic/multiwoz_mul0981_Turn-11.wav"), 8000)
    return greet.astype("<i2").tobytes(), bye.astype("<i2").tobytes()


@dataclass
class TwilioServer:
    base_url: str
    ws_url: str
    settings: Settings
    live: LiveStreams
    records: dict[str, CallRecord] = field(default_factory=dict)
    calls: dict[str, StandInBot] = field(default_factory=dict)
    fail_sids: set[str] = field(default_factory=set)  # calls whose setup raises (a broken pipeline)

    async def wait_record(self, call_sid: str, timeout: float = 5.0) -> CallRecord:
        async def _wait() -> CallRecord:
            while call_sid not in self.records:
                await asyncio.sleep(0.01)  # polling a real server's state, bounded by the timeout
            return self.records[call_sid]

        return await asyncio.wait_for(_wait(), timeout)


StartServer = Callable[..., Awaitable[TwilioServer]]


@pytest.fixture
async def start_server(bot_pcm8k: tuple[bytes, bytes]) -> AsyncIterator[StartServer]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(public_host: str | None = PUBLIC_HOST, verify: bool = True,
                    options: StreamOptions | None = None) -> TwilioServer:
        settings = Settings()
        settings.server.public_host = public_host
        settings.twilio.auth_token = AUTH_TOKEN
        settings.twilio.verify_signatures = verify
        live = LiveStreams()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        srv = TwilioServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/twilio/stream", settings, live)

        def factory(info, sender):
            if info.call_sid in srv.fail_sids:
                raise RuntimeError("pipeline spec is broken")
            bot = StandInBot(info, sender, bot_pcm8k[0], bot_pcm8k[1], srv.records)
            srv.calls[info.call_sid] = bot
            return bot

        app = FastAPI()
        opts = options or StreamOptions(start_timeout_s=5, idle_timeout_s=5, end_timeout_s=5)
        app.include_router(make_router(SimpleNamespace(settings=settings), call_factory=factory,
                                       stream_options=opts, live=live))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        servers.append((server, task))
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        return srv

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until server-side state (another task on this loop) satisfies ``predicate``."""

    async def _wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_wait(), timeout)


@pytest.fixture
async def fake_api():
    """A Twilio-API look-alike: records requests; call CAgone is unknown (404 20404); auth checked."""
    seen: list[dict] = []

    async def update_call(request: web.Request) -> web.Response:
        form = dict(await request.post())
        seen.append({"path": request.path, "form": form, "auth": request.headers.get("Authorization"),
                     "ua": request.headers.get("User-Agent", "")})
        expected = "Basic " + base64.b64encode(b"AC123:tok").decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        sid = request.match_info["sid"]
        if sid == "CAgone":
            return web.json_response({"code": 20404, "message": "The requested resource was not found", "status": 404}, status=404)
        return web.json_response({"sid": sid, "account_sid": "AC123", "status": "in-progress"})

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}.json", update_call)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()
