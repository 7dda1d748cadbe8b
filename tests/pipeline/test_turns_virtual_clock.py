"""Turn taking and barge-in on a virtual clock, with scripted caller timelines.

The caller's side is real speech from ../shared/audio placed at chosen times; the replay
channel runs the real pipeline (webrtcvad, turn taker, dialogue, espeak-ng TTS, playout)
on a VirtualClock, so these timelines are exact and take no wall-clock sleeps.
"""

import dataclasses

import numpy as np
import pytest

from tests.pipeline.timeline import RATE, OracleTranscriber, speech, timeline
from voicebot.channels.replay import ReplayOptions, replay_call
from voicebot.runtime import Runtime
from voicebot.asr.processor import Transcriber
from voicebot.asr.whisper import AsrResult

GREETING = "Hello, this is the customer service assistant. How can I help you today?"


@pytest.fixture
def runtime(settings):
    rt = Runtime(settings)
    yield rt
    rt.close()


def kinds(result, kind):
    return [e for e in result.call.events if e.kind == kind]


def bot_energy(result, start_ms, end_ms):
    seg = result.bot[int(start_ms * RATE / 1000) : int(end_ms * RATE / 1000)].astype(np.float64)
    return float(np.sqrt(np.mean(seg**2))) if len(seg) else 0.0


async def test_caller_turn_is_answered_after_the_silence_timeout(runtime):
    spec = dataclasses.replace(runtime.spec(), dialogue=dataclasses.replace(runtime.spec().dialogue, greet=False))
    clip = speech("en/sb_timit_spk1_snt1.wav")
    caller = timeline(6.0, (0.5, clip))
    oracle = OracleTranscriber(["where is my order"])
    result = await replay_call(runtime, caller, ReplayOptions(fast=True), spec=spec, transcriber=oracle)

    turns = [e for e in kinds(result, "turn_end") if "turn_id" in e.data]
    assert len(turns) == 1
    end_ms = turns[0].data["end_ms"]
    clip_end_ms = 500 + len(clip) / RATE * 1000
    assert abs(end_ms - clip_end_ms) < 250, (end_ms, clip_end_ms)
    # the turn ends once 500 ms of silence have been heard, not before
    assert turns[0].t_ms == pytest.approx(end_ms + 500, abs=40)
    start = kinds(result, "bot_speech_start")[0]
    assert start.data["turn_id"] == 1
    assert start.t_ms == pytest.approx(turns[0].t_ms, abs=40)  # compute takes no virtual time
    # the ASR got the whole utterance: the speech plus 300 ms pre-roll and 200 ms of the closing silence
    assert oracle.calls and oracle.calls[0] == pytest.approx(len(clip) / RATE + 0.5, abs=0.3)
    assert bot_energy(result, start.t_ms, start.t_ms + 800) > 300  # the bot's reply is audible
    assert bot_energy(result, 0, 500) == 0.0  # and nothing before anyone spoke


async def test_barge_in_pauses_then_cancels_and_history_keeps_what_was_heard(runtime):
    clip = speech("en/sb_timit_spk2_snt1.wav")  # ~2 s of real speech
    caller = timeline(8.0, (1.2, clip))
    result = await replay_call(runtime, caller, ReplayOptions(fast=True), transcriber=OracleTranscriber(["no the other order"]))

    vad_start = kinds(result, "vad_start")[0]
    paused = kinds(result, "bot_paused")[0]
    confirmed = kinds(result, "interruption")[0]
    onset = vad_start.data["onset_ms"]
    assert 1100 <= onset <= 1500
    assert paused.t_ms - onset <= 150  # stage 1: the bot pauses within 150 ms of the caller's onset
    assert confirmed.t_ms - onset == pytest.approx(300, abs=40)  # stage 2: confirmed after 300 ms of speech
    assert len(kinds(result, "interruption")) == 1
    stop = [e for e in kinds(result, "bot_speech_stop") if e.data["turn_id"] == 0][0]
    assert stop.data["interrupted"] is True
    heard = stop.data["heard_text"]
    assert heard and GREETING.startswith(heard) and len(heard) < len(GREETING)
    # the bot is silent from the pause until its next reply
    next_start = [e for e in kinds(result, "bot_speech_start") if e.data["turn_id"] == 1][0]
    assert bot_energy(result, paused.t_ms + 20, next_start.t_ms) == 0.0
    assert next_start.t_ms > kinds(result, "turn_end")[-1].t_ms - 1


