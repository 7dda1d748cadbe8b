"""The early pause (stage 1 before the VAD's start decision), rule by rule, on scripted timelines.

Frames carry what the adapter gives the engine: voiced (the VAD's frame state), the level the VAD
saw after echo control (dBFS; -120 = muted) and whether echo control muted the frame as the
bot's own echo. No clocks, no sleeps: time is the frames' audio time.
"""

import dataclasses

from tests.turns.test_engine_rules import FRAME, WORDS
from voicebot.turns.engine import EARLY_RELEASE_MS, TurnEngine

EARLY = dataclasses.replace(WORDS, barge_in=dataclasses.replace(WORDS.barge_in, early_pause_ms=20, early_hold_ms=300))
SILENT = -120.0  # a frame echo control muted (or digital silence)


class Line:
    """Scripted caller frames: ``frames(ms, voiced=, level=, masked=)``; the VAD's start after ``start_ms`` voiced."""

    def __init__(self, policy=EARLY, bot=True, start_ms=60):
        self.e = TurnEngine(policy)
        self.e.bot_active = bot
        self.e.language = "en"
        self.start_ms, self.stop_ms = start_ms, policy.end_of_turn.vad_stop_ms
        self.t = 0.0
        self.actions = []
        self.run_voiced = self.run_quiet = 0
        self.vad_on = False

    def frames(self, ms, voiced=False, level=SILENT, masked=False):
        for _ in range(int(ms // 10)):
            self.t += 10
            self.actions += [(self.t, a) for a in self.e.audio(self.t, FRAME, voiced, level, masked)]
            self.run_voiced = self.run_voiced + 10 if voiced else 0
            self.run_quiet = 0 if voiced else self.run_quiet + 10
            if not self.vad_on and self.run_voiced >= self.start_ms:
                self.vad_on = True
                self.actions += [(self.t, a) for a in self.e.vad_start(self.start_ms)]
            if self.vad_on and self.run_quiet >= self.stop_ms:
                self.vad_on = False
                self.actions += [(self.t, a) for a in self.e.vad_stop(self.stop_ms)]
        return self

    def at(self, kind):
        return [t for t, a in self.actions if a.kind == kind]

    def emitted(self, kind):
        return [(t, a.data) for t, a in self.actions if a.kind == "emit" and a.event == kind]


def test_a_loud_onset_the_vad_calls_unvoiced_pauses_the_bot_after_early_pause_ms():
    # "s..." of a fricative: -38 dBFS, webrtcvad says unvoiced for the first 200 ms
    line = Line().frames(500).frames(200, voiced=False, level=-38.0)
    assert line.at("pause") == [520]
    (t, data), = line.emitted("early_pause")
    assert t == 520 and data["onset_ms"] == 500 and data["loud"] and not data["voiced"]


def test_two_loud_frames_pause_before_the_vads_start_decision():
    line = Line().frames(300).frames(60, voiced=True, level=-30.0)
    assert line.at("pause") == [320]  # the VAD's start (60 ms) comes at 360: the pause is already there
    assert [t for t, _ in line.emitted("vad_start")] == [360]
    assert "resume" not in [a.kind for _, a in line.actions]


def test_voiced_but_quiet_audio_waits_for_the_vads_start():
    # webrtcvad calls much line noise voiced: only loud audio pauses before the VAD decides
    line = Line().frames(300).frames(100, voiced=True, level=-50.0)
    assert line.at("pause") == [360] and line.emitted("early_pause") == []


def test_the_vads_start_keeps_the_early_pause_and_the_onset_is_the_sounds_onset():
    line = Line().frames(300).frames(200, level=-38.0).frames(300, voiced=True, level=-30.0)
    assert line.at("pause") == [320] and line.at("resume") == []
    (_, data), = line.emitted("vad_start")
    assert data["onset_ms"] < 560  # the VAD's own onset (its start window back from its decision)


def test_a_click_resumes_the_bot_once_the_sound_stopped_for_the_release_time():
    line = Line().frames(300).frames(30, level=-30.0).frames(200)
    assert line.at("pause") == [320]
    (t, a), = [(t, a) for t, a in line.actions if a.kind == "resume"]
    assert t == 330 + EARLY_RELEASE_MS and a.reason == "early_unconfirmed"


def test_a_sound_the_vad_never_accepts_is_released_after_early_hold_ms():
    line = Line().frames(300).frames(1000, level=-35.0)  # loud, unvoiced, on and on
    (t, a), = [(t, a) for t, a in line.actions if a.kind == "resume"]
    assert line.at("pause")[0] == 320 and t == 320 + 300 and a.reason == "early_unconfirmed"
    assert line.at("pause") == [320]  # not paused again for the same sound


def test_frames_muted_as_the_bots_echo_are_not_quiet_while_paused_early():
    # the caller under loud echo: after the pause, the echo of what was already played keeps coming
    # for the line's delay; echo control mutes those frames, the caller may be under them
    line = Line().frames(300).frames(20, voiced=True, level=-32.0).frames(150, masked=True)
    assert line.at("pause") == [320] and line.at("resume") == []
    line.frames(100, voiced=True, level=-31.0)  # the caller shows again and the VAD starts: one pause, no stutter
    assert line.at("pause") == [320] and line.at("resume") == [] and line.emitted("vad_start")
    # the same gap as plain quiet (below the floor, not echo) releases the pause
    quiet = Line().frames(300).frames(20, voiced=True, level=-32.0).frames(150)
    assert quiet.at("resume") == [320 + EARLY_RELEASE_MS]


def test_quiet_sounds_and_stationary_noise_are_not_loud():
    assert Line().frames(300).frames(300, level=-50.0).at("pause") == []  # below early_level_dbfs
    # 3 s of -40 dBFS line noise: the floor follows it, so the noise and its small swells are not loud
    line = Line().frames(3000, level=-40.0).frames(200, level=-36.0)
    assert line.at("pause")[0] < 100  # at first the floor does not know the noise yet
    later = [t for t in line.at("pause") if t > 2500]
    assert later == []
    line.frames(30, level=-22.0)  # a caller 18 dB above the noise
    assert line.at("pause")[-1] == 3220


def test_no_early_pause_while_the_bot_is_silent_or_when_off():
    assert Line(bot=False).frames(300).frames(200, level=-30.0).at("pause") == []
    assert Line(policy=WORDS).frames(300).frames(50, level=-30.0).at("pause") == []  # early_pause_ms = 0: off


# ---- re-onset: the words after a breath must not be talked over ----

REONSET = dataclasses.replace(EARLY, barge_in=dataclasses.replace(EARLY.barge_in, confirm_by_words=True, confirm_ms=5000,
                                                                     resume_after_ms=600, reonset_rise_db=12.0))


def test_words_after_a_breath_restart_the_resume_clock():
    # a breath (-48 dBFS: not loud, but voiced to webrtcvad) pauses the bot at the VAD's start (360);
    # the words (-20 dBFS) come at 700
    line = Line(REONSET).frames(300).frames(400, voiced=True, level=-48.0).frames(600, voiced=True, level=-20.0)
    assert line.at("pause") == [360]
    (t, data), = line.emitted("reonset")
    assert t == 710 and data["before_db"] == -48.0  # the first frame of the words lifts the 30 ms mean by 23 dB
    assert line.at("resume") == []  # without the restart the bot would resume at 960, into the words
    line.frames(400, voiced=True, level=-20.0)
    assert line.at("resume") == [710 + 600]  # unconfirmed still: resume_after_ms from the re-onset


def test_without_re_onset_the_bot_resumes_into_the_words():
    off = dataclasses.replace(REONSET, barge_in=dataclasses.replace(REONSET.barge_in, reonset_rise_db=0.0))
    line = Line(off).frames(300).frames(400, voiced=True, level=-48.0).frames(600, voiced=True, level=-20.0)
    assert line.at("resume") == [360 + 600]


def test_repeated_noise_bursts_are_no_new_onset_and_restarts_are_capped():
    line = Line(REONSET).frames(300)
    for _ in range(20):  # bursts 15 dB above the noise between them, again and again
        line.frames(100, voiced=True, level=-50.0).frames(50, voiced=True, level=-35.0)
    restarts = [t for t, _ in line.emitted("reonset")]
    assert restarts == [420]  # the first burst only: after it, a burst is what this sound does
    assert line.at("resume")[0] == 420 + 600  # the bot resumes over the noise
    # a sound that keeps getting louder: 13 dB steps every 200 ms; the clock restarts twice at most
    line = Line(REONSET).frames(300)
    for level in (-56.0, -43.0, -30.0, -17.0, -4.0, -4.0):
        line.frames(200, voiced=True, level=level)
    restarts = [t for t, _ in line.emitted("reonset")]
    assert restarts == [530, 730] and line.at("resume") == [730 + 600]  # not again at ~930 (-17 dBFS)


def test_a_steady_sound_is_no_re_onset():
    line = Line(REONSET).frames(300).frames(1000, voiced=True, level=-30.0)
    assert line.emitted("reonset") == [] and line.at("resume") == [320 + 600]


def test_a_sound_held_early_and_then_accepted_by_the_vad_is_held_once_not_twice():
    # 300 ms of an unvoiced loud onset, then voiced: at early_hold_ms (620) the frame is voiced, so the
    # early pause waits for the VAD (start at 660); resume_after_ms counts from the first pause
    line = Line(REONSET).frames(300).frames(300, level=-35.0).frames(800, voiced=True, level=-35.0)
    assert line.at("pause") == [320] and [t for t, _ in line.emitted("vad_start")] == [660]
    assert line.at("resume") == [320 + 600]
    # released at early_hold_ms (unvoiced still), then the VAD accepts the same sound: paused again at
    # its start, but the clock still runs from the first pause
    line = Line(REONSET).frames(300).frames(400, level=-35.0).frames(800, voiced=True, level=-35.0)
    assert line.at("pause") == [320, 760] and line.at("resume") == [620, 320 + 600]


def test_a_dismissed_sound_that_outlasts_the_bots_turn_ends_as_a_caller_turn():
    # noise under the bot's last words is dismissed (600 ms unconfirmed); the bot finishes at 1500 and the
    # caller answers inside the same sound: that must become an utterance, not be thrown away with the noise
    line = Line(REONSET).frames(300).frames(1200, voiced=True, level=-35.0)
    assert line.at("resume") == [320 + 600]  # paused early (loud), dismissed 600 ms later
    line.e.bot_active = False
    line.frames(1500, voiced=True, level=-30.0).frames(1000)
    assert [t for t, _ in line.emitted("sound_outlasts_bot")] == [1510]
    (t, utt), = [(t, a) for t, a in line.actions if a.kind == "utterance"]
    assert utt.utterance.end_ms > 2900
    # the same sound ending while the bot still talks stays dismissed (no turn)
    still = Line(REONSET).frames(300).frames(1200, voiced=True, level=-35.0).frames(1000)
    assert [a for _, a in still.actions if a.kind == "utterance"] == []


def test_confirmation_partials_count_from_the_sound_the_early_pause_heard():
    # a soft onset: 200 ms loud but unvoiced (a fricative), then voiced; the VAD's start comes at
    # 760 ms but the sound began at 500 ms: the first partial, 300 ms into the sound, is at 800 ms,
    # not pushed back by the VAD's lateness (it would be 1000 ms, 300 ms after the VAD's start window)
    policy = dataclasses.replace(EARLY, barge_in=dataclasses.replace(EARLY.barge_in, partial_first_ms=300))
    line = Line(policy).frames(500).frames(200, voiced=False, level=-38.0).frames(400, voiced=True, level=-30.0)
    assert line.at("pause") == [520] and line.at("partial")[0] == 800
    quiet = Line(policy).frames(500).frames(200, voiced=False, level=-60.0).frames(400, voiced=True, level=-30.0)
    assert quiet.at("partial")[0] == 1000  # no early pause heard the soft start: counted from the VAD's start
