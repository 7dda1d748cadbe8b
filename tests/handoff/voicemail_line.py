"""A replay line that hands off through the bridge, on a virtual clock, with a reactive caller.

Like ``voicebot.channels.replay.replay_call --fast`` (each 20 ms tick feeds the caller's audio,
waits for the pipeline to settle, plays 20 ms of the bot, then moves the clock), but its output
hands transfers to the :class:`~voicebot.handoff.bridge.HandoffBridge` through the same
:class:`~voicebot.handoff.relay.Relay` the channels use, and the caller reacts to what the bot
does (presses 0 after the greeting, speaks once the beep has played, then # or hangs up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voicebot.call import CallResult, CallSession
from voicebot.channels.base import CHUNK_MS, CallInput, CallTransport
from voicebot.channels.replay import ReplayOutput
from voicebot.clock import VirtualClock
from voicebot.core import CallContext, Transfer
from voicebot.handoff.bridge import HandoffBridge
from voicebot.handoff.relay import Relay, RelayHandle
from voicebot.pipeline.state import CallState

RATE = 16000
CHUNK = RATE * CHUNK_MS // 1000


class SettlingRelay(Relay):
    """The relay, with its lines counted as pipeline work so the fast line waits for their TTS."""

    async def speak(self, text: str, language: str) -> None:
        self.state.activity.begin(self._turns + 1)  # ended by the output when the line's last audio is queued
        await super().speak(text, language)


class HandoffReplayOutput(ReplayOutput):
    def __init__(self, state: CallState, rate: int, bridge: HandoffBridge) -> None:
        super().__init__(state, rate)
        self.relay = SettlingRelay(self, bridge)
        self.handle = RelayHandle(self.relay, "replay")
        self.hung_up = False

    async def process_frame(self, frame, direction) -> None:
        if self.relay.drops(frame, direction):
            return
        await super().process_frame(frame, direction)

    async def transfer(self, action: Transfer) -> None:
        await self.relay.request(self.handle, action)

    async def hang_up(self) -> None:
        self.hung_up = True


@dataclass
class Caller:
    """What the caller does, tick by tick: presses 0 after the greeting, speaks ``message`` once
    the voicemail is recording, then presses # (``then="hash"``), hangs up after ``hang_up_after_s``
    of the message (``then="hang_up"``), or just goes quiet (``then="quiet"``)."""

    message: np.ndarray
    then: str = "hash"
    hang_up_after_s: float = 0.0
    hash_after_s: float = 0.6  # silence between the end of the message and '#'
    sent: list[bytes] = field(default_factory=list)
    phase: str = "greeting"
    message_from_tick: int | None = None
    _pos: int = 0

    def step(self, tick: int, state: CallState) -> tuple[bytes, str | None, bool]:
        """(20 ms of audio, a digit or None, hang up now)."""
        silent = bytes(CHUNK * 2)
        ev = state.events.events
        if self.phase == "greeting":
            if any(e.kind == "bot_speech_stop" for e in ev):
                self.phase = "waiting"
                return silent, "0", False
            return silent, None, False
        if self.phase == "waiting":
            if any(e.kind == "action" and e.data.get("action") == "voicemail" and e.data.get("reason") == "recording" for e in ev):
                self.phase, self.message_from_tick = "speaking", tick
            else:
                return silent, None, False
        if self.phase == "speaking":
            if self.then == "hang_up" and self._pos >= int(self.hang_up_after_s * RATE):
                self.phase = "gone"
                return silent, None, True
            chunk = self.message[self._pos : self._pos + CHUNK]
            self._pos += CHUNK
            if self._pos >= len(self.message):
                self.phase, self._pos = "after", 0
            return chunk.astype("<i2").tobytes().ljust(CHUNK * 2, b"\0"), None, False
        if self.phase == "after":
            self._pos += CHUNK
            if self.then == "hash" and self._pos >= int(self.hash_after_s * RATE):
                self.phase = "done"
                return silent, "#", False
        return silent, None, False


@dataclass
class LineResult:
    call: CallResult
    bot: np.ndarray  # what the caller heard, int16 at RATE
    caller: np.ndarray  # what the caller sent, int16 at RATE
    state: CallState
    output: HandoffReplayOutput


async def run_line(runtime, bridge: HandoffBridge, caller: Caller, *, call_id: str, caller_number: str | None = None,
                   language: str = "en", transcriber=None, max_s: float = 240.0,
                   on_tick: Callable[[int, CallState], None] | None = None) -> LineResult:
    """One call on the fast line; returns when the call has ended (bounded by ``max_s`` of audio)."""
    clock = VirtualClock()
    outputs: list[HandoffReplayOutput] = []

    def make_transport(state: CallState) -> CallTransport:
        out = HandoffReplayOutput(state, RATE, bridge)
        outputs.append(out)
        return CallTransport(CallInput(state), out)

    ctx = CallContext(call_id=call_id, channel="replay", caller_number=caller_number, language=language)
    session = CallSession(runtime, ctx, make_transport, clock=clock, transcriber=transcriber)
    state = session.prepare()
    run_task = asyncio.create_task(session.run())
    started = asyncio.create_task(session.started.wait())
    await asyncio.wait({run_task, started}, return_when=asyncio.FIRST_COMPLETED)
    inp, out = session.transport.input(), outputs[0]
    tick = 0
    while not run_task.done() and tick * CHUNK_MS < max_s * 1000:
        pcm, digit, hang_up = caller.step(tick, state)
        if hang_up:
            await inp.far_end_hung_up("caller_hung_up")
            break
        caller.sent.append(pcm)
        if digit:
            await inp.push_dtmf(digit)
        await inp.push_audio(pcm, RATE)
        await state.wait_audio((tick + 1) * CHUNK_MS)
        await state.activity.wait_idle(timeout=120)
        await asyncio.sleep(0)
        await out.tick()
        clock.advance(CHUNK_MS / 1000)
        tick += 1
        if on_tick is not None:
            on_tick(tick, state)
    if not run_task.done():
        await session.end("test_line_limit")
    result = await asyncio.wait_for(run_task, 60)
    return LineResult(result, np.frombuffer(b"".join(out.track), "<i2"), np.frombuffer(b"".join(caller.sent), "<i2"), state, out)
