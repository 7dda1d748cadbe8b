"""report.json, report.md and PNG plots of a benchmark run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = {"v2v_p50_ms": 450, "v2v_p95_ms": 700, "barge_in_p95_ms": 150, "false_barge_in_rate": 0.02, "missed_barge_in_rate": 0.02}


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def write_plots(report: dict[str, Any], out: Path) -> list[str]:
    """PNG plots (matplotlib, headless). Returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names: list[str] = []
    variants = {"ours": report["scenarios"], **({"stock": report["baseline"]["scenarios"]} if report.get("baseline") else {})}
    for key, title, fname in (("v2v_ms", "Voice-to-voice latency", "v2v_hist.png"), ("barge_in_ms", "Barge-in reaction (onset -> bot audio stops)", "barge_in_hist.png")):
        fig, ax = plt.subplots(figsize=(7, 4))
        any_data = False
        for name, scs in variants.items():
            xs = [r[key] for s in scs for r in s["turns"] if r.get(key) is not None]
            if xs:
                ax.hist(xs, bins=20, alpha=0.6, label=f"{name} (n={len(xs)})")
                any_data = True
        ax.set_xlabel("ms")
        ax.set_ylabel("turns")
        ax.set_title(title)
        if any_data:
            ax.legend()
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        names.append(fname)
    fig, ax = plt.subplots(figsize=(7, 4))
    stages = ("vad_end_of_turn", "asr", "dialogue", "tts_first_audio")
    width = 0.38
    for i, (name, summ) in enumerate((("ours", report["summary"]), *((("stock", report["baseline"]["summary"]),) if report.get("baseline") else ()))):
        vals = [summ["stages_p50_ms"].get(s) or 0 for s in stages]
        ax.bar([j + i * width for j in range(len(stages))], vals, width, label=name)
    ax.set_xticks([j + width / 2 for j in range(len(stages))], stages)
    ax.set_ylabel("median ms")
    ax.set_title("Per-stage medians")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "stages.png", dpi=110)
    plt.close(fig)
    names.append("stages.png")
    sweep = report.get("capacity", {}).get("levels")
    if sweep:
        fig, ax = plt.subplots(figsize=(7, 4))
        ns = [lv["concurrency"] for lv in sweep]
        ax.plot(ns, [lv["v2v_p50_ms"] for lv in sweep], "o-", label="v2v p50")
        ax.plot(ns, [lv["v2v_p95_ms"] for lv in sweep], "s-", label="v2v p95")
        ax.set_xlabel("concurrent calls")
        ax.set_ylabel("ms")
        ax.set_title("Latency vs concurrent calls")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "capacity.png", dpi=110)
        plt.close(fig)
        names.append("capacity.png")
    return names


