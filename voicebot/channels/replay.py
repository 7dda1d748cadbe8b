"""The replay channel: a recorded caller on a simulated full-duplex line.

Each 20 ms tick feeds 20 ms of the caller's recording to the pipeline and plays 20 ms of
the bot, exactly as a phone line would, so barge-in, pauses and echo behave as on a call.
At real-time pace the ticks follow the wall clock; with ``fast=True`` they run on a
:class:`~voicebot.clock.VirtualClock` that only moves once the pipeline has settled, so
compute takes no audio time and a run gives the same timeline on any machine.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.pcm import write_wav
from voicebot.call import CallResult, CallSession
from voicebot.channels.base import CHUNK_MS, CallInput, CallOutput, CallTransport
from voicebot.clock import RealClock, VirtualClock
from voicebot.core import CallContext
from voicebot.pipeline.state import CallState
from voicebot.runtime import Runtime


class ReplayOutput(CallOutput):
    """Writes what the caller would hear into a track, one chunk per tick."""

    def __init__(self, state: CallState, sample_rate: int) -> None:
        super().__init__(state, sample_rate, pacing="external")
        # A tick answers the caller audio that ended at its close, so what the bot sends on tick
        # i is heard in the next 20 ms slot: the track starts one chunk late.
        self.track: list[bytes] = [b"\0" * self.chunk_bytes]

    async def send_audio(self, chunk: bytes) -> None:
        self.track.append(chunk)

    async def send_idle(self) -> None:
        self.track.append(b"\0" * self.chunk_bytes)


@dataclass(frozen=True)
class ReplayOptions:
    fast: bool = False  # virtual clock instead of real-time pace
    sample_rate: int = 16000  # the line's rate (8000 simulates a telephone line)
    tail_s: float = 1.5  # keep the line open this long after the bot has gone quiet
    max_tail_s: float = 60.0
    language: str | None = None  # a language the channel already knows (like an in-app token)
    settle_timeout_s: float = 120.0  # fast mode: longest wait for ASR/dialogue/TTS on one tick
    dtmf: tuple[tuple[float, str], ...] = ()  # keypad presses: (ms from call start, digit)


@dataclass
class ReplayResult:
    call: CallResult
    caller: np.ndarray  # int16 at sample_rate
    bot: np.ndarray  # int16 at sample_rate, time-aligned with caller
    sample_rate: int

    def write(self, out_dir: Path) -> dict[str, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        n = max(len(self.caller), len(self.bot))
        caller = np.pad(self.caller, (0, n - len(self.caller)))
        bot = np.pad(self.bot, (0, n - len(self.bot)))
        paths = {"bot": out_dir / "bot.wav", "call": out_dir / "call.wav", "events": out_dir / "events.jsonl"}
        write_wav(paths["bot"], bot, self.sample_rate)
        write_wav(paths["call"], np.stack([caller, bot], axis=1).reshape(-1), self.sample_rate, channels=2)
        with open(paths["events"], "w") as f:
            for ev in self.call.events:
                f.write(ev.to_json() + "\n")
        return paths


async def replay_call(runtime: Runtime, caller: np.ndarray, options: ReplayOptions = ReplayOptions(), *, call_id: str = "replay",
                      spec=None, transcriber=None, sinks=()) -> ReplayResult:
    """Run ``caller`` (int16 mono at ``options.sample_rate``) through one call."""
    rate = options.sample_rate
    clock = VirtualClock() if options.fast else None
    outputs: list[ReplayOutput] = []

    def make_transport(state: CallState) -> CallTransport:
        out = ReplayOutput(state, rate)
        outputs.append(out)
        return CallTransport(CallInput(state), out)

    ctx = CallContext(call_id=call_id, channel="replay", language=options.language)
    session = CallSession(runtime, ctx, make_transport, spec=spec, clock=clock, transcriber=transcriber)
    for sink in sinks:
        session.subscribe(sink)
    state = session.prepare()
    if clock is None:
        state.clock = RealClock()
    run_task = asyncio.create_task(session.run())
    await asyncio.wait({run_task, asyncio.create_task(session.started.wait())}, return_when=asyncio.FIRST_COMPLETED)
    inp, out = session.transport.input(), outputs[0]
    chunk = rate * CHUNK_MS // 1000
    caller_chunks: list[bytes] = []
    silent = b"\0" * (chunk * 2)
    tick, quiet_ticks, tail_ticks = 0, 0, 0
    need_quiet = int(options.tail_s * 1000 / CHUNK_MS)
    max_tail = int(options.max_tail_s * 1000 / CHUNK_MS)
    n_chunks = (len(caller) + chunk - 1) // chunk
    while not run_task.done():
        if tick < n_chunks:
            pcm = caller[tick * chunk : (tick + 1) * chunk]
            data = pcm.astype("<i2").tobytes().ljust(chunk * 2, b"\0")
        else:
            data = silent
            tail_ticks += 1
        caller_chunks.append(data)
        for at_ms, digit in options.dtmf:
            if tick * CHUNK_MS <= at_ms < (tick + 1) * CHUNK_MS:
                await inp.push_dtmf(digit)
        await inp.push_audio(data, rate)
        target_ms = (tick + 1) * CHUNK_MS
        if options.fast:
            await state.wait_audio(target_ms)
            await state.activity.wait_idle(timeout=options.settle_timeout_s)
            await asyncio.sleep(0)
        else:
            await state.clock.sleep_until(target_ms / 1000)
        await out.tick()
        if clock is not None:
            clock.advance(CHUNK_MS / 1000)
        tick += 1
        if tick >= n_chunks:
            idle = not state.activity.busy and not state.bot_speaking and out.queued_ms == 0
            quiet_ticks = quiet_ticks + 1 if idle else 0
            if quiet_ticks >= need_quiet or tail_ticks >= max_tail:
                break
    if not run_task.done():
        state.end_reason = state.end_reason or "replay_finished"
        await session.end("replay_finished")
    result = await run_task
    caller_pcm = np.frombuffer(b"".join(caller_chunks), dtype="<i2")
    bot_pcm = np.frombuffer(b"".join(out.track), dtype="<i2")
    return ReplayResult(call=result, caller=caller_pcm, bot=bot_pcm, sample_rate=rate)


def summarize(result: ReplayResult) -> dict:
    """Per-stage timings of a replay (the figures a closing note or a QA review wants)."""
    ev = result.call.events
    asr = [e.data.get("asr_ms") for e in ev if e.kind == "transcript" and e.data.get("asr_ms") is not None]
    dialogue = [e.data.get("dialogue_ms") for e in ev if e.kind == "bot_reply" and e.data.get("dialogue_ms") is not None]
    tts = [e.data.get("tts_first_audio_ms") for e in ev if e.kind == "bot_speech_start" and e.data.get("tts_first_audio_ms") is not None]
    v2v = []
    for te in (e for e in ev if e.kind == "turn_end" and "turn_id" in e.data):
        start = next((e for e in ev if e.kind == "bot_speech_start" and e.data.get("turn_id") == te.data["turn_id"]), None)
        if start is not None:
            v2v.append(round(start.t_ms - te.data["end_ms"], 1))
    med = lambda xs: float(np.median(xs)) if xs else None  # noqa: E731
    return {
        "call_id": result.call.call_id, "outcome": result.call.outcome, "end_reason": result.call.end_reason,
        "dev_models": result.call.dev_models,
        "warning": "DEV MODEL (random weights): transcripts are meaningless; timings are real" if result.call.dev_models else None,
        "turns": sum(1 for e in ev if e.kind == "turn_end" and "turn_id" in e.data),
        "interruptions": sum(1 for e in ev if e.kind == "interruption"),
        "asr_ms": asr, "dialogue_ms": dialogue, "tts_first_audio_ms": tts, "voice_to_voice_ms": v2v,
        "median": {"asr_ms": med(asr), "dialogue_ms": med(dialogue), "tts_first_audio_ms": med(tts), "voice_to_voice_ms": med(v2v)},
        "bot_audio_s": round(float(np.count_nonzero(np.abs(result.bot) > 200)) / result.sample_rate, 2),
    }


def write_summary(out_dir: Path, summary: dict) -> Path:
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return path
