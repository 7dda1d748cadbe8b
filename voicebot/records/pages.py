"""HTML of the QA and analytics pages (pure: records in, a string out; every value escaped)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote, urlencode

from voicebot.dialogue.nlu_types import INTENTS, LANGUAGES
from voicebot.records import svg
from voicebot.records.analytics import STAGES, Analytics
from voicebot.records.model import OUTCOMES, ActionRecord, Annotation, CallRecord, EventRecord, Recording, TurnRecord

CHANNELS = ("direct", "replay", "twilio", "sip", "webrtc", "websocket", "text")

CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#1a202c;background:#f7fafc}
header{background:#2d3748;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600} main{padding:16px 20px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff} th,td{padding:6px 8px;border-bottom:1px solid #e2e8f0;text-align:left;font-size:13px}
th{background:#edf2f7} form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#4a5568}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;background:#e2e8f0}
.resolved_by_bot{background:#c6f6d5}.handed_off{background:#bee3f8}.abandoned{background:#fefcbf}.interrupted,.error{background:#fed7d7}
.turn{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:10px 12px;margin:10px 0}
.turn.wrong{border-color:#e53e3e;box-shadow:0 0 0 1px #e53e3e}
.caller{color:#22543d}.bot{color:#2a4365}.unheard{color:#a0aec0;text-decoration:line-through}
.meta{font-size:12px;color:#4a5568}.dev{background:#fed7d7;padding:8px 12px;border-radius:6px;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}.charts>div{background:#fff;padding:8px;border-radius:6px}
.seek{cursor:pointer} .annotation{font-size:12px;background:#fff5f5;border-left:3px solid #e53e3e;padding:3px 8px;margin:4px 0}
.annotation.ok{background:#f0fff4;border-color:#38a169}
"""


def ts(value: float | None) -> str:
    return "" if value is None else datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def secs(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 1000:.2f}s"


def layout(title: str, body: str, prefix: str, user: str | None = None) -> str:
    who = f'<span style="margin-left:auto;font-size:13px">{escape(user)}</span>' if user else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
            f'<header><a href="{prefix}">Calls</a><a href="{prefix}/analytics">Analytics</a>{who}</header>'
            f"<main><h1>{escape(title)}</h1>{body}</main></body></html>")  # fmt: skip


def _select(name: str, options: tuple[str, ...], current: str | None) -> str:
    opts = ['<option value="">any</option>'] + [
        f'<option value="{escape(o)}"{" selected" if o == current else ""}>{escape(o)}</option>' for o in options
    ]
    return f'<label>{name.replace("_", " ")}<select name="{name}">{"".join(opts)}</select></label>'


def list_page(calls: list[CallRecord], form: dict[str, str], prefix: str, user: str | None, page_size: int, offset: int) -> str:
    f = form
    filters = (f'<form class="filters" method="get" action="{prefix}">'
               f'<label>from<input type="date" name="date_from" value="{escape(f.get("date_from", ""))}"></label>'
               f'<label>to<input type="date" name="date_to" value="{escape(f.get("date_to", ""))}"></label>'
               + _select("language", LANGUAGES, f.get("language")) + _select("outcome", OUTCOMES, f.get("outcome"))
               + _select("intent", INTENTS, f.get("intent")) + _select("channel", CHANNELS, f.get("channel"))
               + '<button type="submit">Filter</button></form>')  # fmt: skip
    rows = []
    for c in calls:
        duration = secs((c.ended_at - c.started_at) * 1000) if c.ended_at else "running"
        rows.append(f'<tr data-call="{escape(c.id)}"><td><a href="{prefix}/calls/{quote(c.id)}">{escape(c.id)}</a></td><td>{ts(c.started_at)}</td>'
                    f"<td>{escape(c.channel)}</td><td>{escape(c.language or '')}</td><td>{escape(c.caller or '')}</td><td>{duration}</td>"
                    f"<td>{c.turn_count}</td><td>{c.interruptions}</td>"
                    f'<td><span class="badge {escape(c.outcome or "")}">{escape(c.outcome or "open")}</span></td></tr>')  # fmt: skip
    table = ("<table id=calls><thead><tr><th>call</th><th>started (UTC)</th><th>channel</th><th>language</th><th>caller</th>"
             "<th>duration</th><th>turns</th><th>interruptions</th><th>outcome</th></tr></thead><tbody>"
             + ("".join(rows) or '<tr><td colspan=9>No calls match.</td></tr>') + "</tbody></table>")  # fmt: skip
    nav = []
    base = {k: v for k, v in f.items() if v and k != "offset"}
    if offset > 0:
        nav.append(f'<a href="{prefix}?{escape(urlencode({**base, "offset": max(0, offset - page_size)}))}">newer</a>')
    if len(calls) == page_size:
        nav.append(f'<a href="{prefix}?{escape(urlencode({**base, "offset": offset + page_size}))}">older</a>')
    return layout("Calls", filters + table + f'<p>{" · ".join(nav)}</p>', prefix, user)


