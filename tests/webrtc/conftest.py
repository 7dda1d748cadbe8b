"""A real bot server (uvicorn on a free loopback port, the minimal pipeline, dev whisper-tiny)
and a real headless Chromium whose fake microphone plays a real recording."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.pipeline.timeline import speech, timeline
from voicebot.audio.pcm import write_wav
from voicebot.channels.webrtc.routes import make_router
from voicebot.channels.webrtc.service import InappOptions
from voicebot.runtime import Runtime

CHROMIUM = Path("/usr/lib/chromium/chromium")
SECRET = "test-secret-for-the-inapp-channel"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
         "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]  # fmt: skip


@dataclass
class BotServer:
    url: str
    router: Any
    runtime: Runtime
    loop: asyncio.AbstractEventLoop

    @property
    def live(self) -> Any:
        return self.router.inapp_live

    def wait_ended(self, call_id: str, timeout_s: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while call_id not in self.live.ended:
            assert time.monotonic() < deadline, f"call {call_id} did not end on the server; live: {list(self.live.calls)}"
            time.sleep(0.05)
        return self.live.ended[call_id]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: FastAPI) -> Iterator[tuple[str, asyncio.AbstractEventLoop]]:
    uvicorn = pytest.importorskip("uvicorn")
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws_max_size=1 << 20))
    loops: list[asyncio.AbstractEventLoop] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        loop.run_until_complete(srv.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", loops[0]
    finally:
        srv.should_exit = True
        thread.join(15)


@pytest.fixture
def bot_options() -> InappOptions:
    return InappOptions(secret=SECRET, demo_tokens=True, ice_addresses=("127.0.0.1",), media_timeout_s=4.0, connect_timeout_s=15.0)


@pytest.fixture
def bot(settings, bot_options) -> Iterator[BotServer]:
    from voicebot.records.service import Records

    runtime = Runtime(settings)
    runtime.warm_up(runtime.spec())  # before any page waits on it
    runtime.records = Records.open(settings)  # every call is recorded, as under `voicebot serve`
    router = make_router(runtime, options=bot_options)
    app = FastAPI()
    app.include_router(router)
    try:
        for url, loop in serve(app):
            yield BotServer(url, router, runtime, loop)
    finally:
        runtime.close()
        runtime.records.close()


@pytest.fixture(scope="session")
def caller_wav(tmp_path_factory) -> Path:
    """6 s of quiet (the greeting plays), a real English recording, then quiet: a caller who waits, speaks, listens."""
    clip = speech("en/sb_timit_spk1_snt1.wav")  # one sentence with no pause: a single caller turn
    path = tmp_path_factory.mktemp("caller") / "caller.wav"
    write_wav(path, timeline(30.0, (6.5, clip)), 16000)
    return path


@pytest.fixture
def chromium(tmp_path, caller_wav):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (it drives the system Chromium)")
    pw = sync_api.sync_playwright().start()

    def launch(*, microphone: bool = True, allow: bool = True, extra: list[str] | None = None):  # type: ignore[no-untyped-def]
        flags = list(FLAGS) + (extra or [])
        if allow:  # grant the permission prompt; without it headless Chromium dismisses the prompt (denied)
            flags.append("--use-fake-ui-for-media-stream")
        if microphone:
            flags += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={caller_wav}%noloop"]
        return pw.chromium.launch(executable_path=str(CHROMIUM), args=flags)

    try:
        yield launch
    finally:
        pw.stop()


def screenshots_dir(tmp_path: Path) -> Path:
    """$VOICEBOT_SCREENSHOTS (``docs/screenshots`` refreshes the docs' images), else the test's temp dir."""
    d = Path(os.environ.get("VOICEBOT_SCREENSHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d
