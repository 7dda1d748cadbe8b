"""Capacity judgement: the most concurrent calls sustained, memory per extra call."""

from benchmarks.harness.capacity import judge, level_figures


def scen(v2v, late):
    return {"turns": [{"v2v_ms": x} for x in v2v], "feeder_late_p99_ms": late, "passed": True}


def test_levels_and_the_sustained_rule():
    levels = [
        level_figures(1, [scen([400, 500], 2.0)], 300.0),
        level_figures(4, [scen([450, 700], 5.0)] * 4, 390.0),  # p95 700 <= 1.5 x 495
        level_figures(8, [scen([600, 900], 12.0)] * 8, 480.0),  # p95 885 > 742.5: latency gave way
        level_figures(12, [scen([500, 600], 45.0)] * 12, 600.0),  # feeder fell behind real time
    ]
    assert levels[0]["v2v_p95_ms"] == 495.0 and levels[1]["v2v_p95_ms"] == 700.0 and levels[1]["calls"] == 4
    cap = judge(levels)
    assert [lv["sustained"] for lv in cap["levels"]] == [True, True, False, False]
    assert cap["sustained"] == 4 and cap["mb_per_call"] == 27.3  # (600 - 300) / 11
    assert cap["mb_per_call_at_top"] == 30.0  # (600 - 480) / 4: the peak RSS between the two largest levels


def test_a_level_over_one_second_at_p95_is_not_sustained_even_within_the_slack():
    levels = [level_figures(1, [scen([700, 800], 2.0)], 300.0),
              level_figures(4, [scen([900, 1100], 5.0)] * 4, 320.0)]  # 1090 <= 1.5 x 795, but over 1 s
    assert judge(levels)["sustained"] == 1
