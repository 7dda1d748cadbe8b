"""A scripted caller on the replay line, reacting to the bot.

:func:`voicebot.channels.replay.replay_call` feeds a fixed recording; a scenario's caller
instead answers the bot ("400 ms after the bot's audio ends", "900 ms into the bot's
reply"), so what it plays on each 20 ms tick depends on what the bot did so far. This
module keeps replay's line exactly (its :class:`ReplayOutput`, the same tick order: feed
20 ms of caller, let the pipeline settle or wait for the wall clock, play 20 ms of bot) and
adds the reacting caller. It would fold into ``replay_call`` as a "caller source" hook.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks.harness.scenario import Turn
from benchmarks.harness.synth import Clip
from voicebot.call import CallSession
from voicebot.channels.base import CHUNK_MS, CallInput, CallTransport
from voicebot.channels.replay import ReplayOptions, ReplayOutput, ReplayResult
from voicebot.clock import RealClock, VirtualClock
from voicebot.core import CallContext
from voicebot.events import CallEvent
from voicebot.pipeline.state import CallState
from voicebot.runtime import Runtime


BOT_TALKS_MAX_MS = 60000.0  # a turn waiting for the bot gives up even on a bot still talking after this


@dataclass
class PlacedTurn:
    """A scenario turn and where the caller actually played it (ms of caller audio)."""

    index: int
    turn: Turn
    clip: Clip
    start_ms: float | None = None
    anchor: str = ""  # what it was placed against: "bot_end", "bot_start", "at", "timeout"

    @property
    def onset_ms(self) -> float:
        assert self.start_ms is not None
        return self.start_ms + self.clip.onset_ms

    @property
    def speech_end_ms(self) -> float:
        assert self.start_ms is not None
        return self.start_ms + self.clip.end_ms

    @property
    def stop_ms(self) -> float:
        assert self.start_ms is not None
        return self.start_ms + self.clip.duration_ms


class CallerScript:
    """Decides on every tick what the caller plays, from the bot's events so far.

    Subscribe :meth:`on_event` to the call; call :meth:`chunk` once per tick in order.
    """

    def __init__(self, turns: list[tuple[Turn, Clip]], rate: int, noise: np.ndarray | None = None, noise_gain: float = 0.0) -> None:
        self.rate = rate
        self.turns = [PlacedTurn(i, t, c) for i, (t, c) in enumerate(turns)]
        self.noise = noise
        self.noise_gain = noise_gain
        self.bot_starts: list[float] = []
        self.bot_stops: list[float] = []
        self.bot_speaking = False
        self._next = 0

    def on_event(self, ev: CallEvent) -> None:
        if ev.kind == "bot_speech_start":
            self.bot_starts.append(ev.t_ms)
            self.bot_speaking = True
        elif ev.kind == "bot_speech_stop":
            self.bot_stops.append(ev.t_ms)
            self.bot_speaking = False

    def _ref_ms(self, k: int) -> float:
        return self.turns[k - 1].stop_ms if k > 0 else 0.0

    def _place(self, now_ms: float) -> None:
        """Place the next turns whose moment is known: the caller's speech onset lands at the
        anchor + gap/offset (the clip's lead-in plays just before it)."""
        while self._next < len(self.turns):
            k = self._next
            pt, t = self.turns[k], self.turns[k].turn
            ref = self._ref_ms(k)
            lead = pt.clip.onset_ms
            onset: float | None = None
            if t.when == "at":
                onset, pt.anchor = float(t.at_ms or 0), "at"
            elif t.when == "continue":
                onset, pt.anchor = self.turns[k - 1].speech_end_ms + t.gap_ms, "caller_end"
            elif k > 0 and now_ms < ref:
                return  # the caller is still saying the previous turn
            elif t.when == "after_bot":
                stop = next((s for s in self.bot_stops if s >= ref), None)
                if stop is not None and not self.bot_speaking:
                    onset, pt.anchor = stop + t.gap_ms, "bot_end"
            else:  # during_bot: offset from the start of the bot audio playing now, or the next one
                begun = [s for s in self.bot_starts if s >= ref] or ([self.bot_starts[-1]] if self.bot_speaking and self.bot_starts else [])
                if begun:
                    onset, pt.anchor = begun[0] + t.offset_ms, "bot_start"
            if onset is None and now_ms >= ref + t.wait_bot_ms and (not self.bot_speaking or now_ms >= ref + t.wait_bot_ms + BOT_TALKS_MAX_MS):
                onset, pt.anchor = now_ms + lead, "timeout"  # the bot never did what the turn waits for
            if onset is None:
                return
            pt.start_ms = max(onset - lead, now_ms)
            self._next += 1

    def chunk(self, tick: int) -> np.ndarray:
        """The caller's 20 ms at ``tick`` (int16, line rate)."""
        now_ms = tick * CHUNK_MS
        self._place(now_ms)
        n = self.rate * CHUNK_MS // 1000
        s0 = tick * n
        out = np.zeros(n, dtype=np.float64)
        for pt in self.turns:
            if pt.start_ms is None:
                break
            a = int(round(pt.start_ms * self.rate / 1000))
            lo, hi = max(s0, a), min(s0 + n, a + len(pt.clip.pcm))
            if lo < hi:
                out[lo - s0 : hi - s0] += pt.clip.pcm[lo - a : hi - a]
        if self.noise is not None and self.noise_gain > 0:
            idx = (np.arange(s0, s0 + n)) % len(self.noise)
            out += self.noise[idx].astype(np.float64) * self.noise_gain
        return np.clip(out, -32768, 32767).astype(np.int16)

    def finished(self, tick: int, reply_wait_ms: float = 10000.0) -> bool:
        """Every turn has been placed and played, and the last one (unless a backchannel) has
        had its answer begin, or ``reply_wait_ms`` went by without one."""
        now = tick * CHUNK_MS
        if self._next < len(self.turns) or any(now < pt.stop_ms for pt in self.turns):
            return False
        last = self.turns[-1]
        if last.turn.barge_in == "not_expected":
            return True
        answered = any(s >= last.speech_end_ms for s in self.bot_starts)
        return answered or now >= last.speech_end_ms + reply_wait_ms


@dataclass
class LineRun:
    """A scripted call's outcome: the replay result, the placed turns and how well the
    feeder kept real time (``late_ms``: per tick, how far behind its deadline it fed)."""

    replay: ReplayResult
    turns: list[PlacedTurn]
    wall_s: float
    late_ms: list[float] = field(default_factory=list)
    clear_ms: list[float] | None = None  # Twilio line: when each `clear` reached the caller's side


SessionFactory = Callable[..., CallSession]


class Tail:
    """When a scripted call ends, once the caller is done: after ``tail_s`` of a quiet line,
    or after ``max_tail_s`` at most (background noise can keep a bot talking to itself)."""

    def __init__(self, tail_s: float, max_tail_s: float) -> None:
        self.need_quiet = int(tail_s * 1000 / CHUNK_MS)
        self.max_ticks = int(max(tail_s, max_tail_s) * 1000 / CHUNK_MS)
        self.quiet = self.ticks = 0

    def done(self, idle: bool) -> bool:
        """Call once per tick after the caller finished; ``idle``: nothing busy or playing."""
        self.ticks += 1
        self.quiet = self.quiet + 1 if idle else 0
        return self.quiet >= self.need_quiet or self.ticks >= self.max_ticks


def place_audio(frames: list[tuple[float, np.ndarray]], n_samples: int, rate: int) -> np.ndarray:
    """The bot's audio as the caller heard it: each (ms on the caller's timeline, int16 at
    ``rate``) frame written at its place in an ``n_samples`` track."""
    out = np.zeros(n_samples, dtype=np.int16)
    for at_ms, pcm in frames:
        a = int(round(at_ms * rate / 1000))
        lo, hi = max(a, 0), min(a + len(pcm), n_samples)
        if lo < hi:
            out[lo:hi] = pcm[lo - a : hi - a]
    return out


async def run_line(runtime: Runtime, script: CallerScript, options: ReplayOptions, *, call_id: str, spec=None, transcriber=None,
                   sinks=(), session_factory: SessionFactory = CallSession, max_call_s: float = 600.0) -> LineRun:
    """Run one call with ``script`` as the caller; the same tick loop as ``replay_call``."""
    rate = options.sample_rate
    clock = VirtualClock() if options.fast else None
    outputs: list[ReplayOutput] = []

    def make_transport(state: CallState) -> CallTransport:
        out = ReplayOutput(state, rate)
        outputs.append(out)
        return CallTransport(CallInput(state), out)

    ctx = CallContext(call_id=call_id, channel="replay", language=options.language)
    session = session_factory(runtime, ctx, make_transport, spec=spec, clock=clock, transcriber=transcriber)
    session.subscribe(script.on_event)
    for sink in sinks:
        session.subscribe(sink)
    state = session.prepare()
    if hasattr(transcriber, "bind"):  # an oracle reads the caller audio time of each utterance
        transcriber.bind(state)
    t_wall = time.perf_counter()
    run_task = asyncio.create_task(session.run())
    started = asyncio.create_task(session.started.wait())
    await asyncio.wait({run_task, started}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if clock is None:
        state.clock = RealClock()  # audio time starts when the line opens, not when models loaded
    inp, out = session.transport.input(), outputs[0]
    caller_chunks: list[bytes] = []
    late: list[float] = []
    tick = 0
    tail = Tail(options.tail_s, options.max_tail_s)
    max_ticks = int(max_call_s * 1000 / CHUNK_MS)
    while not run_task.done():
        data = script.chunk(tick).astype("<i2").tobytes()
        caller_chunks.append(data)
        await inp.push_audio(data, rate)
        target_ms = (tick + 1) * CHUNK_MS
        if options.fast:
            await state.wait_audio(target_ms)
            if not await state.activity.wait_idle(timeout=options.settle_timeout_s):
                # a turn that never settles would hold a virtual-clock run forever: end it, say so
                state.emit("error", where="bench", message=f"pipeline did not settle within {options.settle_timeout_s} s at {target_ms} ms (fast mode)")
                break
            await asyncio.sleep(0)
        else:
            await state.clock.sleep_until(target_ms / 1000)
            late.append(max(0.0, state.clock.now() * 1000 - target_ms))
        await out.tick()
        if clock is not None:
            clock.advance(CHUNK_MS / 1000)
        tick += 1
        if script.finished(tick) and tail.done(not state.activity.busy and not state.bot_speaking and out.queued_ms == 0):
            break
        if tick >= max_ticks:
            break
    if not run_task.done():
        state.end_reason = state.end_reason or "replay_finished"
        await session.end("replay_finished")
    result = await run_task
    caller_pcm = np.frombuffer(b"".join(caller_chunks), dtype="<i2")
    bot_pcm = np.frombuffer(b"".join(out.track), dtype="<i2")
    replay = ReplayResult(call=result, caller=caller_pcm, bot=bot_pcm, sample_rate=rate)
    return LineRun(replay=replay, turns=script.turns, wall_s=time.perf_counter() - t_wall, late_ms=late)
