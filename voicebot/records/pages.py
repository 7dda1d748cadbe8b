"""The QA and analytics pages: records in, HTML out, through jinja2 templates (``templates/``)
with autoescape on, so every value a caller or an agent produced is escaped by the template
engine rather than by hand.

What a supervisor reads here is said in words: who spoke each line (the bot, an agent by name,
the hand-off), which agent took the call and when (offered, accepted, ended), actions and
events as sentences rather than JSON, and charts whose bars open the calls behind them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from voicebot.core import CHANNELS
from voicebot.dialogue.nlu_types import INTENTS, LANGUAGES
from voicebot.records import svg
from voicebot.records.analytics import STAGES, Analytics
from voicebot.records.model import OUTCOMES, ActionRecord, Annotation, CallRecord, EventRecord, Recording, TurnRecord

HANDOFF_REASONS = ("caller_asked", "frustration", "not_understood", "policy", "product_fact_unknown")

# The QA pages' style sheet; the campaign pages (voicebot.outbound.pages) share it.
CSS = Path(__file__).with_name("templates").joinpath("qa.css").read_text(encoding="utf-8")

_ENV = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


def ts(value: float | None) -> str:
    return "" if value is None else datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def clock(value: float | None) -> str:
    return "" if value is None else datetime.fromtimestamp(value, tz=UTC).strftime("%H:%M:%S")


def secs(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 1000:.2f}s"


_ENV.filters.update(ts=ts, secs=secs, clock=clock)


def _render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


# ---- words for what happened ------------------------------------------------------------------
def words(name: str | None) -> str:
    return (name or "").replace("_", " ")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return "; ".join(f"{words(k)}: {_value(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    text = str(v)
    return text if len(text) <= 200 else text[:199] + "…"


def fields(data: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    """``{"order_id": "45712", "found": true}`` -> ``order id: 45712 · found: yes`` (empty values left out)."""
    return " · ".join(f"{words(k)}: {_value(v)}" for k, v in data.items() if k not in skip and v not in (None, "", [], {}))


def _who(d: dict[str, Any]) -> str:
    return str(d.get("agent_name") or d.get("agent") or "an agent")


def handoff_step(name: str, d: dict[str, Any]) -> str:
    """One hand-off step (voicebot.handoff.bridge.note) as a sentence."""
    if name == "queued":
        wait = f", estimated wait about {max(1, round(float(d['wait_s']) / 60))} min" if d.get("wait_s") else ""
        return f"Waiting in queue {d.get('queue', '')}{wait}"
    if name == "offered":
        return f"Offered to {_who(d)}"
    if name == "offer_timeout":
        return f"{_who(d)} did not answer in time"
    if name == "accepted":
        return f"Accepted by {_who(d)}"
    if name == "bridged":
        how = "types, the bot speaks" if d.get("mode") == "relay" else "voice"
        tr = ", with live translation" if d.get("translated") else ""
        return f"Connected with {_who(d)} ({how}{tr})"
    if name == "ended":
        return f"Call ended by {_who(d)}" if d.get("agent") else "Call ended"
    if name == "returned":
        return "Back to the bot: " + {"no_answer": "no agent answered", "agent_ended": "the agent sent the caller back",
                                       "agent_left": "the agent's desk disconnected"}.get(str(d.get("why")), words(d.get("why")))
    if name == "left_queue":
        return "The caller left the queue before anyone accepted"
    if name == "no_agent":
        instead = {"voicemail": "the caller was asked for a voicemail", "callback": "a callback was promised",
                   "bot": "the bot kept helping"}.get(str(d.get("instead")), words(d.get("instead")))
        return f"Nobody could take the call ({d.get('why') or 'no agent on shift'}); {instead}"
    return f"{words(name)}: {fields(d)}"


def describe_action(a: ActionRecord) -> str:
    d = a.data
    if a.kind == "transfer":
        return f"Handed to a person — reason: {words(a.name)}" + (f", queue {d['queue']}" if d.get("queue") else "")
    if a.kind == "hangup":
        return f"The bot ended the call ({words(a.name)})"
    if a.kind == "handoff":
        return handoff_step(a.name, d)
    if a.kind == "waiting_for_agent":
        return f"Waiting for an agent (queue {d.get('queue', '')})"
    if a.kind == "back_to_bot":
        return "Back to the bot"
    if a.kind == "voicemail":
        return f"Voicemail: {words(a.name)}" + (f" — {fields(d)}" if d else "")
    detail = fields(d)
    return f"{words(a.name if a.kind == 'note' else a.kind + ': ' + a.name)}" + (f" — {detail}" if detail else "")


def describe_event(e: EventRecord) -> str:
    d = e.data
    if e.kind == "action":
        kind = str(d.get("action") or d.get("kind") or "note")  # "kind": calls recorded before the key was settled
        return describe_action(ActionRecord(e.call_id, e.seq, e.t_ms, kind, str(d.get("reason") or d.get("name") or kind),
                                            data={k: v for k, v in d.items() if k not in ("action", "kind", "reason", "name")}))
    return fields(d)


# ---- views --------------------------------------------------------------------------------------
@dataclass
class HandoffView:
    """Who took a call and when, from its hand-off steps (wall-clock times, UTC)."""

    agent: str | None = None
    agent_id: str | None = None
    offered_at: float | None = None
    accepted_at: float | None = None
    ended_at: float | None = None
    outcome: str = ""
    steps: list[tuple[float, float, str]] = field(default_factory=list)  # (wall time, call ms, sentence)


def handoff_view(call: CallRecord, actions: list[ActionRecord]) -> HandoffView | None:
    steps = [a for a in actions if a.kind in ("transfer", "handoff")]
    if not steps:
        return None
    view = HandoffView()
    at = lambda a: call.started_at + a.t_ms / 1000  # noqa: E731
    for a in steps:
        view.steps.append((at(a), a.t_ms, describe_action(a)))
        if a.kind != "handoff":
            continue
        if a.name == "offered" and view.offered_at is None:
            view.offered_at = at(a)
        elif a.name in ("accepted", "bridged"):
            view.agent, view.agent_id = _who(a.data), a.data.get("agent")
            view.accepted_at = view.accepted_at or at(a)
        elif a.name in ("ended", "returned", "left_queue") and view.ended_at is None:
            view.ended_at = at(a)
    if view.accepted_at is not None and view.ended_at is None:
        view.ended_at = call.ended_at
    last = next((a for a in reversed(steps) if a.kind == "handoff"), None)
    view.outcome = handoff_step(last.name, last.data) if last else "Requested; nothing followed"
    if call.end_reason == "left_queue" and (last is None or last.name != "left_queue") and call.ended_at is not None:
        # the caller hung up while waiting: the call's end is the step (the channel closes before the hand-off hears it)
        view.outcome = handoff_step("left_queue", {})
        view.steps.append((call.ended_at, (call.ended_at - call.started_at) * 1000, view.outcome))
        view.ended_at = call.ended_at
    return view


@dataclass
class TurnView:
    turn: TurnRecord
    speaker: str  # "Bot", "María (agent)", "Hand-off"
    speaker_class: str  # bot | agent | handoff
    notes: list[Annotation]

    @property
    def wrong(self) -> bool:
        return any(a.wrong for a in self.notes)

    @property
    def heard_split(self) -> tuple[str, str] | None:
        t = self.turn
        if t.interrupted and t.bot_text and t.bot_text_heard is not None and t.bot_text.startswith(t.bot_text_heard):
            return t.bot_text_heard, t.bot_text[len(t.bot_text_heard):]
        return None


def turn_view(t: TurnRecord, notes: list[Annotation]) -> TurnView:
    if t.speaker == "agent":
        return TurnView(t, f"{t.agent_name or 'Agent'} (agent)", "agent", notes)
    if t.speaker == "handoff":
        return TurnView(t, "Hand-off", "handoff", notes)
    return TurnView(t, "Bot", "bot", notes)


def list_page(calls: list[CallRecord], form: dict[str, str], prefix: str, user: str | None, page_size: int, offset: int) -> str:
    base = {k: v for k, v in form.items() if v and k != "offset"}
    newer = f"{prefix}?{urlencode({**base, 'offset': max(0, offset - page_size)})}" if offset > 0 else None
    older = f"{prefix}?{urlencode({**base, 'offset': offset + page_size})}" if len(calls) == page_size else None
    return _render("calls.html", title="Calls", prefix=prefix, user=user, calls=calls, form=form, newer=newer, older=older,
                   selects=[("language", LANGUAGES), ("outcome", OUTCOMES), ("intent", INTENTS), ("channel", CHANNELS),
                            ("handoff_reason", HANDOFF_REASONS)])


_PLAYER_JS = Markup("""
const player = document.getElementById('player');
document.querySelectorAll('.seek').forEach(el => el.addEventListener('click', ev => {
  ev.preventDefault(); if (!player) return; player.currentTime = Number(el.dataset.ms) / 1000; player.play().catch(() => {});
}));
if (player) player.addEventListener('timeupdate', () => {
  const svg = document.getElementById('timeline'); const head = document.getElementById('playhead');
  if (!svg || !head) return; const dur = Number(svg.dataset.durationMs) || 1; const w = Number(svg.dataset.width);
  const x = 60 + (w - 80) * Math.min(1, player.currentTime * 1000 / dur); head.setAttribute('x1', x); head.setAttribute('x2', x);
});""")


def call_page(call: CallRecord, turns: list[TurnRecord], events: list[EventRecord], actions: list[ActionRecord],
              notes: list[Annotation], recording: Recording | None, prefix: str, user: str | None) -> str:  # fmt: skip
    duration_ms = max([e.t_ms for e in events] + [(call.ended_at - call.started_at) * 1000 if call.ended_at else 0.0, 1000.0])
    caller_segs = [(t.caller_speech_start_ms, t.caller_speech_end_ms or t.caller_speech_start_ms, t.caller_text or "")
                   for t in turns if t.caller_speech_start_ms is not None]  # fmt: skip
    bot_segs = [(t.bot_first_audio_ms, t.bot_speech_end_ms or t.bot_first_audio_ms, t.bot_text_heard or t.bot_text or "")
                for t in turns if t.bot_first_audio_ms is not None]  # fmt: skip
    marks = [(e.t_ms, e.kind, describe_event(e)) for e in events if e.kind in ("interruption", "action", "dtmf", "error", "call_end")]
    chart = svg.timeline("timeline", duration_ms, caller_segs, bot_segs, marks)
    chart = chart.replace("<svg ", f'<svg data-duration-ms="{duration_ms:.0f}" data-width="960" ', 1)
    by_turn: dict[int, list[Annotation]] = {}
    for a in notes:
        by_turn.setdefault(a.turn_index, []).append(a)
    facts = [("channel", call.channel), ("caller", call.caller or ""), ("language", call.language or ""),
             ("started (UTC)", ts(call.started_at)), ("ended (UTC)", ts(call.ended_at) or "running"),
             ("outcome", call.outcome or "open"), ("end reason", words(call.end_reason)), ("handoff reason", words(call.handoff_reason)),
             ("pipeline", call.pipeline or "")]  # fmt: skip
    return _render("call.html", title=f"Call {call.id}", prefix=prefix, user=user, call=call, facts=facts, recording=recording,
                   chart=Markup(chart), turns=[turn_view(t, by_turn.get(t.index, [])) for t in turns],
                   actions=[(a, describe_action(a)) for a in actions], events=[(e, describe_event(e)) for e in events],
                   handoff=handoff_view(call, actions), player_js=_PLAYER_JS, slots=lambda s: fields(s))


def _nice_max(series: dict[str, list[float | None]]) -> float:
    """A y-axis top that is a multiple of 4, so the five ticks are whole numbers of calls."""
    top = max((v for vs in series.values() for v in vs if v is not None), default=0)
    return float(max(4, math.ceil(top / 4) * 4))


def analytics_page(a: Analytics, days: int, prefix: str, user: str | None, since_day: str | None = None) -> str:
    dates, langs = a.days, a.languages
    calls_series = {lang: [float(a.per_day_language[(d, lang)].calls) if (d, lang) in a.per_day_language else None for d in dates] for lang in langs}
    rate_series = {lang: [a.per_day_language[(d, lang)].resolution_rate if (d, lang) in a.per_day_language else None for d in dates] for lang in langs}
    window = {"date_from": since_day} if since_day else {}

    def calls(**flt: Any) -> str:  # the calls behind a figure, on the list page
        return f"{prefix}?{urlencode({**window, **{k: v for k, v in flt.items() if v is not None}})}"

    reasons = a.handoff_reasons.most_common(10)
    intents = a.intents.most_common(10)
    barge = [(k, float(n)) for k, n in sorted(a.interruptions_per_call.items())]
    charts = [
        svg.grouped_bars("calls-per-day", "Calls per day and language", dates, calls_series, y_max=_nice_max(calls_series),
                         link=lambda d, lang: calls(date_from=d, date_to=d, language=lang)),
        svg.grouped_bars("resolution-per-day", "Resolved by the bot, per day and language", dates, rate_series, unit="%", y_max=1.0,
                         link=lambda d, lang: calls(date_from=d, date_to=d, language=lang, outcome="resolved_by_bot")),
        svg.hbar_chart("handoff-reasons", "Handoff reasons", [(words(r), n) for r, n in reasons],
                       links=[calls(handoff_reason=r) for r, _ in reasons]),
        svg.hbar_chart("top-intents", "Top intents (the dialogue's; agents' lines are not intents)", [(words(i), n) for i, n in intents],
                       links=[calls(intent=i) for i, _ in intents]),
        svg.box_rows("latency", "Latency per stage (p5 · p25 · p50 · p75 · p95)", [(label, a.latencies.get(stage, [])) for stage, label in STAGES]),
        svg.hbar_chart("interruptions", "Calls by number of barge-ins", [(f"{k} barge-in{'' if k == 1 else 's'}", n) for k, n in barge],
                       links=[calls(interruptions=str(k)) for k, _ in barge]),
    ]
    outcomes = [(o, n, calls(outcome=o)) for o, n in sorted(a.outcomes.items())]
    totals = [(lang, v, calls(language=lang)) for lang, v in a.language_totals().items()]
    return _render("analytics.html", title="Analytics", prefix=prefix, user=user, days=days, totals=totals, outcomes=outcomes,
                   figures=a, charts=[Markup(c) for c in charts])


def to_json(value: Any) -> str:
    """For the rare raw view (the events' details): JSON, still escaped by the template."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
