"""Capacity: how many concurrent calls this machine sustains at real-time pace.

A level runs N copies of one scenario at once. It is sustained when every call's feeder
kept real time (p99 lateness under one 20 ms chunk) and v2v p95 stays within
``slack`` x the single-call figure and under ``V2V_P95_MAX_MS`` (a caller's bar: every call
answered within 1 s at p95). Memory per extra call is the slope of the process's peak RSS, over the
whole sweep and between its two largest levels: most of the growth is the inference runtimes'
buffers for concurrent decoding (bounded by the worker threads, so it levels off), not call state.
"""

from __future__ import annotations

import resource
from typing import Any

from benchmarks.harness.metrics import percentile

V2V_P95_MAX_MS = 1000.0
RULE = "sustained = feeder p99 lateness < 20 ms and v2v p95 <= 1.5x the 1-call p95 and <= 1000 ms"


def rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def level_figures(concurrency: int, results: list[dict[str, Any]], rss: float) -> dict[str, Any]:
    v2v = [r["v2v_ms"] for s in results for r in s["turns"] if r.get("v2v_ms") is not None]
    late = [s.get("feeder_late_p99_ms") or 0.0 for s in results]
    return {"concurrency": concurrency, "calls": len(results), "v2v_p50_ms": percentile(v2v, 50), "v2v_p95_ms": percentile(v2v, 95),
            "feeder_late_p99_ms": max(late) if late else None, "rss_mb": round(rss, 1), "passed": sum(bool(s.get("passed")) for s in results)}


def judge(levels: list[dict[str, Any]], slack: float = 1.5, late_ms: float = 20.0) -> dict[str, Any]:
    """The most concurrent calls sustained, and memory per extra call."""
    base = next((lv for lv in levels if lv["concurrency"] == 1), None)
    ok = []
    for lv in levels:
        fine = (lv["feeder_late_p99_ms"] is not None and lv["feeder_late_p99_ms"] < late_ms and lv["v2v_p95_ms"] is not None
                and base is not None and base["v2v_p95_ms"] is not None and lv["v2v_p95_ms"] <= slack * base["v2v_p95_ms"]
                and lv["v2v_p95_ms"] <= V2V_P95_MAX_MS)
        lv["sustained"] = fine
        if fine:
            ok.append(lv["concurrency"])
    return {"levels": levels, "sustained": max(ok) if ok else 0, "mb_per_call": _slope(levels[:1] + levels[-1:]),
            "mb_per_call_at_top": _slope(levels[-2:]), "rule": RULE}


def _slope(levels: list[dict[str, Any]]) -> float | None:
    if len(levels) < 2 or levels[-1]["concurrency"] <= levels[0]["concurrency"]:
        return None
    a, b = levels[0], levels[-1]
    return round((b["rss_mb"] - a["rss_mb"]) / (b["concurrency"] - a["concurrency"]), 1)
