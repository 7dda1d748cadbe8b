"""Figures for the analytics page and /metrics, computed from stored records (pure)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voicebot.records.model import ActionRecord, CallRecord, TurnRecord

# Latency stages of a turn, in the order the caller lives them (all from turn timings).
STAGES: tuple[tuple[str, str], ...] = (
    ("endpoint_asr", "end of caller speech -> final transcript"),
    ("dialogue", "final transcript -> bot reply"),
    ("tts_first_audio", "bot reply -> first bot audio"),
    ("response", "end of caller speech -> first bot audio"),
)
# Conversational moves, not reasons to call: left out of "top intents".
IGNORED_INTENTS = {"greeting", "goodbye", "thanks", "affirm", "deny"}


def stage_latencies(t: TurnRecord) -> dict[str, float]:
    out: dict[str, float] = {}
    pairs = {"endpoint_asr": (t.caller_speech_end_ms, t.asr_final_ms), "dialogue": (t.asr_final_ms, t.bot_reply_ms),
             "tts_first_audio": (t.bot_reply_ms, t.bot_first_audio_ms), "response": (t.caller_speech_end_ms, t.bot_first_audio_ms)}  # fmt: skip
    for stage, (a, b) in pairs.items():
        if a is not None and b is not None and b >= a:
            out[stage] = b - a
    return out


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


@dataclass
class DayLanguage:
    calls: int = 0
    resolved: int = 0

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved / self.calls if self.calls else None


@dataclass
class Analytics:
    per_day_language: dict[tuple[str, str], DayLanguage] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    handoff_reasons: Counter = field(default_factory=Counter)
    intents: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    interruptions_per_call: Counter = field(default_factory=Counter)  # number of interruptions -> calls
    calls_by_key: Counter = field(default_factory=Counter)  # (channel, language, outcome) -> calls
    open_calls: int = 0
    turns: int = 0

    @property
    def days(self) -> list[str]:
        return sorted({d for d, _ in self.per_day_language})

    @property
    def languages(self) -> list[str]:
        return sorted({lang for _, lang in self.per_day_language})

    def language_totals(self) -> dict[str, DayLanguage]:
        out: dict[str, DayLanguage] = defaultdict(DayLanguage)
        for (_, lang), v in self.per_day_language.items():
            out[lang].calls += v.calls
            out[lang].resolved += v.resolved
        return dict(sorted(out.items()))


def compute(calls: list[CallRecord], turns: list[TurnRecord], actions: list[ActionRecord]) -> Analytics:
    a = Analytics()
    for c in calls:
        if c.ended_at is None:
            a.open_calls += 1
            continue
        key = (day_of(c.started_at), c.language or "unknown")
        bucket = a.per_day_language.setdefault(key, DayLanguage())
        bucket.calls += 1
        bucket.resolved += c.outcome == "resolved_by_bot"
        a.outcomes[c.outcome or "unknown"] += 1
        a.calls_by_key[(c.channel, c.language or "unknown", c.outcome or "unknown")] += 1
        a.interruptions_per_call[c.interruptions] += 1
    for t in turns:
        a.turns += 1
        if t.intent and t.intent not in IGNORED_INTENTS and t.speaker is None and t.intent != "handoff":  # agents' lines are no intents
            a.intents[t.intent] += 1
        for stage, ms in stage_latencies(t).items():
            a.latencies.setdefault(stage, []).append(ms)
    for act in actions:
        if act.kind == "transfer":
            a.handoff_reasons[act.name] += 1
    return a


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (no interpolation, so the value is one that was measured)."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]
