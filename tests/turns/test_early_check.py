"""The end-of-turn check started by level, before the VAD's stop (voicebot/turns/quiet_tail.py).

Scripted caller timelines in audio time: 10 ms frames with a level and webrtcvad's per-frame
decision; the VAD's start/stop placed where webrtcvad would place them. webrtcvad calls a fading
tail voiced: the caller's words end at 800 ms, the VAD hears voice until 900 ms.
"""

import dataclasses

from voicebot.turns.engine import TurnEngine
from voicebot.turns.policy import EndOfTurnPolicy, TurnPolicy

FRAME = b"\x10\x00" * 160  # 10 ms at 16 kHz
EARLY = TurnPolicy(end_of_turn=EndOfTurnPolicy(silence_ms=700, quick_silence_ms=150, complete_silence_ms=250, incomplete_silence_ms=2000,
                                               semantic=("text", "smart_turn"), smart_turn_holds=False, check_wait_ms=1500,
                                               early_check_ms=60, early_quiet_db=25.0))
OFF = dataclasses.replace(EARLY, end_of_turn=dataclasses.replace(EARLY.end_of_turn, early_check_ms=0))


class Caller:
    def __init__(self, policy=EARLY, bot=False):
        self.e = TurnEngine(policy)
        self.e.bot_active = bot
        self.e.language = "en"
        self.stop_ms = policy.end_of_turn.vad_stop_ms
        self.t = 0.0
        self.actions = []
        self.run_voiced = self.run_quiet = 0
        self.vad_on = False

    def _frame(self, voiced, level):
        self.t += 10
        self.actions += [(self.t, a) for a in self.e.audio(self.t, FRAME, voiced, level)]
        self.run_voiced = self.run_voiced + 10 if voiced else 0
        self.run_quiet = 0 if voiced else self.run_quiet + 10
        if not self.vad_on and self.run_voiced >= 60:
            self.vad_on = True
            self.actions += [(self.t, a) for a in self.e.vad_start(60)]
        if self.vad_on and self.run_quiet >= self.stop_ms:
            self.vad_on = False
            self.actions += [(self.t, a) for a in self.e.vad_stop(self.stop_ms)]

    def play(self, ms, *, voiced, level):
        for _ in range(int(ms // 10)):
            self._frame(voiced, level)
        return self

    def words(self, ms):  # speech at -20 dBFS
        return self.play(ms, voiced=True, level=-20.0)

    def fading_tail(self, ms=100):  # under the speech level by 30 dB, webrtcvad still says voiced
        return self.play(ms, voiced=True, level=-50.0)

    def silence(self, ms):
        return self.play(ms, voiced=False, level=-65.0)

    def all(self, kind):
        return [(t, a) for t, a in self.actions if a.kind == kind]

    def events(self, kind):
        return [(t, a) for t, a in self.actions if a.kind == "emit" and a.event == kind]

    def answer(self, chk, text="Where is my order?"):
        self.actions += [(self.t, a) for a in self.e.check_result(chk.seq, smart_turn_prob=0.9, more=True)]
        self.actions += [(self.t, a) for a in self.e.check_result(chk.seq, text=text)]


def test_the_check_starts_once_the_level_falls_not_after_the_vads_stop():
    c = Caller().words(800).fading_tail(50)
    assert not c.all("check")
    c.fading_tail(10)
    (t, chk), = c.all("check")
    assert t == 860  # 60 ms under the speech level; the VAD still hears voice until 900 and stops at 1050
    # the 860 ms so far (preroll included), then 300 ms of the quiet just heard as the trailing silence Whisper needs
    assert len(chk.audio) == (86 + 30) * len(FRAME)


def test_the_padding_repeats_the_quiet_just_heard():
    from voicebot.turns.quiet_tail import pad_with_quiet

    speech, quiet = b"\x00\x10" * 8, b"\x01\x00\x02\x00"  # 8 loud samples, then 2 quiet ones
    assert pad_with_quiet(speech + quiet, 4, 10) == speech + quiet + b"\x01\x00\x02\x00\x01\x00\x02\x00\x01\x00"
    assert pad_with_quiet(speech, 0, 10) == speech and pad_with_quiet(speech, 4, 0) == speech


def test_an_early_check_that_answered_is_adopted_at_the_vads_stop_and_the_silence_counts_from_the_level():
    c = Caller().words(800).fading_tail(60)
    (_, chk), = c.all("check")
    c.answer(chk)  # answered at 860 ms, before the VAD's stop: kept for it
    assert not c.all("utterance")
    c.fading_tail(40).silence(150)  # the VAD stops at 1050
    assert [a.seq for _, a in c.all("check")] == [chk.seq]  # no second decode
    (t, utt), = c.all("utterance")
    assert t == 1050 and utt.reason == "complete"  # 250 ms after the level fell at 800
    assert utt.utterance.transcript == "Where is my order?" and utt.utterance.end_ms == 800


def test_without_the_early_check_the_same_caller_waits_for_the_vad():
    c = Caller(OFF).words(800).fading_tail(100).silence(150)
    (t, chk), = c.all("check")
    assert t == 1050
    c.answer(chk)
    c.silence(100)
    (t, utt), = c.all("utterance")
    assert t == 1150  # 250 ms after the VAD's end of speech at 900


def test_an_early_check_still_decoding_at_the_vads_stop_answers_when_done():
    c = Caller().words(800).fading_tail(100).silence(150)
    (_, chk), = c.all("check")
    assert not c.all("utterance")
    c.silence(50)
    c.answer(chk, "I want a refund.")
    (t, utt), = c.all("utterance")
    assert t == 1100 and utt.utterance.transcript == "I want a refund."


def test_the_caller_going_on_drops_the_early_check_and_the_vads_stop_starts_its_own():
    c = Caller().words(800).silence(80)
    (_, early), = c.all("check")
    assert c.e.check_result(early.seq, text="my order number is", smart_turn_prob=0.9) == []
    c.words(700)  # "... 4 5 7 1 2": louder again before the VAD stopped
    assert c.events("early_check_dropped")
    c.silence(150)
    checks = [a for _, a in c.all("check")]
    late = checks[-1]
    assert late.seq != early.seq
    assert c.e.check_result(early.seq, text="my order number is") == []  # a stale answer changes nothing
    c.answer(late, "my order number is 45712, thanks.")
    c.silence(100)
    (_, utt), = c.all("utterance")
    assert utt.utterance.transcript == "my order number is 45712, thanks." and utt.utterance.start_ms < 20


def test_an_early_incomplete_verdict_holds_the_turn_like_any_check():
    c = Caller().words(800).silence(70)
    (_, chk), = c.all("check")
    c.answer(chk, "my order number is 4 5")
    c.silence(1700)
    assert not c.all("utterance")
    c.silence(300)
    (_, utt), = c.all("utterance")
    assert utt.reason == "incomplete"


def test_no_early_check_while_the_bot_talks():
    c = Caller(bot=True).words(800).fading_tail(100)
    assert not [a for _, a in c.all("check")]


def test_one_click_does_not_set_the_speech_level():
    c = Caller().play(10, voiced=True, level=-5.0).play(800, voiced=True, level=-33.0).play(100, voiced=True, level=-60.0)
    (t, _), = c.all("check")
    assert t == 870  # a -5 dBFS click did not make the -33 dBFS words count as 25 dB under the speech


def test_a_greeting_alone_waits_for_the_request_that_follows():
    """"Hello, [370 ms] where is my order": "Hello." reads complete, but the caller has only opened."""
    c = Caller(dataclasses.replace(EARLY, end_of_turn=dataclasses.replace(EARLY.end_of_turn, doubt_silence_ms=450))).words(800).silence(150)
    (_, chk), = c.all("check")
    c.answer(chk, "Hello.")
    c.silence(200)
    assert not c.all("utterance")  # 350 ms after "Hello": a complete sentence would have been answered at 250
    c.words(1200).silence(150)  # "where is my order 45712?"
    (_, late) = c.all("check")[-1]
    c.answer(late, "Hello, where is my order 45712?")
    c.silence(100)
    (_, utt), = c.all("utterance")
    assert utt.utterance.transcript == "Hello, where is my order 45712?"


def test_opening_words_per_language():
    from voicebot.turns.completeness import text_preamble

    assert text_preamble("Hello.", "en") and text_preamble("Hola, buenas tardes.", "es") and text_preamble("もしもし", "ja")
    assert text_preamble("喂，你好", "zh") and text_preamble("Bonjour, euh", "fr")
    assert not text_preamble("Yes.", "en")  # an answer, not an opening
    assert not text_preamble("Hello, where is my order?", "en") and not text_preamble("もしもし、注文は", "ja")


def test_a_number_of_the_shops_length_ends_the_turn_a_shorter_one_waits_for_more_digits():
    from voicebot.turns.completeness import text_incomplete

    assert not text_incomplete("The number is 4-5-7-1-2.", "en", (5,))
    assert not text_incomplete("my order is 45,712", "en", (5,)) and not text_incomplete("order four five seven one two", "en", (5,))
    assert text_incomplete("The number is 4571.", "en", (5,))  # a digit still to come
    assert text_incomplete("The number is 4-5-7-1-2.", "en")  # no known length: the IVR-like wait
    assert text_incomplete("my number is 4 5 7 1 2 6", "en", (5,))  # longer than any order number: a phone number being read
    assert not text_incomplete("order double seven one two five", "en", (5,))  # 7 7 1 2 5


def test_the_shipped_policy_answers_a_whole_order_number_without_the_two_second_wait():
    from pathlib import Path

    from voicebot.pipeline.spec import load_spec

    policy = load_spec(Path(__file__).resolve().parents[2] / "pipelines" / "phone.yaml").turns
    c = Caller(policy).words(1500).silence(160)
    (_, chk), = c.all("check")
    c.actions += [(c.t, a) for a in c.e.check_result(chk.seq, smart_turn_prob=0.02, more=True)]  # smart-turn doubts it
    c.actions += [(c.t, a) for a in c.e.check_result(chk.seq, text="I want to cancel my order. The number is 4-5-7-1-2.")]
    c.silence(400)
    (t, utt), = c.all("utterance")
    assert t - 1500 <= 460 and utt.reason == "timeout"  # the doubt silence (450 ms), not incomplete_silence_ms (2 s)
