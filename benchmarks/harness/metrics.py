"""Benchmark figures from a call's event timeline and the caller's script. Pure functions.

Ground truth comes from the caller's side (where speech begins and ends in the audio the
caller played); the bot's side comes from the transport's events (``bot_speech_start``: the
first bot frame reached the line; ``bot_paused`` / ``bot_speech_stop`` with
``interrupted``: bot audio stopped at the line). All times are ms of caller audio.

- voice-to-voice: end of the caller's speech -> the next ``bot_speech_start``.
- barge-in reaction: caller onset (bot audible at that instant) -> first pause or cut.
- missed barge-in: an expected interruption where the bot's reply was never cut.
- false barge-in: a backchannel/noise (``barge_in: not_expected``) that cut the bot's reply.
- early reply: the bot started speaking inside the caller's turn (between onset and end).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicebot.events import CallEvent

MATCH_SLACK_MS = 600  # a pipeline turn belongs to a scripted turn if it falls within its speech +- this
REACTION_WINDOW_MS = 1500  # after the caller's speech ends, a pause/cut still counts as a reaction


@dataclass(frozen=True)
class TurnTruth:
    """What the caller did on one scripted turn (from the script, not from the bot)."""

    index: int
    when: str
    onset_ms: float | None  # None: never played (the call ended first)
    speech_end_ms: float | None
    barge_in: str | None = None  # expected | not_expected | None
    expect_intent: str | None = None
    text: str | None = None
    anchor: str = ""
    voice: str = ""  # who spoke it: the recording, or the synthetic voice (e.g. "piper:...", "espeak-ng:ko+m3")


def percentile(xs: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), rounded to 0.1 ms; None when empty."""
    return round(float(np.percentile(xs, q)), 1) if xs else None


def median(xs: list[float]) -> float | None:
    return percentile(xs, 50)


def bot_intervals(events: list[CallEvent]) -> list[tuple[float, float]]:
    """[start, stop) of each stretch of bot audio on the line (an open one ends at +inf)."""
    out: list[tuple[float, float]] = []
    start = None
    for e in events:
        if e.kind == "bot_speech_start" and start is None:
            start = e.t_ms
        elif e.kind == "bot_speech_stop" and start is not None:
            out.append((start, e.t_ms))
            start = None
    if start is not None:
        out.append((start, float("inf")))
    return out


def _speaking_at(intervals: list[tuple[float, float]], t: float) -> bool:
    return any(a <= t < b for a, b in intervals)


def match_pipeline_turns(events: list[CallEvent], truths: list[TurnTruth]) -> dict[int, list[CallEvent]]:
    """Scripted turn index -> the pipeline's ``turn_end`` events for it (-1: matched nothing)."""
    played = [t for t in truths if t.onset_ms is not None]
    out: dict[int, list[CallEvent]] = {t.index: [] for t in truths}
    out[-1] = []
    for te in (e for e in events if e.kind == "turn_end" and "turn_id" in e.data and not e.data.get("dtmf")):
        a, b = float(te.data.get("start_ms", te.t_ms)), float(te.data.get("end_ms", te.t_ms))
        best, best_score = -1, -1.0
        for t in played:
            lo, hi = t.onset_ms - MATCH_SLACK_MS, t.speech_end_ms + MATCH_SLACK_MS
            overlap = min(b, hi) - max(a, lo)
            if overlap >= 0 and overlap > best_score:
                best, best_score = t.index, overlap
        out[best].append(te)
    return out


