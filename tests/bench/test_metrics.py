"""The benchmark's figures on a hand-written event timeline: exact numbers."""


from benchmarks.harness.metrics import (TurnTruth, bot_intervals, edit_distance, percentile, ratios, scenario_checks, stage_figures,
                                    summarize_runs, turn_figures, words)
from benchmarks.harness.oracle import word_share
from benchmarks.harness.scenario import Expect
from voicebot.events import CallEvent


def ev(t, kind_, /, **data):
    return CallEvent(float(t), kind_, data)


# greeting 20-3000; caller turn 0 speaks 3400-5000; reply starts 5830 (v2v 830), caller barges in at 6500 (paused 6560,
# cut 6800); caller speaks to 7600, reply at 8200 (v2v 600); a backchannel 9000-9300 over the reply cuts it (false barge-in);
# a last "expected" interruption at 12000 over a reply that is never cut (missed).
EVENTS = [
    ev(0, "call_start"),
    ev(20, "bot_speech_start", turn_id=0, tts_first_audio_ms=15.0),
    ev(3000, "bot_speech_stop", turn_id=0, interrupted=False),
    ev(5500, "turn_end", turn_id=1, start_ms=3390.0, end_ms=5010.0),
    ev(5500, "transcript", turn_id=1, text="where is my order", asr_ms=210.0),
    ev(5700, "bot_reply", turn_id=1, intent="order_status", dialogue_ms=12.0, slots={"order_id": "45712"}),
    ev(5830, "bot_speech_start", turn_id=1, tts_first_audio_ms=90.0),
    ev(6560, "bot_paused", onset_ms=6490.0),
    ev(6800, "interruption", reason="speech_confirmed"),
    ev(6800, "bot_speech_stop", turn_id=1, interrupted=True),
    ev(8100, "turn_end", turn_id=2, start_ms=6490.0, end_ms=7610.0),
    ev(8100, "transcript", turn_id=2, text="no the other one", asr_ms=190.0),
    ev(8150, "bot_reply", turn_id=2, intent="deny", dialogue_ms=8.0, slots={}),
    ev(8200, "bot_speech_start", turn_id=2, tts_first_audio_ms=70.0),
    ev(9100, "bot_paused", onset_ms=9000.0),
    ev(9350, "bot_speech_stop", turn_id=2, interrupted=True),
    ev(11000, "bot_speech_start", turn_id=3, tts_first_audio_ms=60.0),
    ev(12080, "bot_paused", onset_ms=12010.0),
    ev(12700, "bot_resumed", reason="not_confirmed"),
    ev(15000, "bot_speech_stop", turn_id=3, interrupted=False),
    ev(15500, "action", action="transfer"),
    ev(16000, "call_end", outcome="handed_off"),
]
TRUTHS = [
    TurnTruth(0, "after_bot", 3400.0, 5000.0, expect_intent="order_status", text="where is my order"),
    TurnTruth(1, "during_bot", 6500.0, 7600.0, barge_in="expected", expect_intent="return_refund", text="no the other order"),
    TurnTruth(2, "during_bot", 9000.0, 9300.0, barge_in="not_expected", text="uh huh"),
    TurnTruth(3, "during_bot", 12000.0, 12400.0, barge_in="expected", text="stop"),
    TurnTruth(4, "after_bot", None, None, text="never said"),
]


def test_per_turn_figures_are_exact():
    rows = turn_figures(EVENTS, TRUTHS)
    r0, r1, r2, r3, r4 = rows
    assert r0["pipeline_turns"] == [1] and r0["v2v_ms"] == 830.0 and r0["vad_end_of_turn_ms"] == 500.0
    assert r0["intent"] == "order_status" and r0["intent_ok"] is True and r0["bot_speaking_at_onset"] is False
    assert r0["barge_in_result"] is None and r0["transcript"] == "where is my order"
    assert r1["bot_speaking_at_onset"] is True and r1["barge_in_ms"] == 60.0 and r1["barge_in_result"] == "ok"
    assert r1["v2v_ms"] == 600.0 and r1["intent"] == "deny" and r1["intent_ok"] is False
    assert r2["barge_in_result"] == "false" and r2["paused_ms"] == 100.0 and r2["v2v_ms"] is None and r2["pipeline_turns"] == []
    assert r3["barge_in_result"] == "missed" and r3["barge_in_ms"] == 80.0  # paused, resumed, never cut
    assert r4["played"] is False and "v2v_ms" not in r4


