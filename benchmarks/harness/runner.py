"""Run scenarios through the call pipeline on the replay line and collect their figures."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

from benchmarks.harness.line import CallerScript, LineRun, run_line
from benchmarks.harness.metrics import TurnTruth, add_clear_figures, percentile, scenario_checks, stage_figures, turn_figures
from benchmarks.harness.oracle import ScenarioOracle
from benchmarks.harness.scenario import RUNNABLE_CHANNELS, Scenario
from voicebot.audio.pcm import resample
from benchmarks.harness.synth import Clip, Synthesizer, load_noise, noise_gain, turn_clip
from benchmarks.harness.sip_line import SipBench, run_sip_line
from benchmarks.harness.twilio_line import TwilioBench, run_twilio_line
from benchmarks.harness.webrtc_line import WebRTCBench, run_webrtc_line
from voicebot.call import CallSession
from voicebot.channels.replay import ReplayOptions
from voicebot.logs import get_logger
from voicebot.runtime import Runtime

log = get_logger(__name__)


@dataclass(frozen=True)
class BenchOptions:
    fast: bool = False  # virtual clock: figures about logic, not speed
    asr: str = "model"  # model | oracle (the scenario's text)
    concurrency: int = 1  # copies of each scenario run at once
    # The copies start spread evenly over this many seconds (0: all at the same moment, the worst
    # case: every caller ends a sentence together). Callers arrive at random on a real line.
    spread_s: float = 0.0
    save_calls: Path | None = None  # write events.jsonl (and call.wav) of every call here
    save_audio: bool = False
    max_tail_s: float = 12.0  # once the caller is done, end the call after this much bot activity at most
    settle_timeout_s: float = 15.0  # fast mode: a tick whose work takes longer than this ends the call (reported as an error)


LINE_RATE = 16000
TELEPHONE_RATE = 8000
# Channels with a real transport: (the per-run server/peers, the per-call runner, the caller's
# audio rate: telephone 8 kHz, the browser's microphone 16 kHz). Real-time pace only.
NETWORK_LINES: dict[str, tuple[Any, Any, int]] = {"twilio": (TwilioBench, run_twilio_line, TELEPHONE_RATE),
                                                  "sip": (SipBench, run_sip_line, TELEPHONE_RATE),
                                                  "webrtc": (WebRTCBench, run_webrtc_line, LINE_RATE)}


def build_script(scenario: Scenario, synth: Synthesizer, line_rate: int = LINE_RATE) -> CallerScript:
    """The caller's clips at the scenario's band (8 kHz = telephone audio), carried on a
    16 kHz line. Why not an 8 kHz line: the channel input's streaming resampler (soxr HQ)
    holds back its first ~100+ ms, so the pipeline's audio clock never catches up with the
    line's and a ``--fast`` run waits out a timeout on every tick (reported to the core)."""
    band = scenario.sample_rate
    clips = [turn_clip(t, scenario, synth, band) for t in scenario.turns]
    noise, gain = None, 0.0
    if scenario.noise is not None:
        noise = load_noise(scenario.noise.audio, band)
        gain = noise_gain(noise, clips, scenario.noise.snr_db)
    if band != line_rate:
        clips = [Clip(resample(c.pcm, band, line_rate), line_rate, c.onset_ms, c.end_ms, c.source) for c in clips]
        noise = None if noise is None else resample(noise, band, line_rate)
    return CallerScript(list(zip(scenario.turns, clips)), line_rate, noise, gain)


def truths_of(script: CallerScript) -> list[TurnTruth]:
    return [TurnTruth(pt.index, pt.turn.when, None if pt.start_ms is None else pt.onset_ms, None if pt.start_ms is None else pt.speech_end_ms,
                      barge_in=pt.turn.barge_in, expect_intent=pt.turn.expect_intent, text=pt.turn.text, anchor=pt.anchor,
                      voice=pt.clip.source)
            for pt in script.turns]


def scenario_report(scenario: Scenario, run: LineRun, truths: list[TurnTruth], *, variant: str, oracle: bool, call_id: str) -> dict[str, Any]:
    """One call's figures and checks (JSON-ready)."""
    events = run.replay.call.events
    dev = list(run.replay.call.dev_models)
    rows = turn_figures(events, truths)
    if run.clear_ms is not None:
        add_clear_figures(rows, run.clear_ms)
    accuracy_checked = oracle or not dev
    checks = scenario_checks(events, rows, scenario.expect, accuracy_checked=accuracy_checked)
    return {
        "name": scenario.name, "file": str(scenario.path), "language": scenario.language, "channel": scenario.channel, "variant": variant,
        "call_id": call_id, "outcome": run.replay.call.outcome, "end_reason": run.replay.call.end_reason, "dev_models": dev,
        "audio_s": round(len(run.replay.caller) / run.replay.sample_rate, 2), "wall_s": round(run.wall_s, 2),
        "feeder_late_p99_ms": percentile(run.late_ms, 99), "feeder_late_max_ms": round(max(run.late_ms), 1) if run.late_ms else None,
        "turns": rows, "stages": stage_figures(events), "checks": checks,
        "passed": all(c["ok"] is not False for c in checks),
        "errors": [e.data for e in events if e.kind == "error"],
    }


