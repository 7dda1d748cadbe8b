"""Capacity: how many concurrent calls this machine sustains at real-time pace.

A level runs N copies of one scenario at once. It is sustained when every call's feeder
kept real time (p99 lateness under one 20 ms chunk) and v2v p95 stays within
``slack`` x the single-call figure. Memory per extra call is the slope of the process RSS.
"""

from __future__ import annotations

import resource
from typing import Any

from benchmarks.harness.metrics import percentile

RULE = "sustained = feeder p99 lateness < 20 ms and v2v p95 <= 1.5x the 1-call p95"


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
                and base is not None and base["v2v_p95_ms"] is not None and lv["v2v_p95_ms"] <= slack * base["v2v_p95_ms"])
        lv["sustained"] = fine
        if fine:
            ok.append(lv["concurrency"])
    mb = None
    if len(levels) >= 2:
        a, b = levels[0], levels[-1]
        if b["concurrency"] > a["concurrency"]:
            mb = round((b["rss_mb"] - a["rss_mb"]) / (b["concurrency"] - a["concurrency"]), 1)
    return {"levels": levels, "sustained": max(ok) if ok else 0, "mb_per_call": mb, "rule": RULE}
