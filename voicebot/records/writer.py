"""One background thread that performs store writes and recording I/O in submission order.

The call pipeline runs on the asyncio loop and must never wait for a database or a disk.
The recorder hands each write to :meth:`StoreWriter.submit` (returns at once); the thread
runs them in order. A failed write is logged with the call id and does not stop later ones.
A process-wide writer serves every call; ``flush`` waits until everything submitted is done.

It also keeps what /health needs: whether writes are failing now (disk full, store down) and
the writes that must not be lost (closing a call's row), kept to be retried until they succeed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from voicebot.logs import get_logger

log = get_logger(__name__)

_STOP = object()


def _marker() -> None:
    """What flush queues: runs when everything before it has (not a write)."""


class StoreWriter:
    LOG_EVERY_S = 10.0  # failed writes are logged at most this often (all are counted)

    def __init__(self, name: str = "records-writer") -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._started = False
        self._closed = False
        self._start_lock = threading.Lock()
        self.failures = 0
        self.last_error: str | None = None  # the latest failure, while no write has succeeded since
        self._streak = 0  # failures in a row
        self._logged_at = float("-inf")
        self._deferred: dict[str, Callable[[], Any]] = {}  # key -> a write to retry (run_deferred)
        self._deferred_lock = threading.Lock()

    def note_failure(self, exc: BaseException, what: str = "") -> None:
        """A write failed (here or in a recorder's own I/O): /health reports it until one succeeds."""
        self.failures += 1
        self.last_error = f"{what}: {exc}" if what else str(exc)

    def defer(self, key: str, fn: Callable[[], Any]) -> None:
        """Keep ``fn`` to retry (latest per key): a write that must happen once the disk or store is back."""
        with self._deferred_lock:
            self._deferred[key] = fn

    @property
    def deferred(self) -> list[str]:
        with self._deferred_lock:
            return list(self._deferred)

    def run_deferred(self) -> int:
        """Retry the deferred writes (on the writer thread: ``submit(writer.run_deferred)``); how many succeeded."""
        done = 0
        failed = False
        for key in self.deferred:
            with self._deferred_lock:
                fn = self._deferred.get(key)
            if fn is None:
                continue
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - still failing: kept for the next round
                self.note_failure(exc, "retry")
                failed = True
                continue
            with self._deferred_lock:
                if self._deferred.get(key) is fn:
                    del self._deferred[key]
            done += 1
            log.warning("call record closed after the store came back", extra={"call_id": key})
        if done and not failed:
            self.last_error, self._streak = None, 0
        return done

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
        self._queue.put((marker, _marker, (), {}, None))
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
        self._queue.put((marker, _marker, (), {}, None))
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
                if fn is not _marker and getattr(fn, "__func__", None) is not StoreWriter.run_deferred:
                    if self._streak > 1:
                        log.warning("call record writes work again", extra={"failed_in_a_row": self._streak})
                    self.last_error, self._streak = None, 0  # a real write went through: the disk/store is back
            except BaseException as exc:  # noqa: BLE001 - one bad write must not stop the others
                self.note_failure(exc, getattr(fn, "__name__", ""))
                self._streak += 1
                # A full disk fails most writes (a few still fit): one line per LOG_EVERY_S, the first with its traceback.
                now = time.monotonic()
                if now - self._logged_at >= self.LOG_EVERY_S:
                    log.error("call record write failed: %s", exc, extra={"call_id": call_id, "op": getattr(fn, "__name__", str(fn)),
                                                                         "failures": self.failures},
                              exc_info=exc if self._logged_at == float("-inf") else None)  # fmt: skip
                    self._logged_at = now
                fut.set_exception(exc)