def _turn_html(t: TurnRecord, notes: list[Annotation], prefix: str, call_id: str) -> str:
    wrong = any(a.wrong for a in notes)
    parts = [f'<div class="turn{" wrong" if wrong else ""}" id="turn-{t.index}" data-turn="{t.index}">'
             f'<div class="meta">turn {t.index}']  # fmt: skip
    if t.caller_speech_start_ms is not None:
        parts.append(f' · <a class="seek" data-ms="{t.caller_speech_start_ms:.0f}" href="#turn-{t.index}">▶ {secs(t.caller_speech_start_ms)}</a>')
    if t.response_ms is not None:
        parts.append(f" · response {t.response_ms:.0f} ms")
    if t.intent:
        parts.append(f' · intent <b class="intent">{escape(t.intent)}</b>')
    if t.sentiment:
        parts.append(f" · {escape(t.sentiment)}")
    if t.slots:
        parts.append(f" · slots <code>{escape(json.dumps(t.slots, ensure_ascii=False))}</code>")
    if t.interrupted:
        parts.append(' · <span class="badge interrupted">interrupted</span>')
    parts.append("</div>")
    if t.caller_text is not None or t.caller_dtmf:
        lang = f" <span class=meta>[{escape(t.caller_language)}]</span>" if t.caller_language else ""
        dtmf = f" <span class=meta>keys: {escape(t.caller_dtmf)}</span>" if t.caller_dtmf else ""
        parts.append(f'<p class="caller"><b>Caller:</b> {escape(t.caller_text or "")}{lang}{dtmf}</p>')
    if t.bot_text is not None:
        heard, text = t.bot_text_heard, t.bot_text
        if t.interrupted and heard is not None and text.startswith(heard):
            shown = f'{escape(heard)}<span class="unheard">{escape(text[len(heard):])}</span>'
        else:
            shown = escape(text)
        parts.append(f'<p class="bot"><b>Bot:</b> {shown}</p>')
    for a in notes:
        who = f" — {escape(a.author)}" if a.author else ""
        parts.append(f'<div class="annotation{"" if a.wrong else " ok"}">{"✗ wrong" if a.wrong else "✓ ok"}: {escape(a.note)}{who} '
                     f'<span class=meta>{ts(a.created_at)}</span></div>')  # fmt: skip
    parts.append(f'<form method="post" action="{prefix}/calls/{quote(call_id)}/turns/{t.index}/annotations" class="mark">'
                 f'<label><input type="checkbox" name="wrong" value="1" checked> wrong</label> '
                 f'<input name="note" placeholder="what should it have done?" size="50" maxlength="2000"> '
                 f'<button type="submit">Mark</button></form></div>')  # fmt: skip
    return "".join(parts)


_PLAYER_JS = """
<script>
const player = document.getElementById('player');
document.querySelectorAll('.seek').forEach(el => el.addEventListener('click', ev => {
  ev.preventDefault(); if (!player) return; player.currentTime = Number(el.dataset.ms) / 1000; player.play().catch(() => {});
}));
if (player) player.addEventListener('timeupdate', () => {
  const svg = document.getElementById('timeline'); const head = document.getElementById('playhead');
  if (!svg || !head) return; const dur = Number(svg.dataset.durationMs) || 1; const w = Number(svg.dataset.width);
  const x = 60 + (w - 80) * Math.min(1, player.currentTime * 1000 / dur); head.setAttribute('x1', x); head.setAttribute('x2', x);
});
</script>"""


