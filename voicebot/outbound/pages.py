"""HTML of the supervisor's campaign pages (pure: campaign rows in, a string out; every value escaped)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from voicebot.records.pages import CSS

from .rules import RULES
from .store import Attempt, Campaign, TargetRow

STATE_CSS = ".running{background:#c6f6d5}.paused{background:#fefcbf}.done{background:#e2e8f0}form.inline{display:inline}"


def ts(value: float | None) -> str:
    return "" if value is None else datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def layout(title: str, body: str, prefix: str, user: str | None, refresh_s: int | None = None) -> str:
    who = f'<span style="margin-left:auto;font-size:13px">{escape(user)}</span>' if user else ""
    meta = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{meta}'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}{STATE_CSS}</style></head><body>'
            f'<header><a href="{prefix}">Campaigns</a><a href="/qa">Calls</a>{who}</header>'
            f"<main><h1>{escape(title)}</h1>{body}</main></body></html>")  # fmt: skip


def _button(prefix: str, campaign: str, action: str, label: str) -> str:
    return (f'<form class="inline" method="post" action="{prefix}/campaigns/{escape(campaign)}/{action}">'
            f'<button type="submit">{escape(label)}</button></form>')


def list_page(rows: list[tuple[Campaign, dict[str, Any]]], prefix: str, user: str | None, can_act: bool, message: str = "") -> str:
    head = "<tr><th>campaign</th><th>rule</th><th>channel</th><th>status</th><th>targets</th><th>outcomes</th><th>started</th><th></th></tr>"
    body = []
    for c, summary in rows:
        outcomes = ", ".join(f"{escape(k)} {v}" for k, v in sorted(summary["outcomes"].items(), key=lambda kv: -kv[1]))
        actions = ""
        if can_act and c.status == "running":
            actions = _button(prefix, c.id, "pause", "Pause")
        elif can_act and c.status == "paused":
            actions = _button(prefix, c.id, "resume", "Resume")
        body.append(f'<tr><td><a href="{prefix}/campaigns/{escape(c.id)}">{escape(c.id)}</a></td><td>{escape(c.rule)} {c.days} d</td>'
                    f'<td>{escape(c.channel)}</td><td><span class="badge {escape(c.status)}">{escape(c.status)}</span></td>'
                    f"<td>{summary['targets']}</td><td>{outcomes}</td><td>{ts(c.created_at)}</td><td>{actions}</td></tr>")
    table = f"<table>{head}{''.join(body) or '<tr><td colspan=8>No campaign yet.</td></tr>'}</table>"
    form = ""
    if can_act:
        rules = "".join(f'<option value="{r}">{r}</option>' for r in RULES)
        form = (f'<h2>Start a campaign</h2><form class="filters" method="post" action="{prefix}/campaigns">'
                '<label>name<input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"></label>'
                f'<label>rule<select name="rule">{rules}</select></label>'
                '<label>days<input name="days" type="number" min="0" value="2" required></label>'
                '<label>channel<select name="channel"><option>sip</option><option>twilio</option></select></label>'
                '<button type="submit">Start</button></form>'
                '<p class="meta">Starting a campaign that exists adds only new matching orders; nobody is called twice.</p>')
    note = f'<p class="dev">{escape(message)}</p>' if message else ""
    return layout("Outbound campaigns", note + table + form, prefix, user, refresh_s=15)


def campaign_page(c: Campaign, summary: dict[str, Any], outcome_rows: list[tuple[str, int]], targets: list[TargetRow],
                  attempts: list[Attempt], prefix: str, user: str | None, can_act: bool, local: dict[str, str]) -> str:
    actions = ""
    if can_act and c.status in ("running", "paused"):
        actions = _button(prefix, c.id, "pause" if c.status == "running" else "resume", "Pause" if c.status == "running" else "Resume")
    info = (f'<p><span class="badge {escape(c.status)}">{escape(c.status)}</span> rule <b>{escape(c.rule)}</b> (at least {c.days} days), '
            f"channel {escape(c.channel)}, started {ts(c.created_at)}; {summary['targets']} targets. {actions}</p>")
    outcome_table = ("<h2>Outcomes</h2><table><tr><th>outcome</th><th>targets</th></tr>"
                     + "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in outcome_rows) + "</table>")
    by_target: dict[tuple[str, str], list[Attempt]] = {}
    for a in attempts:
        by_target.setdefault((a.customer_id, a.order_id), []).append(a)
    rows = []
    for t in targets:
        calls = " ".join(
            (f'<a href="/qa/calls/{escape(a.call_id)}">{escape(a.outcome or a.state)}</a>' if a.call_id and a.state == "ended"
             else escape(a.outcome or a.state)) for a in by_target.get((t.customer_id, t.order_id), []))
        when = local.get(f"{t.customer_id}:{t.order_id}", "") if t.state == "pending" else ""
        rows.append(f"<tr><td>{escape(t.customer_id)}</td><td>{escape(t.name)}</td><td>{escape(t.country)}</td><td>{escape(t.order_id)}</td>"
                    f"<td>{escape(t.state)}</td><td>{escape(t.outcome or '')}</td><td>{t.attempts}</td><td>{escape(when)}</td>"
                    f"<td>{escape(t.note or '')}</td><td>{calls}</td></tr>")
    target_table = ("<h2>Customers</h2><table><tr><th>customer</th><th>name</th><th>country</th><th>order</th><th>state</th><th>outcome</th>"
                    "<th>tries</th><th>next try (their time)</th><th>note</th><th>calls</th></tr>" + "".join(rows) + "</table>")
    return layout(f"Campaign {c.id}", info + outcome_table + target_table, prefix, user, refresh_s=10)
