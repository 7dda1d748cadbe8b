"""Barge-in and end-of-turn evaluation: our policy and pipecat's stock configuration, one run.

    python -m voicebot.turns.evaluate [--out benchmarks/bargein/results.json] [--quick]

Scenarios come from :mod:`benchmarks.bargein.build` (real recordings in ../shared/audio,
the bot's espeak-ng TTS mixed back as echo, espeak-ng backchannels). Both systems see the
same caller signal, frame by frame in audio time:

* **ours** — echo control (SpeexDSP AEC + gate) -> webrtcvad -> :class:`TurnEngine`
  (pause on VAD start, confirm by words / voiced length, semantic end of turn with the
  real smart-turn model). Word confirmations use an ORACLE transcript (the label's text,
  revealed once 300 ms of the clip have been heard, 150 ms ASR latency), because no real
  ASR model is on this machine (only a random-weight dev Whisper).
* **stock** — pipecat defaults: Silero VAD (confidence 0.7, start 0.2 s, stop 0.2 s,
  min_volume 0.6), interruption on VAD start (the bot's turn is abandoned at once), no
  echo handling, end of turn by smart-turn v3 after the VAD stop, 3 s fallback.

Reaction = caller onset -> the next 20 ms transport tick after the pause/interrupt decision.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.turns.engine import TurnEngine
from voicebot.turns.policy import BargeInPolicy, EchoPolicy, EndOfTurnPolicy, TurnPolicy

RATE = 16000
OURS = TurnPolicy(barge_in=BargeInPolicy(confirm_ms=400, confirm_by_words=True, backchannel_max_ms=900),
                  end_of_turn=EndOfTurnPolicy(silence_ms=700, quick_silence_ms=250, incomplete_silence_ms=1500, semantic=("smart_turn",)),
                  echo=EchoPolicy(enabled=True))
START_MS = 60  # webrtcvad voiced run for "speaking" (phone.yaml: vad.start_ms)
ASR_LATENCY_MS = 150
ORACLE_AFTER_MS = 300


@dataclass
class Outcome:
    paused_ms: float | None = None  # audio time the transport stopped the bot (tick after the decision)
    confirmed_ms: float | None = None
    abandoned: bool = False
    utterance_ends: list[float] | None = None


def _tick(t: float) -> float:
    return float(np.ceil(t / 20.0) * 20.0)


def run_ours(sc: dict, caller: np.ndarray, bot: np.ndarray, smart_turn) -> Outcome:
    import webrtcvad

    from voicebot.audio.echo import EchoProcessor

    vad = webrtcvad.Vad(2)
    echo = EchoProcessor(OURS.echo)
    eng = TurnEngine(OURS)
    eng.language = sc.get("language", "en")
    res = Outcome(utterance_ends=[])
    run_v = run_q = 0
    on = False
    pending: list[tuple[float, str, int]] = []  # (ready_ms, kind, seq)
    onset = sc.get("onset_ms") or 0.0
    text = sc.get("text", "")
    stop_ms = OURS.end_of_turn.vad_stop_ms

    def apply(actions, t):
        for a in actions:
            if a.kind == "pause" and res.paused_ms is None:
                res.paused_ms = _tick(t)
            elif a.kind == "interrupt":
                res.confirmed_ms = res.confirmed_ms or t
                res.abandoned = True
                res.paused_ms = res.paused_ms if res.paused_ms is not None else _tick(t)
            elif a.kind == "utterance":
                res.utterance_ends.append(t)
            elif a.kind == "partial":
                pending.append((t + ASR_LATENCY_MS, "partial", a.data["seq"]))
            elif a.kind == "check":
                prob = smart_turn.predict(np.frombuffer(a.data["audio"], dtype="<i2")) if smart_turn else None
                pending.append((t + 30, "check", a.data["seq"], prob))

    n = len(caller) // 160
    for i in range(n):
        t = (i + 1) * 10.0
        eng.bot_active = bool(sc.get("bot_until_ms", 0) > t) and not res.abandoned
        if eng.bot_active and not eng.paused:
            echo.add_reference(bot[i * 160 : (i + 1) * 160])
        frame = echo.process(caller[i * 160 : (i + 1) * 160])
        voiced = vad.is_speech(frame.astype("<i2").tobytes(), RATE)
        apply(eng.audio(t, frame.tobytes(), voiced), t)
        run_v = run_v + 10 if voiced else 0
        run_q = 0 if voiced else run_q + 10
        if not on and run_v >= START_MS:
            on = True
            apply(eng.vad_start(START_MS), t)
        if on and run_q >= stop_ms:
            on = False
            apply(eng.vad_stop(stop_ms), t)
        for p in [p for p in pending if p[0] <= t]:
            pending.remove(p)
            if p[1] == "partial":
                heard = t - ASR_LATENCY_MS - onset
                apply(eng.partial_result(p[2], text if heard >= ORACLE_AFTER_MS and t >= onset else ""), t)
            else:
                apply(eng.check_result(p[2], smart_turn_prob=p[3]), t)
    return res


def run_stock(sc: dict, caller: np.ndarray, smart_turn) -> Outcome:
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams, VADState

    vad = SileroVADAnalyzer(sample_rate=RATE, params=VADParams())
    vad.set_sample_rate(RATE)
    res = Outcome(utterance_ends=[])
    chunk = vad.num_frames_required()
    state = VADState.QUIET
    seg: list[np.ndarray] = []
    quiet_since = None
    for i in range(len(caller) // chunk):
        t = (i + 1) * chunk / RATE * 1000
        buf = caller[i * chunk : (i + 1) * chunk]
        new = vad._run_analyzer(buf.astype("<i2").tobytes())
        if state != VADState.SPEAKING and new == VADState.SPEAKING:
            if sc.get("bot_until_ms", 0) > t and not res.abandoned:
                res.abandoned = True
                res.paused_ms = _tick(t)
                res.confirmed_ms = t
            quiet_since = None
        if new in (VADState.SPEAKING, VADState.STARTING):
            seg.append(buf)
        if state == VADState.SPEAKING and new == VADState.QUIET:
            quiet_since = t
            prob = smart_turn.predict(np.concatenate(seg)) if smart_turn and seg else 0.0
            if prob >= 0.5:
                res.utterance_ends.append(t)
                seg, quiet_since = [], None
        if quiet_since is not None and t - quiet_since >= 3000:
            res.utterance_ends.append(t)
            seg, quiet_since = [], None
        state = new
    return res


def _pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 1) if xs else None


def score(scenarios: list[dict], outcomes: list[Outcome]) -> dict:
    react, missed, abandoned_bad, paused_bad, cut, n_int, n_neg, n_eot = [], 0, 0, 0, 0, 0, 0, 0
    for sc, o in zip(scenarios, outcomes):
        if sc["kind"] == "interrupt":
            n_int += 1
            if o.paused_ms is not None and o.paused_ms >= sc["onset_ms"] - 20:
                react.append(o.paused_ms - sc["onset_ms"])
            if o.confirmed_ms is None or o.confirmed_ms - sc["onset_ms"] > 600:
                missed += 1
        elif sc["kind"] in ("backchannel", "echo", "noise", "echo_noise"):
            n_neg += 1
            abandoned_bad += o.abandoned
            paused_bad += o.paused_ms is not None
        elif sc["kind"] == "pauses":
            n_eot += 1
            last = sc["last_speech_ms"]
            cut += any(e < last - 50 for e in o.utterance_ends)
    return {"interruptions": n_int, "reaction_p50_ms": _pct(react, 50), "reaction_p95_ms": _pct(react, 95),
            "missed_pct": round(100 * missed / max(1, n_int), 1),
            "bot_turns_without_interruption": n_neg, "abandoned_pct": round(100 * abandoned_bad / max(1, n_neg), 1),
            "paused_pct": round(100 * paused_bad / max(1, n_neg), 1),
            "turns_with_pauses": n_eot, "cutoff_pct": round(100 * cut / max(1, n_eot), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="a third of the scenarios")
    args = ap.parse_args(argv)
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bargein" / "build.py"
    spec = importlib.util.spec_from_file_location("bargein_build", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    build_scenarios = mod.build_scenarios
    from voicebot.turns.smart_turn import SmartTurn

    scenarios = build_scenarios()
    if args.quick:
        scenarios = scenarios[::3]
    st = SmartTurn()
    ours, stock = [], []
    for sc in scenarios:
        caller, bot = sc.pop("_caller"), sc.pop("_bot")
        ours.append(run_ours(sc, caller, bot, st))
        stock.append(run_stock(sc, caller, st))
    report = {"scenarios": len(scenarios), "ours": score(scenarios, ours), "stock_pipecat": score(scenarios, stock),
              "notes": ["word confirmations: ORACLE label text (no real ASR model here), 150 ms latency",
                        "stock: Silero defaults, interrupt on VAD start, smart-turn v3 + 3 s fallback, no echo handling"]}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