def turn_figures(events: list[CallEvent], truths: list[TurnTruth]) -> list[dict[str, Any]]:
    """Per scripted turn: v2v, barge-in reaction/outcome, early replies, recognised text, intent."""
    intervals = bot_intervals(events)
    matched = match_pipeline_turns(events, truths)
    by_turn = lambda kind: {e.data.get("turn_id"): e for e in events if e.kind == kind}  # noqa: E731
    replies, transcripts = by_turn("bot_reply"), {}
    for e in events:
        if e.kind == "transcript":
            transcripts.setdefault(e.data.get("turn_id"), []).append(e)
    starts = [e.t_ms for e in events if e.kind == "bot_speech_start"]
    stops_cut = [e.t_ms for e in events if e.kind == "bot_speech_stop" and e.data.get("interrupted")]
    pauses = [e.t_ms for e in events if e.kind == "bot_paused"]
    rows = []
    for i, t in enumerate(truths):
        row: dict[str, Any] = {"turn": t.index, "when": t.when, "anchor": t.anchor, "played": t.onset_ms is not None,
                               "onset_ms": t.onset_ms, "speech_end_ms": t.speech_end_ms, "barge_in": t.barge_in,
                               "expect_intent": t.expect_intent, "text": t.text, "voice": t.voice}
        if t.onset_ms is None:
            rows.append(row)
            continue
        next_onset = next((u.onset_ms for u in truths[i + 1 :] if u.onset_ms is not None), float("inf"))
        mine = matched.get(t.index, [])
        ids = [te.data["turn_id"] for te in mine]
        row["pipeline_turns"] = ids
        speaking_at_onset = _speaking_at(intervals, t.onset_ms)
        row["bot_speaking_at_onset"] = speaking_at_onset
        continued = i + 1 < len(truths) and truths[i + 1].when == "continue" and truths[i + 1].onset_ms is not None
        # the bot began speaking while the caller was still in this turn (a pause is inside the turn)
        turn_end = truths[i + 1].onset_ms if continued else t.speech_end_ms
        row["early_replies"] = sum(1 for s in starts if t.onset_ms < s < turn_end and not _speaking_at(intervals, s - 1))
        # voice to voice: the caller expects an answer unless this is a backchannel/noise or they go on
        v2v = None
        if t.barge_in != "not_expected" and not continued and not _speaking_at(intervals, t.speech_end_ms):
            nxt = next((s for s in starts if t.speech_end_ms <= s < next_onset), None)
            v2v = None if nxt is None else round(nxt - t.speech_end_ms, 1)
        row["v2v_ms"] = v2v
        window_end = t.speech_end_ms + REACTION_WINDOW_MS
        cut = next((s for s in stops_cut if t.onset_ms <= s <= window_end), None)
        first_stop = min([s for s in pauses + stops_cut if t.onset_ms <= s <= window_end], default=None)
        row["bot_cut"] = cut is not None
        row["barge_in_ms"] = None
        row["barge_in_result"] = None
        if t.barge_in and speaking_at_onset:
            if t.barge_in == "expected":
                row["barge_in_ms"] = None if first_stop is None else round(first_stop - t.onset_ms, 1)
                row["barge_in_result"] = "ok" if cut is not None else "missed"
            else:
                row["barge_in_result"] = "false" if cut is not None else "ok"
                row["paused_ms"] = None if first_stop is None else round(first_stop - t.onset_ms, 1)
        elif t.barge_in:
            row["barge_in_result"] = "not_applicable"  # the bot was silent when the caller began
        if mine:
            last = max(mine, key=lambda e: e.data.get("end_ms", 0.0))
            row["vad_end_of_turn_ms"] = round(last.t_ms - t.speech_end_ms, 1)
        texts = [e.data.get("text", "") for tid in ids for e in transcripts.get(tid, [])]
        row["transcript"] = " ".join(x for x in texts if x).strip()
        intents = [replies[tid].data.get("intent") for tid in ids if tid in replies]
        row["intent"] = intents[-1] if intents else None
        row["intent_ok"] = None if not t.expect_intent else row["intent"] == t.expect_intent
        rows.append(row)
    return rows


def stage_figures(events: list[CallEvent]) -> dict[str, list[float]]:
    """Per-stage compute from the events (caller turns only; the greeting is not a turn)."""
    asr = [float(e.data["asr_ms"]) for e in events if e.kind == "transcript" and e.data.get("asr_ms") is not None]
    dlg = [float(e.data["dialogue_ms"]) for e in events if e.kind == "bot_reply" and e.data.get("dialogue_ms") is not None
           and e.data.get("turn_id")]
    tts = [float(e.data["tts_first_audio_ms"]) for e in events if e.kind == "bot_speech_start"
           and e.data.get("tts_first_audio_ms") is not None and e.data.get("turn_id")]
    return {"asr_ms": asr, "dialogue_ms": dlg, "tts_first_audio_ms": tts}


_WORD = re.compile(r"[\w']+", re.UNICODE)
_CHAR_LANGS = ("zh", "ja", "ko", "th")


def words(text: str, language: str) -> list[str]:
    """Words (characters for zh, ja, ko, th) for WER; Chinese compared in simplified characters, as the NLU reads it."""
    if language == "zh":
        from voicebot.dialogue.nlu.normalize import _t2s

        text = _t2s(text)
    text = unicodedata.normalize("NFKC", text).lower()
    if language in _CHAR_LANGS:
        return [c for c in text if c.isalnum()]
    return _WORD.findall(text)


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


NO_WORDS = "dev ASR model (random weights): backchannels are told from interruptions by their words, and its words confirm every sound"


