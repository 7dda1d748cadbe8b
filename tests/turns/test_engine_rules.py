"""Each rule of the turn policy on the pure engine, with scripted caller timelines in audio time.

A timeline is a list of 10 ms frames (voiced or not) plus the VAD's start/stop decisions
placed where webrtcvad with start_ms/stop_ms would place them; no clocks, no sleeps.
"""

import dataclasses

from voicebot.turns.actions import InterruptBot
from voicebot.turns.engine import TurnEngine
from voicebot.turns.policy import BargeInPolicy, EndOfTurnPolicy, TurnPolicy

FRAME = b"\x10\x00" * 160  # 10 ms at 16 kHz
WORDS = TurnPolicy(barge_in=BargeInPolicy(confirm_ms=400, confirm_by_words=True, backchannel_max_ms=900),
                   end_of_turn=EndOfTurnPolicy(silence_ms=700, quick_silence_ms=250, incomplete_silence_ms=1500, semantic=("text", "smart_turn")))


class Script:
    """Feeds the engine: ``speak(ms)`` / ``quiet(ms)`` with VAD decisions after start/stop windows."""

    def __init__(self, policy=WORDS, bot=True, start_ms=90, lang="en"):
        self.e = TurnEngine(policy)
        self.e.bot_active = bot
        self.e.language = lang
        self.start_ms, self.stop_ms = start_ms, policy.end_of_turn.vad_stop_ms
        self.t = 0.0
        self.actions = []
        self.run_voiced = self.run_quiet = 0
        self.vad_on = False

    def _frame(self, voiced):
        self.t += 10
        self.actions += [(self.t, a) for a in self.e.audio(self.t, FRAME, voiced)]
        self.run_voiced = self.run_voiced + 10 if voiced else 0
        self.run_quiet = 0 if voiced else self.run_quiet + 10
        if not self.vad_on and self.run_voiced >= self.start_ms:
            self.vad_on = True
            self.actions += [(self.t, a) for a in self.e.vad_start(self.start_ms)]
        if self.vad_on and self.run_quiet >= self.stop_ms:
            self.vad_on = False
            self.actions += [(self.t, a) for a in self.e.vad_stop(self.stop_ms)]

    def speak(self, ms):
        for _ in range(int(ms // 10)):
            self._frame(True)
        return self

    def quiet(self, ms):
        for _ in range(int(ms // 10)):
            self._frame(False)
        return self

    def last(self, kind):
        hits = [(t, a) for t, a in self.actions if a.kind == kind]
        return hits[-1] if hits else (None, None)

    def kinds(self):
        return [a.kind for _, a in self.actions if a.kind != "emit"]


def test_vad_start_while_the_bot_talks_pauses_it_at_once():
    s = Script().quiet(500).speak(100)
    t, a = s.last("pause")
    assert t == 590 and a.onset_ms == 490  # the VAD's decision frame; onset 90+10 ms earlier


def test_no_pause_when_the_bot_is_silent():
    s = Script(bot=False).speak(300)
    assert "pause" not in s.kinds() and "interrupt" not in s.kinds()


def test_long_speech_confirms_after_confirm_ms_of_voiced_audio():
    s = Script().speak(600)
    t, a = s.last("interrupt")
    assert a.reason == "speech_confirmed" and t == 400


def test_a_non_backchannel_word_confirms_before_the_length_threshold():
    s = Script().speak(200)
    _, req = s.last("partial")
    assert req is not None and req.audio  # speculative transcription of the paused speech was asked for
    out = s.e.partial_result(req.seq, "no the other")
    assert [a.kind for a in out if a.kind != "emit"] == ["interrupt"] and out[-1] == InterruptBot("words", 0.0, word="no")


def test_backchannel_words_do_not_confirm_and_extend_the_threshold():
    s = Script().speak(200)
    _, req = s.last("partial")
    assert not [a for a in s.e.partial_result(req.seq, "Uh-huh.") if a.kind == "interrupt"]
    s.speak(500)  # 700 ms of "yeah yeah okay": past confirm_ms but the words are all backchannels
    assert "interrupt" not in s.kinds()
    t, a = s.last("resume")
    assert a.reason == "backchannel" and t == 90 + 600  # resume_after_ms: the bot talks on over the listener
    s.quiet(300)
    assert "interrupt" not in s.kinds() and "utterance" not in s.kinds() and s.kinds().count("resume") == 1


def test_backchannel_in_the_callers_language():
    for lang, word, content in (("es", "sí", "espera"), ("de", "ja genau", "nein"), ("zh", "嗯", "不是"), ("ja", "はい", "違います"), ("ko", "네", "아니요")):
        s = Script(lang=lang).speak(200)
        _, req = s.last("partial")
        assert not [a for a in s.e.partial_result(req.seq, word) if a.kind == "interrupt"], (lang, word)
        s2 = Script(lang=lang).speak(200)
        _, req2 = s2.last("partial")
        assert [a for a in s2.e.partial_result(req2.seq, content) if a.kind == "interrupt"], (lang, content)


def test_short_sound_resumes_the_bot_without_a_turn():
    s = Script().speak(150).quiet(400)
    assert s.kinds().count("pause") == 1 and "resume" in s.kinds()
    assert "interrupt" not in s.kinds() and "utterance" not in s.kinds()


def test_a_stale_partial_after_resume_is_discarded():
    s = Script().speak(200)
    _, req = s.last("partial")
    s.quiet(300)  # resumed
    assert s.e.partial_result(req.seq, "cancel my order") == []


def test_end_of_turn_complete_answers_without_the_full_timeout():
    s = Script(bot=False).speak(800).quiet(260)
    _, chk = s.last("check")
    assert chk is not None and "utterance" not in s.kinds()
    out = s.e.check_result(chk.seq, text="Where is my order?", smart_turn_prob=0.9)
    utt = [a for a in out if a.kind == "utterance"][0]
    assert utt.reason == "complete" and utt.utterance.transcript == "Where is my order?"


def test_mid_number_pause_is_not_cut_and_the_check_is_discarded_when_the_caller_goes_on():
    s = Script(bot=False).speak(1000).quiet(260)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, text="my order number is 4 5", smart_turn_prob=0.9)
    s.quiet(900)  # 1.16 s of silence: past silence_ms, within incomplete_silence_ms
    assert "utterance" not in s.kinds()
    s.speak(600)  # "... 7 8 9"
    assert s.e.check_result(chk.seq, text="stale", smart_turn_prob=1.0) == []
    s.quiet(260 + 700)
    _, utt = s.last("utterance")
    assert utt is not None and utt.utterance.start_ms < 20 and utt.reason == "timeout"


WAIT = dataclasses.replace(WORDS, end_of_turn=dataclasses.replace(WORDS.end_of_turn, check_wait_ms=1500))


def test_smart_turn_incomplete_decides_before_the_transcript_arrives():
    s = Script(policy=WAIT, bot=False).speak(800).quiet(260)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, smart_turn_prob=0.1, more=True)  # the transcript is still decoding
    s.quiet(1400)
    t, utt = s.last("utterance")
    assert utt.reason == "incomplete" and t == 800 + 1500  # incomplete_silence_ms, not check_wait_ms


def test_a_slow_transcript_is_awaited_up_to_check_wait_and_its_incomplete_holds_the_turn():
    # smart-turn calls "1 7 3 4" complete; the transcript arrives 900 ms into the silence
    s = Script(policy=WAIT, bot=False).speak(800).quiet(260)
    _, chk = s.last("check")
    out = s.e.check_result(chk.seq, smart_turn_prob=0.9, more=True)
    assert not [a for a in out if a.kind == "utterance"]  # "complete" from smart-turn alone does not end it
    s.quiet(640)  # 900 ms of silence: past silence_ms (700), the turn is still open
    assert "utterance" not in s.kinds()
    s.e.check_result(chk.seq, text="my id is 1 7 3 4")
    s.quiet(500)
    assert "utterance" not in s.kinds()  # incomplete: up to 1500 ms
    s.speak(400)  # "... 1 2 5 6": the same turn goes on
    s.quiet(260)
    _, chk2 = s.last("check")
    s.e.check_result(chk2.seq, smart_turn_prob=0.9, more=True)
    out = s.e.check_result(chk2.seq, text="my id is 1 7 3 4 1 2 5 6 please")
    utt = [a for a in out if a.kind == "utterance"][0]
    assert utt.reason == "complete" and utt.utterance.start_ms < 20


def test_a_transcript_that_never_comes_ends_the_turn_at_check_wait():
    s = Script(policy=WAIT, bot=False).speak(800).quiet(260)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, smart_turn_prob=0.9, more=True)
    s.quiet(1400)
    t, utt = s.last("utterance")
    assert utt.reason == "timeout" and t == 800 + 1500
    without = Script(bot=False).speak(800).quiet(260)  # check_wait_ms 0: the plain silence timeout
    without.quiet(500)
    t, utt = without.last("utterance")
    assert utt.reason == "timeout" and t == 800 + 700


def test_smart_turn_that_may_not_hold_neither_holds_the_turn_nor_ends_it_early():
    policy = dataclasses.replace(WAIT, end_of_turn=dataclasses.replace(WAIT.end_of_turn, smart_turn_holds=False))
    s = Script(policy=policy, bot=False).speak(800).quiet(260)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, smart_turn_prob=0.1, more=True)
    out = s.e.check_result(chk.seq, text="I want to return my order.")
    assert not [a for a in out if a.kind == "utterance"]  # smart-turn doubts it: not answered at once
    s.quiet(500)
    t, utt = s.last("utterance")
    assert utt.reason == "timeout" and t == 800 + 700  # ... nor held for incomplete_silence_ms
    digits = Script(policy=policy, bot=False).speak(800).quiet(260)
    _, chk = digits.last("check")
    digits.e.check_result(chk.seq, smart_turn_prob=0.9, more=True)
    digits.e.check_result(chk.seq, text="my id is 1 7 3 4")
    digits.quiet(1400)
    t, utt = digits.last("utterance")
    assert utt.reason == "incomplete" and t == 800 + 1500  # the words still hold it