async def test_a_short_backchannel_pauses_the_bot_which_then_resumes(runtime):
    blip = speech("en/sb_timit_spk2_snt2.wav", seconds=0.22)  # ~200 ms: "uh-huh"-length
    caller = timeline(8.0, (1.5, blip))
    result = await replay_call(runtime, caller, ReplayOptions(fast=True), transcriber=OracleTranscriber([]))

    assert kinds(result, "bot_paused"), "a caller sound during the bot's turn pauses it at once"
    assert kinds(result, "bot_resumed")
    assert not kinds(result, "interruption")
    stop = [e for e in kinds(result, "bot_speech_stop") if e.data["turn_id"] == 0][0]
    assert stop.data["interrupted"] is False and stop.data["heard_text"] == GREETING


async def test_keypad_interrupts_the_bot_and_digits_reach_the_dialogue(runtime):
    caller = timeline(8.0)
    opts = ReplayOptions(fast=True, dtmf=((800, "4"), (900, "5"), (1000, "7"), (1100, "#")))
    result = await replay_call(runtime, caller, opts, transcriber=OracleTranscriber([]))
    assert kinds(result, "interruption")[0].data["reason"] == "dtmf"
    digits = [e.data["digit"] for e in kinds(result, "dtmf")]
    assert digits == ["4", "5", "7", "#"]
    turn = [e for e in kinds(result, "turn_end") if e.data.get("dtmf")][0]
    assert turn.data["dtmf"] == "457"
    assert [e for e in kinds(result, "bot_reply") if e.data["turn_id"] == turn.data["turn_id"]]


async def test_agent_request_by_keypad_transfers_after_the_sentence_is_heard(runtime):
    result = await replay_call(runtime, timeline(12.0), ReplayOptions(fast=True, dtmf=((6000, "0"),)), transcriber=OracleTranscriber([]))
    transfer = kinds(result, "action")
    assert transfer and transfer[0].action == "transfer"
    reply_stop = [e for e in kinds(result, "bot_speech_stop") if e.data["turn_id"] == 1][0]
    assert transfer[0].t_ms >= reply_stop.t_ms  # the caller heard the whole sentence first
    assert result.call.outcome == "handed_off"


async def test_noise_only_call_gets_no_reply_and_the_call_still_ends(runtime):
    from tests.conftest import shared_audio
    from voicebot.audio.pcm import load_audio

    noise = (load_audio(shared_audio("noise/sb_noise2.wav"), RATE) * 0.05).astype(np.int16)  # faint line noise
    result = await replay_call(runtime, timeline(6.0, (0.0, noise)), ReplayOptions(fast=True), transcriber=OracleTranscriber([]))
    assert [e.kind for e in result.call.events][-1] == "call_end"
    assert not [e for e in kinds(result, "bot_reply") if e.data["turn_id"] != 0]


async def test_silero_is_a_selectable_vad(runtime):
    spec = runtime.spec()
    spec = dataclasses.replace(spec, vad=dataclasses.replace(spec.vad, engine="silero", confidence=0.5),
                               dialogue=dataclasses.replace(spec.dialogue, greet=False))
    clip = speech("en/sb_timit_spk1_snt1.wav")
    result = await replay_call(runtime, timeline(6.0, (0.5, clip)), ReplayOptions(fast=True), spec=spec,
                               transcriber=OracleTranscriber(["where is my order"]))
    turns = [e for e in kinds(result, "turn_end") if "turn_id" in e.data]
    assert len(turns) == 1
    assert abs(turns[0].data["start_ms"] - 500) < 300 and abs(turns[0].data["end_ms"] - (500 + len(clip) / RATE * 1000)) < 300


async def test_a_telephone_line_at_8_khz_runs_on_the_virtual_clock(runtime):
    clip = speech("telephony/deepspeech_LDC93S1_8k.wav")
    from voicebot.audio.pcm import resample

    caller8k = resample(timeline(7.0, (4.6, clip)), RATE, 8000)
    result = await replay_call(runtime, caller8k, ReplayOptions(fast=True, sample_rate=8000), transcriber=OracleTranscriber(["hello"]))
    onset = [e for e in kinds(result, "vad_start") if e.t_ms > 4000][0]
    assert abs(onset.data["onset_ms"] - 4600) < 150  # no resampler buffering delays the caller's onset
    assert [e for e in kinds(result, "bot_speech_start") if e.data["turn_id"] == 1]
    assert result.sample_rate == 8000 and len(result.bot) >= len(caller8k)


