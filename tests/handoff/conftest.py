"""Fixtures: a real redis-server from Debian's package on a free loopback port."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import pytest


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:  # wait for the port (a real peer), bounded
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


class ManualTimer:
    """A virtual timer for the bridge's offer timeouts: sleeps end when the test fires them."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, asyncio.Future]] = []

    async def sleep(self, seconds: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((seconds, fut))
        await fut

    async def wait_armed(self, n: int = 1) -> None:
        async def _w():
            while sum(1 for _, f in self.pending if not f.done()) < n:
                await asyncio.sleep(0)
        await asyncio.wait_for(_w(), 5)

    def fire(self) -> None:
        for _, fut in self.pending:
            if not fut.done():
                fut.set_result(None)