def test_incomplete_turn_ends_after_the_long_timeout():
    s = Script(bot=False).speak(800).quiet(260)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, text="I want to return the", smart_turn_prob=0.2)
    s.quiet(1400)
    t, utt = s.last("utterance")
    assert utt.reason == "incomplete" and t == 800 + 1500


def test_undecided_turn_ends_after_silence_ms():
    s = Script(bot=False).speak(800).quiet(800)
    t, utt = s.last("utterance")
    assert utt.reason == "timeout" and t == 800 + 700


def test_plain_policy_keeps_the_single_timeout():
    s = Script(policy=TurnPolicy(), bot=False).speak(800).quiet(600)
    t, utt = s.last("utterance")
    assert t == 800 + 500 and "check" not in s.kinds()


def test_keypad_interrupts_and_ends_on_hash():
    s = Script().quiet(100)
    out = s.e.dtmf("4") + s.e.dtmf("5") + s.e.dtmf("#")
    assert [a.kind for a in out if a.kind != "emit"] == ["interrupt", "interrupt", "interrupt", "utterance"]
    assert out[-1].utterance.dtmf == "45"


def test_resume_after_ms_when_paused_without_speech():
    policy = dataclasses.replace(WORDS, barge_in=dataclasses.replace(WORDS.barge_in, resume_after_ms=300))
    s = Script(policy=policy).speak(100)
    s.e.speaking = False  # the VAD never reports stop (e.g. its stream ended)
    s.quiet(310)
    assert s.last("resume")[1].reason == "not_confirmed"