async def test_a_fricative_onset_pauses_the_bot_before_the_vad_decides(runtime):
    # TIMIT spk1 snt5 opens on a fricative: webrtcvad calls its first ~200 ms unvoiced. The early
    # pause of phone.yaml (20 ms of loud caller audio) pauses the bot on its energy; the VAD's start follows.
    from voicebot.pipeline.spec import load_spec
    from benchmarks.bargein.evaluate import PHONE_YAML

    spec = runtime.spec()
    phone = load_spec(PHONE_YAML).turns.barge_in
    early = {k: getattr(phone, k) for k in ("early_pause_ms", "early_hold_ms", "early_level_dbfs", "early_rise_db")}
    assert early["early_pause_ms"] > 0
    spec = dataclasses.replace(spec, turns=dataclasses.replace(spec.turns, barge_in=dataclasses.replace(spec.turns.barge_in, **early)))
    clip = speech("en/sb_timit_spk1_snt5.wav")
    caller = timeline(8.0, (1.5, clip))
    result = await replay_call(runtime, caller, ReplayOptions(fast=True), spec=spec, transcriber=OracleTranscriber(["stop"]))

    frames = caller[: len(caller) // 160 * 160].astype(np.float64).reshape(-1, 160)
    db = 10 * np.log10(np.mean(frames**2, axis=1) / 32768.0**2 + 1e-12)
    onset = 10 * int(np.nonzero(db >= -45.0)[0][0])  # the clip's first loud 10 ms
    paused = kinds(result, "bot_paused")[0]
    early = kinds(result, "early_pause")[0]
    vad_start = [e for e in kinds(result, "vad_start") if e.t_ms >= onset][0]
    assert early.t_ms <= paused.t_ms <= early.t_ms + 20
    assert paused.t_ms - onset <= 60, (paused.t_ms, onset)  # was the VAD's start: ~200 ms later
    assert vad_start.t_ms - onset >= 150  # the VAD alone would have been this late
    assert not [e for e in kinds(result, "bot_resumed") if paused.t_ms < e.t_ms < vad_start.t_ms]


class WindowedOracle(OracleTranscriber):
    """An oracle with a short-window view, as WhisperASR.windowed gives: the check's words come from it."""

    def __init__(self, texts: list[str], short_texts: list[str]) -> None:
        super().__init__(texts)
        self.short_texts, self.short_calls = short_texts, []

    def windowed(self, window_s: float) -> Transcriber:
        parent = self

        class Short(Transcriber):
            dev = False

            def transcribe(self, pcm16k, language, prompt=None):  # type: ignore[no-untyped-def]
                parent.short_calls.append(len(pcm16k) / RATE)
                i = min(len(parent.short_calls), len(parent.short_texts)) - 1
                return AsrResult(text=parent.short_texts[i], language="en", language_prob=1.0, audio_s=len(pcm16k) / RATE, compute_s=0.0)

        return Short()


async def test_the_check_reads_the_short_window_and_the_turn_keeps_the_full_window_transcript(runtime):
    # A caller reads an id in two pieces with a 1.1 s pause (past silence_ms). The check's words come
    # from the short partial window ("... 1 7 3 4": a number is being read, hold the turn); the turn's
    # transcript is the one decoded alongside in the turns' window, not the short one.
    spec = runtime.spec()
    spec = dataclasses.replace(spec, dialogue=dataclasses.replace(spec.dialogue, greet=False),
                               asr=dataclasses.replace(spec.asr, window_s=30.0, partial_window_s=5.0),
                               turns=dataclasses.replace(spec.turns, end_of_turn=dataclasses.replace(
                                   spec.turns.end_of_turn, semantic=("text",), silence_ms=700, quick_silence_ms=250,
                                   incomplete_silence_ms=2000)))
    a, b = speech("en/sb_timit_spk2_snt2.wav"), speech("en/sb_timit_spk2_snt5.wav")
    at_b = 0.5 + len(a) / RATE + 1.1
    oracle = WindowedOracle(["my id is", "my id is 1 7 3 4 1 2 5 6"], ["my id is 1 7 3 4", "my id is 1 7 3 4 1 2 5 6 thank you"])
    result = await replay_call(runtime, timeline(at_b + len(b) / RATE + 3.0, (0.5, a), (at_b, b)), ReplayOptions(fast=True),
                               spec=spec, transcriber=oracle)
    turns = [e for e in kinds(result, "turn_end") if "turn_id" in e.data]
    assert len(turns) == 1 and turns[0].data["start_ms"] < 700  # one turn: not cut in the pause
    assert turns[0].data["reason"] == "complete"
    assert len(oracle.short_calls) >= 2  # each closing silence checked in the short window
    said = [e.data["text"] for e in kinds(result, "transcript")]
    assert said == ["my id is 1 7 3 4 1 2 5 6"]  # the turns' window transcript, decoded alongside the check
    assert len(oracle.calls) == 2  # the stale first piece and the whole turn: no third decode at the turn end
