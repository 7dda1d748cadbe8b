"""The scripted caller reacts to the bot's events: exact placement on the 20 ms tick grid."""

import numpy as np

from benchmarks.harness.line import CallerScript
from benchmarks.harness.scenario import Turn
from benchmarks.harness.synth import Clip, speech_bounds
from voicebot.events import CallEvent

RATE = 16000


def clip(lead_ms=100, speech_ms=1000, tail_ms=100, level=8000):
    pcm = np.concatenate([np.zeros(RATE * lead_ms // 1000), np.full(RATE * speech_ms // 1000, level), np.zeros(RATE * tail_ms // 1000)]).astype(np.int16)
    onset, end = speech_bounds(pcm, RATE)
    return Clip(pcm, RATE, onset, end, "test")


def run(script, until_ms, events):
    """Tick the script to ``until_ms``, delivering each (t_ms, kind) event at its tick."""
    out = []
    for tick in range(until_ms // 20):
        for t, kind in events:
            if t == tick * 20:
                script.on_event(CallEvent(float(t), kind, {}))
        out.append(script.chunk(tick))
    return np.concatenate(out)


def test_speech_bounds_are_exact_on_a_synthetic_clip():
    c = clip()
    assert (c.onset_ms, c.end_ms, c.duration_ms) == (100.0, 1100.0, 1200.0)


def test_after_bot_during_bot_continue_and_at():
    turns = [(Turn(text="a", when="after_bot", gap_ms=400), clip()),
             (Turn(text="b", when="continue", gap_ms=700), clip(speech_ms=500)),
             (Turn(text="c", when="during_bot", offset_ms=900, barge_in="expected"), clip()),
             (Turn(text="d", when="at", at_ms=20000), clip())]
    script = CallerScript(turns, RATE)
    audio = run(script, 22000, [(20, "bot_speech_start"), (3000, "bot_speech_stop"), (6000, "bot_speech_start")])
    a, b, c, d = script.turns
    assert (a.anchor, a.onset_ms, a.speech_end_ms) == ("bot_end", 3400.0, 4400.0)  # onset = bot end + gap
    assert (b.anchor, b.onset_ms) == ("caller_end", 5100.0)  # a 700 ms pause inside the caller's turn
    assert (c.anchor, c.onset_ms) == ("bot_start", 6900.0)  # 900 ms into the bot's reply
    assert (d.anchor, d.onset_ms) == ("at", 20000.0)
    # the caller's audio has the speech exactly there
    loud = np.nonzero(audio)[0]
    assert loud[0] == 3400 * 16 and np.all(audio[5100 * 16 : 5600 * 16] == 8000) and np.all(audio[5600 * 16 : 6900 * 16] == 0)
    assert script.finished(22000 // 20) is False  # the last turn waits for its answer...
    script.on_event(CallEvent(21500.0, "bot_speech_start", {}))
    assert script.finished(22000 // 20) is True


def test_a_bot_that_never_answers_does_not_hold_the_caller_forever():
    script = CallerScript([(Turn(text="a", when="after_bot", wait_bot_ms=2000), clip())], RATE)
    run(script, 3000, [])
    assert script.turns[0].anchor == "timeout" and script.turns[0].start_ms == 2000.0


def test_noise_is_mixed_under_the_whole_call():
    noise = np.full(320, 100, dtype=np.int16)
    script = CallerScript([(Turn(text="a", when="at", at_ms=1000), clip())], RATE, noise=noise, noise_gain=0.5)
    audio = run(script, 2000, [])
    assert audio[0] == 50 and audio[1100 * 16] == 8050