# ---- the shipped phone policy: words decide, length is only the fallback ----------------------
def _phone_policy():
    from pathlib import Path

    from voicebot.pipeline.spec import load_spec

    return load_spec(Path(__file__).resolve().parents[2] / "pipelines" / "phone.yaml").turns


def test_phone_policy_is_words_first_with_echo_control():
    p = _phone_policy()
    assert p.barge_in.confirm_by_words and p.barge_in.confirm_ms >= 1000 and p.echo.enabled


def test_length_confirms_only_as_the_fallback_when_the_asr_has_not_answered():
    s = Script(policy=_phone_policy(), start_ms=60).speak(1100)
    assert "interrupt" not in s.kinds()  # no partial came back: below the fallback length, no decision yet
    s.speak(200)
    t, a = s.last("interrupt")
    assert a.reason == "speech_confirmed" and t == _phone_policy().barge_in.confirm_ms


def _speak_answering_partials(s, ms, text):
    """Speak ``ms`` in 50 ms steps; each speculative partial request is answered with ``text`` in the next step."""
    answered = 0
    for _ in range(int(ms // 50)):
        s.speak(50)
        _, req = s.last("partial")
        if req is not None and req.seq == s.e._seq and s.e._partial_in_flight:
            s.e.partial_result(req.seq, text)
            answered += 1
    return answered


def test_a_long_sound_without_words_never_confirms_and_the_bot_resumes_over_it():
    s = Script(policy=_phone_policy(), start_ms=60)
    # 3 s of noise, far past confirm_ms; every partial transcript comes back empty
    assert _speak_answering_partials(s, 3000, "") >= 3 and "interrupt" not in s.kinds()
    t, a = s.last("resume")
    assert a.reason == "no_words" and t == 60 + 600  # not silent while the noise goes on
    s.quiet(400)
    assert "utterance" not in s.kinds() and s.kinds().count("pause") == 1  # the noise is not a caller turn


def test_words_after_noise_in_the_same_sound_still_confirm():
    s = Script(policy=_phone_policy(), start_ms=60)
    _speak_answering_partials(s, 700, "")  # no word in 700 ms: noise so far
    assert s.e._no_words and "interrupt" not in s.kinds()
    s.speak(800)
    _, req = s.last("partial")
    out = s.e.partial_result(req.seq, "cancel my order")
    assert [a.reason for a in out if a.kind == "interrupt"] == ["words"]


def test_a_short_empty_partial_does_not_rule_out_words():
    s = Script(policy=_phone_policy(), start_ms=60).speak(320)  # the phone policy's first partial: 300 ms into the sound
    _, req = s.last("partial")
    s.e.partial_result(req.seq, "")  # ~300 ms of audio (< no_words_after_ms): too short to rule words out
    s.speak(1100)
    assert s.last("interrupt")[1].reason == "speech_confirmed"


def test_echo_gated_frames_do_not_count_toward_confirmation():
    policy = dataclasses.replace(WORDS, barge_in=dataclasses.replace(WORDS.barge_in, confirm_by_words=False, resume_after_ms=5000))
    s = Script(policy=policy).speak(100)
    for _ in range(25):  # the VAD is on, but the adapter reports every other frame as the bot's echo
        s.actions += [(s.t, a) for a in s.e.audio(s.t + 10, FRAME, False)]
        s.t += 10
        s.actions += [(s.t, a) for a in s.e.audio(s.t + 10, FRAME, True)]
        s.t += 10
    assert "interrupt" not in s.kinds()  # 600 ms of sound, 350 ms of it the caller's: not yet confirm_ms
    s.speak(50)
    t, a = s.last("interrupt")
    assert t == 650 and a.voiced_ms == 400


def test_a_spelled_id_is_incomplete_even_when_smart_turn_says_complete():
    s = Script(bot=False).speak(1500).quiet(260)
    _, chk = s.last("check")
    out = s.e.check_result(chk.seq, text="1 7 3 4", smart_turn_prob=0.95)
    assert [a for a in out if a.kind == "emit" and a.data.get("verdict") == "incomplete"]
    s.quiet(1000)  # the caller looks for the next digits
    assert "utterance" not in s.kinds()
    s.speak(1200)  # "1 2 5 6"
    s.quiet(260)
    _, chk2 = s.last("check")
    s.e.check_result(chk2.seq, text="1 7 3 4 1 2 5 6", smart_turn_prob=0.9)
    s.quiet(1500)
    _, utt = s.last("utterance")
    assert utt.reason == "incomplete" and utt.utterance.start_ms < 20  # one turn, both pieces


def test_text_rules_for_numbers():
    from voicebot.turns.completeness import text_incomplete

    assert text_incomplete("1 7 3 4") and text_incomplete("one zero zero zero one") and text_incomplete("my order number is 4 5")
    assert not text_incomplete("two") and not text_incomplete("Where is my order?") and not text_incomplete("It is 1734?")


CONT = dataclasses.replace(WORDS, end_of_turn=dataclasses.replace(WORDS.end_of_turn, continue_within_ms=1500))


def _end_turn(s, speech_ms, text):
    s.speak(speech_ms).quiet(260)
    _, chk = s.last("check")
    out = s.e.check_result(chk.seq, text=text, smart_turn_prob=0.9)
    s.actions += [(s.t, a) for a in out]
    return [a for a in out if a.kind == "utterance"][0]


def test_going_on_after_a_pause_while_the_reply_is_pending_holds_it_and_continues_the_turn():
    # caller speaks 0-1.0 s ("And so my fellow Americans."), pauses 0.8 s, goes on ("ask not ...")
    s = Script(policy=CONT, bot=False)
    first = _end_turn(s, 1000, "And so my fellow Americans.")
    assert first.utterance.continues is False
    s.e.reply_pending = True  # the reply is being made: nothing played yet
    s.quiet(540).speak(200)  # onset 800 ms after the end of the first part
    t, pause = s.last("pause")
    assert pause is not None  # the reply is held back before a sample of it plays
    _, req = s.last("partial")
    out = s.e.partial_result(req.seq, "ask not")
    interrupt = [a for a in out if a.kind == "interrupt"][0]
    assert interrupt.continues is True
    s.e.reply_pending = False
    second = _end_turn(s, 400, "ask not what your country can do for you")
    assert second.utterance.continues is True


def test_speech_long_after_the_turn_is_a_new_turn_not_a_continuation():
    s = Script(policy=CONT, bot=False)
    _end_turn(s, 1000, "Where is my order?")
    s.e.bot_active = True  # the answer is playing
    s.quiet(1800).speak(200)  # onset 2 s after the end: past continue_within_ms
    _, req = s.last("partial")
    out = s.e.partial_result(req.seq, "no wait")
    assert [a for a in out if a.kind == "interrupt"][0].continues is False
    s.e.bot_active = False
    assert _end_turn(s, 400, "no wait it is the other one").utterance.continues is False


def test_a_cough_after_the_turn_does_not_withdraw_the_reply():
    s = Script(policy=CONT, bot=False)
    _end_turn(s, 1000, "Where is my order?")
    s.e.reply_pending = True
    s.quiet(300).speak(150).quiet(400)  # a short sound, no words: the held reply is released
    assert "interrupt" not in s.kinds() and s.last("resume")[1] is not None


def test_continuation_is_off_by_default():
    s = Script(bot=False)
    _end_turn(s, 1000, "And so my fellow Americans.")
    s.e.reply_pending = True
    s.quiet(500).speak(200)
    assert s.last("pause")[1] is None  # a pending reply is not held without continue_within_ms


SPECULATE = dataclasses.replace(WORDS, end_of_turn=dataclasses.replace(WORDS.end_of_turn, quick_silence_ms=150, complete_silence_ms=250))


def test_speculative_check_answers_at_the_complete_silence_not_before():
    s = Script(policy=SPECULATE, bot=False).speak(800).quiet(160)  # caller stops at 800 ms; check at 150 ms of silence
    t_check, chk = s.last("check")
    assert chk is not None and t_check == 950
    assert s.e.check_result(chk.seq, text="Where is my order?", smart_turn_prob=0.9)[-1].kind == "emit"  # complete, but too soon
    s.quiet(80)
    assert "utterance" not in s.kinds()  # 240 ms of silence
    s.quiet(20)
    t_utt, utt = s.last("utterance")
    assert utt.reason == "complete" and t_utt == 1050  # 250 ms after the last word


def test_speculative_check_that_decodes_longer_answers_when_it_is_done():
    s = Script(policy=SPECULATE, bot=False).speak(800).quiet(400)
    _, chk = s.last("check")
    assert "utterance" not in s.kinds()  # the check is still decoding at 400 ms of silence
    out = s.e.check_result(chk.seq, text="Where is my order?", smart_turn_prob=0.9)
    assert [a.reason for a in out if a.kind == "utterance"] == ["complete"]


def test_caller_going_on_before_the_complete_silence_discards_the_speculative_check():
    s = Script(policy=SPECULATE, bot=False).speak(800).quiet(160)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, text="I want to", smart_turn_prob=0.9)  # "complete" by smart-turn; the text says no anyway
    s.speak(600).quiet(160)
    _, chk2 = s.last("check")
    assert chk2.seq != chk.seq and "utterance" not in s.kinds()
    s.e.check_result(chk2.seq, text="I want to return my lamp.", smart_turn_prob=0.9)
    s.quiet(100)
    _, utt = s.last("utterance")
    assert utt is not None and utt.utterance.start_ms < 20 and utt.utterance.transcript == "I want to return my lamp."


def test_backchannels_as_whisper_writes_them():
    from voicebot.turns.backchannels import first_content_word, is_backchannel

    # "sí, sí" over the bot came back from the real Whisper base as "Sisi." and cancelled the bot's answer
    assert is_backchannel("Sisi.", "es") and is_backchannel("si, si", "es") and is_backchannel("Yeah yeah.", "en")
    assert is_backchannel("Sísa.", "es")  # and, in the next run, as this
    assert not is_backchannel("nine", "en") and not is_backchannel("five", "en")  # one letter off "nice"/"fine" is a digit
    assert first_content_word("Sisi, quiero cancelar", "es") == "quiero"
    assert first_content_word("Siempre", "es") == "siempre"  # starts like "si", is not "si" repeated


def test_a_phrasal_verb_ends_a_sentence_a_preposition_does_not():
    from voicebot.turns.completeness import text_incomplete

    assert not text_incomplete("Okay, please go on.", "en") and not text_incomplete("Hold on.", "en")
    assert text_incomplete("I want to return the", "en") and text_incomplete("it is on", "en")


def test_smart_turn_doubting_complete_words_waits_the_doubt_silence_not_the_timeout():
    eot = dataclasses.replace(SPECULATE.end_of_turn, smart_turn_holds=False, doubt_silence_ms=450)
    s = Script(policy=dataclasses.replace(SPECULATE, end_of_turn=eot), bot=False).speak(800).quiet(160)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, smart_turn_prob=0.02, more=True)
    s.e.check_result(chk.seq, text="The child almost hurt the small dog.")
    s.quiet(280)
    assert "utterance" not in s.kinds()  # 440 ms of silence
    s.quiet(20)
    t_utt, utt = s.last("utterance")
    assert utt.reason == "timeout" and t_utt == 1250  # 450 ms, not silence_ms (700)


