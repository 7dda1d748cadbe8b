"""One background thread that performs store writes and recording I/O in submission order.

The call pipeline runs on the asyncio loop and must never wait for a database or a disk.
The recorder hands each write to :meth:`StoreWriter.submit` (returns at once); the thread
runs them in order. A failed write is logged with the call id and does not stop later ones.
A process-wide writer serves every call; ``flush`` waits until everything submitted is done.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from voicebot.logs import get_logger

log = get_logger(__name__)

_STOP = object()


class StoreWriter:
    def __init__(self, name: str = "records-writer") -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._started = False
        self._closed = False
        self._start_lock = threading.Lock()
        self.failures = 0

    def submit(self, fn: Callable[..., Any], *args: Any, call_id: str | None = None, **kwargs: Any) -> Future:
        """Queue ``fn(*args, **kwargs)``; never blocks. The future carries its result or error."""
        if self._closed:
            raise RuntimeError("the record writer is closed")
        self._ensure_started()
        fut: Future = Future()
        self._queue.put((fut, fn, args, kwargs, call_id))
        return fut

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until everything submitted so far ran (from a thread, not the event loop)."""
        if not self._started:
            return True
        marker: Future = Future()
        self._queue.put((marker, lambda: None, (), {}, None))
        try:
            marker.result(timeout=timeout)
            return True
        except TimeoutError:
            return False

    async def aflush(self, timeout: float | None = 30.0) -> bool:
        """``flush`` for coroutines: waits without blocking the loop."""
        if not self._started:
            return True
        marker: Future = Future()
        self._queue.put((marker, lambda: None, (), {}, None))
        try:
            await asyncio.wait_for(asyncio.wrap_future(marker), timeout)
            return True
        except TimeoutError:
            return False

    def close(self, timeout: float | None = 30.0) -> None:
        """Run what is queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _ensure_started(self) -> None:
        with self._start_lock:
            if not self._started:
                self._thread.start()
                self._started = True

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fut, fn, args, kwargs, call_id = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - one bad write must not stop the others
                self.failures += 1
                log.error("call record write failed: %s", exc, extra={"call_id": call_id, "op": getattr(fn, "__name__", str(fn))},
                          exc_info=exc)  # fmt: skip
                fut.set_exception(exc)