def test_summary_rates_percentiles_and_stage_medians():
    rows = turn_figures(EVENTS, TRUTHS)
    checks = scenario_checks(EVENTS, rows, Expect(handoff=True, order_id="45712", v2v_max_ms=700), accuracy_checked=True)
    sc = {"name": "t", "language": "en", "turns": rows, "stages": stage_figures(EVENTS), "checks": checks}
    s = summarize_runs([sc], dev_models=False, oracle=False)
    assert (s["v2v_p50_ms"], s["v2v_p95_ms"], s["v2v_n"]) == (715.0, 818.5, 2)
    assert (s["barge_in_p50_ms"], s["barge_in_p95_ms"], s["barge_in_n"]) == (70.0, 79.0, 2)
    assert (s["false_barge_in_rate"], s["false_barge_in_n"]) == (1.0, 1)
    assert (s["missed_barge_in_rate"], s["missed_barge_in_n"]) == (0.5, 2)
    assert s["intent_accuracy"] == 0.5 and s["task_success"] == 0.0
    assert s["stages_p50_ms"] == {"vad_end_of_turn": 500.0, "asr": 200.0, "dialogue": 10.0, "tts_first_audio": 70.0}
    # WER: "where is my order" exact (0/4), "no the other order" vs "no the other one" (1/4), "uh huh"/"stop" unheard (2+1)
    assert s["wer"] == round(4 / 11, 4)
    by = {c["check"]: c for c in checks}
    assert by["handoff"]["ok"] is True and by["order_id"]["ok"] is True
    assert by["turn1.intent"]["ok"] is False and by["turn2.barge_in"]["ok"] is False and by["turn3.barge_in"]["ok"] is False
    assert by["turn0.v2v_ms"]["ok"] is False and by["turn1.v2v_ms"]["ok"] is True and by["turn4.played"]["ok"] is False


def test_dev_models_null_the_accuracy_figures_and_skip_their_checks():
    rows = turn_figures(EVENTS, TRUTHS)
    checks = scenario_checks(EVENTS, rows, Expect(handoff=True), accuracy_checked=False)
    sc = {"name": "t", "language": "en", "turns": rows, "stages": stage_figures(EVENTS), "checks": checks}
    s = summarize_runs([sc], dev_models=True, oracle=False)
    assert s["wer"] is None and s["intent_accuracy"] is None and s["dev_models"] is True
    handoff = next(c for c in checks if c["check"] == "handoff")
    assert handoff["ok"] is None and "dev ASR" in handoff["skipped"]
    # a backchannel is told apart by its words: with random words, whether it cut the bot is not judged
    by = {c["check"]: c for c in checks}
    assert by["turn2.barge_in"]["ok"] is None and "words" in by["turn2.barge_in"]["skipped"]
    assert s["false_barge_in_rate"] is None and s["false_barge_in_n"] == 1 and "words" in s["false_barge_in_note"]
    # an expected interruption that was never cut is still a miss: that needs no words
    assert by["turn3.barge_in"]["ok"] is False and s["missed_barge_in_rate"] == 0.5
    # with the oracle's words (or a real model) the backchannel figure stands
    assert summarize_runs([sc], dev_models=True, oracle=True)["false_barge_in_rate"] == 1.0


def test_helpers():
    assert bot_intervals(EVENTS)[:2] == [(20.0, 3000.0), (5830.0, 6800.0)]
    assert percentile([], 50) is None and percentile([100.0, 200.0, 300.0, 400.0], 95) == 385.0
    assert edit_distance("a b c".split(), "a x c d".split()) == 2
    assert words("Où est ma commande?", "fr") == ["où", "est", "ma", "commande"] and words("我的订单", "zh") == ["我", "的", "订", "单"]
    # a caller pausing inside an order number: each piece of audio gets its share of the words
    text = "my number is four five seven one two"
    assert word_share(text, 1000, 5000, 900, 2800) == "my number is four"
    assert word_share(text, 1000, 5000, 3000, 5100) == "five seven one two"
    assert word_share(text, 1000, 5000, 900, 5100) == text
    r = ratios({"v2v_p50_ms": 400.0, "v2v_p95_ms": 600.0, "barge_in_p50_ms": None, "barge_in_p95_ms": 100.0, "false_barge_in_rate": 0.0,
                "missed_barge_in_rate": 0.1, "stages_p50_ms": {"asr": 100.0}},
               {"v2v_p50_ms": 1000.0, "v2v_p95_ms": 3000.0, "barge_in_p50_ms": 400.0, "barge_in_p95_ms": 0.0, "false_barge_in_rate": 0.5,
                "missed_barge_in_rate": 0.2, "stages_p50_ms": {"asr": 400.0}})
    assert r["v2v_p50_ms"] == 0.4 and r["v2v_p95_ms"] == 0.2 and r["barge_in_p50_ms"] is None and r["barge_in_p95_ms"] is None
    assert r["false_barge_in_rate"] == 0.0 and r["missed_barge_in_rate"] == 0.5 and r["stage_asr"] == 0.25