def scenario_checks(events: list[CallEvent], rows: list[dict], expect, *, accuracy_checked: bool) -> list[dict[str, Any]]:
    """Each expectation of the scenario: expected, actual, ok (or skipped with the reason)."""
    checks: list[dict[str, Any]] = []

    def add(name: str, expected, actual, ok: bool | None, skipped: str | None = None) -> None:
        checks.append({"check": name, "expected": expected, "actual": actual, "ok": ok, "skipped": skipped})

    no_acc = None if accuracy_checked else "dev ASR model (random weights): its words mean nothing"
    transfers = [e for e in events if e.action == "transfer"]
    outcome = next((e.data.get("outcome") for e in events if e.kind == "call_end"), None)
    if expect.handoff is not None:
        add("handoff", expect.handoff, bool(transfers), expect.handoff == bool(transfers) if accuracy_checked else None, no_acc)
    if expect.order_id is not None:
        seen = sorted({str(e.data.get("slots", {}).get("order_id")) for e in events if e.kind == "bot_reply" and (e.data.get("slots") or {}).get("order_id")})
        add("order_id", expect.order_id, seen, expect.order_id in seen if accuracy_checked else None, no_acc)
    if expect.outcome is not None:
        add("outcome", expect.outcome, outcome, expect.outcome == outcome if accuracy_checked else None, no_acc)
    for r in rows:
        if r.get("expect_intent"):
            add(f"turn{r['turn']}.intent", r["expect_intent"], r.get("intent"), r.get("intent_ok") if accuracy_checked else None, no_acc)
        if not r["played"]:
            add(f"turn{r['turn']}.played", True, False, False)
            continue
        res = r.get("barge_in_result")
        if res is not None and r["barge_in"] == "not_expected" and not accuracy_checked and res != "not_applicable":
            # a backchannel is told from an interruption by its words: a random model's words confirm every sound
            add(f"turn{r['turn']}.barge_in", r["barge_in"], res, None, NO_WORDS)
        elif res is not None:
            add(f"turn{r['turn']}.barge_in", r["barge_in"], res, res == "ok")
        if expect.v2v_max_ms is not None and r.get("v2v_ms") is not None:
            add(f"turn{r['turn']}.v2v_ms", f"<= {expect.v2v_max_ms}", r["v2v_ms"], r["v2v_ms"] <= expect.v2v_max_ms)
        if expect.barge_in_max_ms is not None and r.get("barge_in_ms") is not None:
            add(f"turn{r['turn']}.barge_in_ms", f"<= {expect.barge_in_max_ms}", r["barge_in_ms"], r["barge_in_ms"] <= expect.barge_in_max_ms)
    return checks


def add_clear_figures(rows: list[dict[str, Any]], clear_ms: list[float]) -> None:
    """Twilio line: per interrupting turn, caller onset -> the first ``clear`` at the caller's side."""
    for r in rows:
        if r.get("barge_in") == "expected" and r.get("bot_speaking_at_onset"):
            end = (r["speech_end_ms"] or r["onset_ms"]) + REACTION_WINDOW_MS
            first = next((c for c in clear_ms if r["onset_ms"] <= c <= end), None)
            r["clear_ms"] = None if first is None else round(first - r["onset_ms"], 1)