def call_page(call: CallRecord, turns: list[TurnRecord], events: list[EventRecord], actions: list[ActionRecord],
              notes: list[Annotation], recording: Recording | None, prefix: str, user: str | None) -> str:  # fmt: skip
    cid = quote(call.id)
    duration_ms = max([e.t_ms for e in events] + [(call.ended_at - call.started_at) * 1000 if call.ended_at else 0.0, 1000.0])
    head = ['<table style="width:auto"><tbody>']
    for label, value in (("channel", call.channel), ("caller", call.caller or ""), ("language", call.language or ""),
                         ("started (UTC)", ts(call.started_at)), ("ended (UTC)", ts(call.ended_at) or "running"),
                         ("outcome", call.outcome or "open"), ("end reason", call.end_reason or ""),
                         ("handoff reason", call.handoff_reason or ""), ("pipeline", call.pipeline or "")):  # fmt: skip
        head.append(f"<tr><th>{label}</th><td>{escape(str(value))}</td></tr>")
    head.append("</tbody></table>")
    dev = '<p class="dev">Dev models (random weights) ran this call: timings are real, transcripts are meaningless.</p>' if call.dev_models else ""
    if recording is not None:
        player = (f'<p><audio id="player" controls preload="metadata" src="{prefix}/calls/{cid}/recording.wav"></audio> '
                  f'<span class=meta>stereo: caller left, bot right · {recording.sample_rate} Hz</span></p>')  # fmt: skip
    else:
        player = '<p class="meta">No recording for this call (recording disabled for its channel or country, or not kept).</p>'
    caller_segs = [(t.caller_speech_start_ms, t.caller_speech_end_ms or t.caller_speech_start_ms, t.caller_text or "")
                   for t in turns if t.caller_speech_start_ms is not None]  # fmt: skip
    bot_segs = [(t.bot_first_audio_ms, t.bot_speech_end_ms or t.bot_first_audio_ms, t.bot_text_heard or t.bot_text or "")
                for t in turns if t.bot_first_audio_ms is not None]  # fmt: skip
    marks = [(e.t_ms, e.kind, str(e.data.get("kind") or e.data.get("action") or e.data.get("digit") or e.data.get("message") or ""))
             for e in events if e.kind in ("interruption", "action", "dtmf", "error", "call_end")]  # fmt: skip
    chart = svg.timeline("timeline", duration_ms, caller_segs, bot_segs, marks)
    chart = chart.replace('<svg ', f'<svg data-duration-ms="{duration_ms:.0f}" data-width="960" ', 1)
    by_turn: dict[int, list[Annotation]] = {}
    for a in notes:
        by_turn.setdefault(a.turn_index, []).append(a)
    transcript = "".join(_turn_html(t, by_turn.get(t.index, []), prefix, call.id) for t in turns) or "<p>No turns recorded.</p>"
    acts = "".join(f"<li>{secs(a.t_ms)} <b>{escape(a.kind)}</b> {escape(a.name)} <code>{escape(json.dumps(a.data, ensure_ascii=False))}</code></li>"
                   for a in actions)  # fmt: skip
    ev_rows = "".join(f'<tr><td><a class="seek" data-ms="{e.t_ms:.0f}" href="#">{secs(e.t_ms)}</a></td><td>{escape(e.kind)}</td>'
                      f"<td><code>{escape(json.dumps(e.data, ensure_ascii=False))}</code></td></tr>" for e in events)  # fmt: skip
    body = (dev + "".join(head) + player + f'<div style="background:#fff;overflow-x:auto">{chart}</div>'
            f'<p><a id="export" href="{prefix}/calls/{cid}/scenario.zip">Export as benchmark scenario</a></p>'
            f"<h2>Transcript</h2>{transcript}<h2>Actions</h2><ul>{acts or '<li>none</li>'}</ul>"
            f"<details><summary>Events ({len(events)})</summary><table><thead><tr><th>t</th><th>kind</th><th>data</th></tr></thead>"
            f"<tbody>{ev_rows}</tbody></table></details>{_PLAYER_JS}")  # fmt: skip
    return layout(f"Call {call.id}", body, prefix, user)


def _nice_max(series: dict[str, list[float | None]]) -> float:
    """A y-axis top that is a multiple of 4, so the five ticks are whole numbers of calls."""
    top = max((v for vs in series.values() for v in vs if v is not None), default=0)
    return float(max(4, math.ceil(top / 4) * 4))


def analytics_page(a: Analytics, days: int, prefix: str, user: str | None) -> str:
    dates = a.days
    langs = a.languages
    calls_series = {lang: [float(a.per_day_language[(d, lang)].calls) if (d, lang) in a.per_day_language else None for d in dates] for lang in langs}
    rate_series = {lang: [a.per_day_language[(d, lang)].resolution_rate if (d, lang) in a.per_day_language else None for d in dates] for lang in langs}
    totals = a.language_totals()
    summary = "".join(f"<tr><td>{escape(lang)}</td><td>{v.calls}</td><td>{v.resolved}</td><td>{(v.resolution_rate or 0):.0%}</td></tr>"
                      for lang, v in totals.items())  # fmt: skip
    charts = [
        svg.grouped_bars("calls-per-day", "Calls per day and language", dates, calls_series, y_max=_nice_max(calls_series)),
        svg.grouped_bars("resolution-per-day", "Resolved by the bot, per day and language", dates, rate_series, unit="%", y_max=1.0),
        svg.hbar_chart("handoff-reasons", "Handoff reasons", a.handoff_reasons.most_common(10)),
        svg.hbar_chart("top-intents", "Top intents", a.intents.most_common(10)),
        svg.box_rows("latency", "Latency per stage (p5 · p25 · p50 · p75 · p95)", [(label, a.latencies.get(stage, [])) for stage, label in STAGES]),
        svg.hbar_chart("interruptions", "Calls by number of barge-ins", [(f"{k} barge-in{'' if k == 1 else 's'}", float(n)) for k, n in sorted(a.interruptions_per_call.items())]),
    ]
    form = (f'<form class="filters" method="get" action="{prefix}/analytics"><label>last days<input type="number" min="1" max="365" '
            f'name="days" value="{days}"></label><button type="submit">Show</button></form>')  # fmt: skip
    table = ("<table id=languages style='width:auto'><thead><tr><th>language</th><th>calls</th><th>resolved by bot</th><th>rate</th></tr></thead>"
             f"<tbody>{summary or '<tr><td colspan=4>No finished calls yet.</td></tr>'}</tbody></table>")  # fmt: skip
    body = form + table + f'<p class="meta">{a.turns} turns · {a.open_calls} calls open · outcomes: ' + ", ".join(
        f"{escape(k)} {v}" for k, v in sorted(a.outcomes.items())) + "</p>" + '<div class="charts">' + "".join(f"<div>{c}</div>" for c in charts) + "</div>"
    return layout("Analytics", body, prefix, user)