async def run_scenario(runtime: Runtime, scenario: Scenario, opts: BenchOptions, synth: Synthesizer, *, variant: str = "ours",
                       call_id: str | None = None, session_factory: Callable[..., CallSession] = CallSession, spec=None,
                       lines: dict[str, Any] | None = None) -> dict[str, Any]:
    if scenario.channel not in RUNNABLE_CHANNELS:
        raise NotImplementedError(f"{scenario.path}: channel {scenario.channel!r} is not run by the bench yet; use channel: direct, twilio, sip or webrtc")
    call_id = call_id or f"{variant}-{scenario.name}"
    if scenario.channel in NETWORK_LINES:
        line = (lines or {}).get(scenario.channel)
        if line is None or opts.fast:
            raise ValueError(f"{scenario.path}: channel {scenario.channel} runs over its real transport at real-time pace (no --fast)")
        script = await asyncio.to_thread(build_script, scenario, synth, NETWORK_LINES[scenario.channel][2])
        oracle = ScenarioOracle(script, scenario.language) if opts.asr == "oracle" else None

        def make_session(rt, ctx, make_transport) -> CallSession:
            return session_factory(rt, ctx, make_transport, spec=spec, transcriber=oracle)

        run_network_line = NETWORK_LINES[scenario.channel][1]
        run = await run_network_line(line, script, call_id=call_id, make_session=make_session, transcriber=oracle,
                                     tail_s=scenario.tail_s, max_tail_s=opts.max_tail_s)
    else:
        script = await asyncio.to_thread(build_script, scenario, synth)  # espeak-ng and file reads off the loop
        oracle = ScenarioOracle(script, scenario.language) if opts.asr == "oracle" else None
        options = ReplayOptions(fast=opts.fast, sample_rate=LINE_RATE, tail_s=scenario.tail_s, max_tail_s=opts.max_tail_s,
                                settle_timeout_s=opts.settle_timeout_s)
        run = await run_line(runtime, script, options, call_id=call_id, spec=spec, transcriber=oracle, session_factory=session_factory)
    report = scenario_report(scenario, run, truths_of(script), variant=variant, oracle=oracle is not None, call_id=call_id)
    if opts.save_calls is not None:
        out = opts.save_calls / variant / call_id
        if opts.save_audio:
            await asyncio.to_thread(run.replay.write, out)
        else:
            out.mkdir(parents=True, exist_ok=True)
            (out / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in run.replay.call.events))
    return report


async def run_all(runtime: Runtime, scenarios: list[Scenario], opts: BenchOptions, *, variant: str = "ours",
                  session_factory: Callable[..., CallSession] = CallSession, spec=None, progress=None) -> list[dict[str, Any]]:
    """Every scenario in order; each one as ``opts.concurrency`` simultaneous calls."""
    async with contextlib.AsyncExitStack() as stack:
        lines = {ch: await stack.enter_async_context(NETWORK_LINES[ch][0](runtime)) for ch in sorted({s.channel for s in scenarios} & set(NETWORK_LINES))}
        return await _run_each(runtime, scenarios, opts, variant=variant, session_factory=session_factory, spec=spec,
                               progress=progress, lines=lines)


async def _run_each(runtime: Runtime, scenarios: list[Scenario], opts: BenchOptions, *, variant: str, session_factory, spec, progress,
                    lines: dict[str, Any]) -> list[dict[str, Any]]:
    synth = Synthesizer(runtime.settings.models.dir)
    results: list[dict[str, Any]] = []
    for sc in scenarios:
        calls = [_after(i * opts.spread_s / opts.concurrency,
                        run_scenario(runtime, sc, opts, synth, variant=variant, call_id=f"{variant}-{sc.name}-{i}" if opts.concurrency > 1 else None,
                                     session_factory=session_factory, spec=spec, lines=lines)) for i in range(opts.concurrency)]
        for res in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(res, BaseException):
                if isinstance(res, (KeyboardInterrupt, asyncio.CancelledError)):
                    raise res
                log.error("scenario failed to run", extra={"scenario": sc.name, "error": repr(res)})
                res = {"name": sc.name, "file": str(sc.path), "language": sc.language, "channel": sc.channel, "variant": variant,
                       "turns": [], "stages": {"asr_ms": [], "dialogue_ms": [], "tts_first_audio_ms": []},
                       "checks": [{"check": "ran", "expected": True, "actual": repr(res), "ok": False, "skipped": None}],
                       "passed": False, "errors": [{"where": "bench", "message": repr(res)}], "dev_models": []}
            results.append(res)
            if progress is not None:
                progress.update(1)
                progress.set_postfix_str(f"{variant}:{sc.name}")
    return results


async def _after(delay_s: float, call: Any) -> dict[str, Any]:
    """Start ``call`` this many (real) seconds from now: a caller arriving later."""
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    return await call