def test_the_shipped_phone_policy_answers_a_complete_sentence_at_250_ms_and_holds_a_number():
    """pipelines/phone.yaml as shipped: a finished sentence is answered 250 ms after the caller's last
    word (its check, started at 150 ms, answering in time); a number read in pieces is held for 2 s."""
    from pathlib import Path

    from voicebot.pipeline.spec import load_spec

    policy = load_spec(Path(__file__).resolve().parents[2] / "pipelines" / "phone.yaml").turns
    s = Script(policy=policy, bot=False).speak(1500).quiet(160)
    _, chk = s.last("check")
    s.e.check_result(chk.seq, smart_turn_prob=0.9, more=True)
    s.e.check_result(chk.seq, text="Where is my order?")
    s.quiet(100)
    t_utt, utt = s.last("utterance")
    assert utt.reason == "complete" and t_utt - 1500 <= 250
    n = Script(policy=policy, bot=False).speak(1500).quiet(160)
    _, chk = n.last("check")
    n.e.check_result(chk.seq, smart_turn_prob=0.9, more=True)
    n.e.check_result(chk.seq, text="my order number is 4 5")
    n.quiet(1800)
    assert "utterance" not in n.kinds()  # 1.96 s of silence: still waiting for the rest of the number
    n.quiet(100)
    assert n.last("utterance")[1].reason == "incomplete"
