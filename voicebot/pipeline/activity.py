"""Tracks the caller turns still being worked on (ASR, dialogue, TTS) in a call.

A ``--fast`` replay on a virtual clock waits for the pipeline to settle before moving time on,
so compute takes no virtual time and the timeline is the same on a slow or a fast machine.
"""

from __future__ import annotations

import asyncio


class Activity:
    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self, turn_id: int) -> None:
        self._pending.add(turn_id)
        self._idle.clear()

    def end(self, turn_id: int) -> None:
        self._pending.discard(turn_id)
        if not self._pending:
            self._idle.set()

    def pending(self, turn_id: int) -> bool:
        return turn_id in self._pending

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False
