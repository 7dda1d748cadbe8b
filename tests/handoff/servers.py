"""The bot's web app on uvicorn on loopback, for the handoff tests that need a real HTTP/WebSocket server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """Serve ``app`` on a free loopback port until the block ends; yields ``"127.0.0.1:PORT"``.

    The socket is bound before uvicorn starts, so no other test can take the port in between.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws_ping_interval=None))
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    try:
        for _ in range(1000):  # up to 10 s for uvicorn to start listening
            if srv.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not srv.started:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, 15)
