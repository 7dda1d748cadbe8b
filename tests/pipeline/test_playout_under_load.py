"""The playout pacer under a busy event loop: every 20 ms of call gets its frame.

The virtual clock jumping ahead in one step is exactly a loop that woke the pacer late (other
calls' work, CPU contention): the frames owed must still go out, not be skipped.
"""

from __future__ import annotations

import asyncio

from voicebot.channels.base import CallOutput
from voicebot.clock import VirtualClock
from voicebot.core import CallContext
from voicebot.pipeline.state import CallState


class CountingOutput(CallOutput):
    def __init__(self, state: CallState) -> None:
        super().__init__(state, 8000, pacing="realtime")
        self.frames = 0

    async def send_audio(self, chunk: bytes) -> None:
        self.frames += 1

    async def send_idle(self) -> None:
        self.frames += 1  # silence while the bot is quiet: still one frame per tick (SIP keeps RTP flowing)


async def _run(stalls_ms: list[int]) -> tuple[int, int, float]:
    clock = VirtualClock()
    out = CountingOutput(CallState(ctx=CallContext(call_id="pace", channel="sip"), clock=clock))
    task = asyncio.create_task(out._pace())
    await asyncio.sleep(0)
    for stall in stalls_ms:
        clock.advance(stall / 1000)  # the loop comes back to the pacer this late
        for _ in range(200):
            await asyncio.sleep(0)  # let it play what it owes
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return out.frames, out.stalls, clock.now()


async def test_late_wakeups_up_to_half_a_second_lose_no_frame() -> None:
    stalls = [20] * 50 + [120, 20, 300, 20, 20, 460, 20, 80] + [20] * 50  # a loop busy with 20 calls
    frames, lost_stalls, elapsed = await _run(stalls)
    # one frame per 20 ms of call, the first at 0 (the last deadline may sit a float's width past the clock)
    assert round(elapsed / 0.02) <= frames <= round(elapsed / 0.02) + 1 and lost_stalls == 0


async def test_a_longer_stall_is_counted_and_playout_resumes_on_time() -> None:
    frames, lost_stalls, elapsed = await _run([20] * 10 + [2000] + [20] * 10)
    assert lost_stalls == 1
    assert frames == 11 + 2 + 10  # up to the stall; the 2 s stall itself is given up (one late frame, one on resync); on time again
