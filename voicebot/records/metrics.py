"""``/metrics``: the records as Prometheus text exposition (format 0.0.4), pure.

Figures cover the calls started in a recent window (``window_s``, default one day), so they
are gauges and summaries rather than counters: a fleet of bot processes shares one store,
and any one of them can answer for all.
"""

from __future__ import annotations

from voicebot.records.analytics import STAGES, Analytics, quantile


def _esc(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**kw: object) -> str:
    return "{" + ",".join(f'{k}="{_esc(str(v))}"' for k, v in kw.items()) + "}"


def render_metrics(a: Analytics, window: str = "24h") -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("voicebot_calls", "gauge", f"Calls that ended in the last {window}, by channel, language and outcome.")
    for (channel, lang, outcome), n in sorted(a.calls_by_key.items()):
        lines.append(f"voicebot_calls{_labels(window=window, channel=channel, language=lang, outcome=outcome)} {n}")
    family("voicebot_calls_open", "gauge", "Calls without an end in the store (running, or awaiting recovery).")
    lines.append(f"voicebot_calls_open {a.open_calls}")
    family("voicebot_resolution_rate", "gauge", f"Share of calls resolved by the bot in the last {window}, per language.")
    for lang, v in a.language_totals().items():
        if v.resolution_rate is not None:
            lines.append(f"voicebot_resolution_rate{_labels(window=window, language=lang)} {v.resolution_rate:.4f}")
    family("voicebot_handoffs", "gauge", f"Handoffs to a human in the last {window}, by reason.")
    for reason, n in sorted(a.handoff_reasons.items()):
        lines.append(f"voicebot_handoffs{_labels(window=window, reason=reason)} {n}")
    family("voicebot_intents", "gauge", f"Caller turns per recognised intent in the last {window}.")
    for intent, n in sorted(a.intents.items()):
        lines.append(f"voicebot_intents{_labels(window=window, intent=intent)} {n}")
    family("voicebot_interruptions_per_call", "gauge", f"Calls in the last {window} by how many times the caller barged in.")
    for k, n in sorted(a.interruptions_per_call.items()):
        lines.append(f"voicebot_interruptions_per_call{_labels(window=window, interruptions=k)} {n}")
    family("voicebot_turn_latency_ms", "summary", "Turn latency per stage in milliseconds of call audio time.")
    for stage, _ in STAGES:
        values = a.latencies.get(stage, [])
        for q in (0.5, 0.9, 0.99):
            v = quantile(values, q)
            if v is not None:
                lines.append(f"voicebot_turn_latency_ms{_labels(window=window, stage=stage, quantile=q)} {v:.1f}")
        lines.append(f"voicebot_turn_latency_ms_sum{_labels(window=window, stage=stage)} {sum(values):.1f}")
        lines.append(f"voicebot_turn_latency_ms_count{_labels(window=window, stage=stage)} {len(values)}")
    return "\n".join(lines) + "\n"