def render_markdown(report: dict[str, Any], plots: list[str]) -> str:
    s = report["summary"]
    base = report.get("baseline")
    lines = [f"# Benchmark run {report['meta']['started']}", ""]
    m = report["meta"]
    lines += [f"- command: `{m['command']}`", f"- machine: {m['machine']}", f"- mode: {m['mode']}; ASR: {s['asr']}; concurrency: {m['concurrency']}" + (f", started spread over {m['spread_s']:g} s" if m.get('spread_s') else ""),
              f"- pipeline: {m['pipeline']}; ASR model: {m.get('asr_model')}"]
    if report.get("voice_cache"):
        lines += [f"- voice cache: {report['voice_cache']}"]
    if s["dev_models"]:
        lines += ["", "> **DEV MODELS**: the ASR model has random weights. Latency and cost are real; transcripts, intents and WER mean nothing "
                  "(WER is null; accuracy checks are skipped)."]
    lines += ["", "## Summary", "", "| figure | ours | " + ("stock pipecat | ours/stock | " if base else "") + "target |",
              "|---|---|" + ("---|---|" if base else "") + "---|"]
    keys = ("v2v_p50_ms", "v2v_p95_ms", "barge_in_p50_ms", "barge_in_p95_ms", *(("clear_p50_ms", "clear_p95_ms") if s.get("clear_n") else ()),
            "false_barge_in_rate", "missed_barge_in_rate", "early_replies",
            "intent_accuracy", "task_success", "wer")
    for k in keys:
        row = f"| {k} | {_fmt(s.get(k))} | "
        if base:
            row += f"{_fmt(base['summary'].get(k))} | {_fmt(report['ratios'].get(k))} | "
        row += f"{_fmt(TARGETS.get(k))} |"
        lines.append(row)
    for k in ("vad_end_of_turn", "asr", "dialogue", "tts_first_audio"):
        row = f"| stage p50 {k} ms | {_fmt(s['stages_p50_ms'].get(k))} | "
        if base:
            row += f"{_fmt(base['summary']['stages_p50_ms'].get(k))} | {_fmt(report['ratios'].get('stage_' + k))} | "
        lines.append(row + " |")
    lines += ["", f"Counts: {s['v2v_n']} answered turns, {s['barge_in_n']} barge-ins timed, {s['missed_barge_in_n']} expected interruptions, "
              f"{s['false_barge_in_n']} backchannels/noises over bot speech, {s['task_success_n']} scenarios with checked expectations."]
    if s.get("false_barge_in_note"):
        lines += ["", f"false_barge_in_rate is not reported: {s['false_barge_in_note']} (run with `--asr oracle` for the policy's figure)."]
    if base and base.get("notes"):
        lines += ["", "## Stock baseline", ""] + [f"- {n}" for n in base["notes"]]
    langs = report.get("by_language") or {}
    if langs:
        lines += ["", "## Per language", "", "| lang | scenarios | intent accuracy | order id right | task success | WER/CER | caller voice |",
                  "|---|---|---|---|---|---|---|"]
        for lang, f in langs.items():
            ids = f"{_fmt(f['order_id_right'])} (n={f['order_id_n']})" if f["order_id_n"] else "—"
            lines.append(f"| {lang} | {f['scenarios']} | {_fmt(f['intent_accuracy'])} | {ids} | {_fmt(f['task_success'])} | "
                         f"{_fmt(f['wer'])} {f['unit']} | {', '.join(f['caller_voices']) or '—'} |")
    cap = report.get("capacity")
    if cap:
        lines += ["", "## Capacity", "", "| calls | v2v p50 | v2v p95 | feeder late p99 ms | RSS MB |", "|---|---|---|---|---|"]
        for lv in cap.get("levels", []):
            lines.append(f"| {lv['concurrency']} | {_fmt(lv['v2v_p50_ms'])} | {_fmt(lv['v2v_p95_ms'])} | {_fmt(lv['feeder_late_p99_ms'])} | {_fmt(lv['rss_mb'])} |")
        lines += ["", f"Sustained: {cap.get('sustained')} calls; memory per extra call: {_fmt(cap.get('mb_per_call'))} MB over the sweep, {_fmt(cap.get('mb_per_call_at_top'))} MB between its two largest levels (peak RSS). {cap.get('rule', '')}"]
    lines += ["", "## Scenarios", "", "| scenario | lang | passed | v2v ms | barge-in | failed checks |", "|---|---|---|---|---|---|"]
    for sc in report["scenarios"]:
        v2v = ", ".join(_fmt(r.get("v2v_ms")) for r in sc["turns"] if r.get("v2v_ms") is not None) or "—"
        bi = ", ".join(f"{r['barge_in_result']}" + (f" {r['barge_in_ms']:.0f}ms" if r.get("barge_in_ms") is not None else "")
                       for r in sc["turns"] if r.get("barge_in_result")) or "—"
        failed = "; ".join(f"{c['check']}: expected {c['expected']}, got {c['actual']}" for c in sc["checks"] if c["ok"] is False) or "—"
        lines.append(f"| {sc['name']} | {sc['language']} | {'yes' if sc['passed'] else '**no**'} | {v2v} | {bi} | {failed} |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path, plots: bool = True) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    names = write_plots(report, out) if plots else []
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    (out / "report.md").write_text(render_markdown(report, names))
    return {"json": out / "report.json", "md": out / "report.md", **{n: out / n for n in names}}