def summarize_runs(scenarios: list[dict[str, Any]], *, dev_models: bool, oracle: bool) -> dict[str, Any]:
    """Figures across scenarios (each dict as built by the runner: ``turns``, ``stages``, ``checks``, ``language``)."""
    rows = [r for s in scenarios for r in s["turns"]]
    v2v = [r["v2v_ms"] for r in rows if r.get("v2v_ms") is not None]
    bi = [r["barge_in_ms"] for r in rows if r.get("barge_in_ms") is not None]
    expected = [r for r in rows if r.get("barge_in") == "expected" and r.get("barge_in_result") in ("ok", "missed")]
    unexpected = [r for r in rows if r.get("barge_in") == "not_expected" and r.get("barge_in_result") in ("ok", "false")]
    intents = [r["intent_ok"] for r in rows if r.get("intent_ok") is not None]
    clear = [r["clear_ms"] for r in rows if r.get("clear_ms") is not None]
    eot = [r["vad_end_of_turn_ms"] for r in rows if r.get("vad_end_of_turn_ms") is not None]
    stage = {k: [x for s in scenarios for x in s["stages"][k]] for k in ("asr_ms", "dialogue_ms", "tts_first_audio_ms")}
    judged = [s for s in scenarios if any(c["ok"] is not None for c in s["checks"])]
    wer = _wer(scenarios) if not dev_models and not oracle else None
    rate = lambda bad, pool: round(bad / len(pool), 4) if pool else None  # noqa: E731
    return {
        "scenarios": len(scenarios),
        "turns": len(rows),
        "v2v_p50_ms": percentile(v2v, 50), "v2v_p95_ms": percentile(v2v, 95), "v2v_n": len(v2v),
        "barge_in_p50_ms": percentile(bi, 50), "barge_in_p95_ms": percentile(bi, 95), "barge_in_n": len(bi),
        "clear_p50_ms": percentile(clear, 50), "clear_p95_ms": percentile(clear, 95), "clear_n": len(clear),
        # with a dev model and real ASR, whether a backchannel cut the bot is decided by random words: not a figure
        "false_barge_in_rate": None if dev_models and not oracle else rate(sum(r["barge_in_result"] == "false" for r in unexpected), unexpected),
        "false_barge_in_n": len(unexpected), "false_barge_in_note": NO_WORDS if dev_models and not oracle and unexpected else None,
        "missed_barge_in_rate": rate(sum(r["barge_in_result"] == "missed" for r in expected), expected), "missed_barge_in_n": len(expected),
        "early_replies": sum(r.get("early_replies", 0) for r in rows),
        "intent_accuracy": None if (dev_models and not oracle) or not intents else round(sum(intents) / len(intents), 4),
        "task_success": round(sum(all(c["ok"] is not False for c in s["checks"]) for s in judged) / len(judged), 4) if judged else None,
        "task_success_n": len(judged),
        "wer": wer,
        "dev_models": dev_models,
        "asr": "oracle" if oracle else "model",
        "stages_p50_ms": {"vad_end_of_turn": median(eot), "asr": median(stage["asr_ms"]), "dialogue": median(stage["dialogue_ms"]),
                          "tts_first_audio": median(stage["tts_first_audio_ms"])},
    }


def _wer(scenarios: list[dict[str, Any]]) -> float | None:
    edits = ref_n = 0
    for s in scenarios:
        for r in s["turns"]:
            if r.get("text") and r.get("played"):
                ref = words(r["text"], s["language"])
                edits += edit_distance(ref, words(r.get("transcript", ""), s["language"]))
                ref_n += len(ref)
    return round(edits / ref_n, 4) if ref_n else None


def by_language(scenarios: list[dict[str, Any]], *, dev_models: bool, oracle: bool) -> dict[str, dict[str, Any]]:
    """Intent accuracy, order-number capture, task success and WER (CER for zh/ja/ko/th) per caller language,
    with the voices that spoke the caller's turns."""
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted({s["language"] for s in scenarios}):
        mine = [s for s in scenarios if s["language"] == lang]
        rows = [r for s in mine for r in s["turns"]]
        intents = [r["intent_ok"] for r in rows if r.get("intent_ok") is not None]
        ids = [c["ok"] for s in mine for c in s["checks"] if c["check"] == "order_id" and c["ok"] is not None]
        judged = [s for s in mine if any(c["ok"] is not None for c in s["checks"])]
        accurate = not dev_models or oracle
        out[lang] = {
            "scenarios": len(mine),
            "intent_accuracy": round(sum(intents) / len(intents), 4) if intents and accurate else None,
            "order_id_right": round(sum(ids) / len(ids), 4) if ids and accurate else None, "order_id_n": len(ids),
            "task_success": round(sum(all(c["ok"] is not False for c in s["checks"]) for s in judged) / len(judged), 4) if judged else None,
            "wer": _wer(mine) if not dev_models and not oracle else None,
            "unit": "CER" if lang in _CHAR_LANGS else "WER",
            "caller_voices": sorted({r.get("voice") for r in rows if r.get("voice")}),
        }
    return out


RATIO_KEYS = ("v2v_p50_ms", "v2v_p95_ms", "barge_in_p50_ms", "barge_in_p95_ms", "clear_p50_ms", "clear_p95_ms",
              "false_barge_in_rate", "missed_barge_in_rate")


def ratios(ours: dict[str, Any], stock: dict[str, Any]) -> dict[str, float | None]:
    """ours / stock for each headline figure (None where either is missing or stock is 0)."""
    out: dict[str, float | None] = {}
    for k in RATIO_KEYS:
        a, b = ours.get(k), stock.get(k)
        out[k] = round(a / b, 3) if a is not None and b not in (None, 0) else None
    for k in ("vad_end_of_turn", "asr", "dialogue", "tts_first_audio"):
        a, b = ours["stages_p50_ms"].get(k), stock["stages_p50_ms"].get(k)
        out[f"stage_{k}"] = round(a / b, 3) if a is not None and b not in (None, 0) else None
    return out
