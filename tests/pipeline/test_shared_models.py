import asyncio

from tests.conftest import shared_audio
from voicebot.audio.pcm import load_audio
from voicebot.channels.replay import ReplayOptions, replay_call
from voicebot.runtime import Runtime


async def test_concurrent_calls_share_one_model_and_keep_their_own_state(settings):
    runtime = Runtime(settings)
    try:
        a = load_audio(shared_audio("en/sb_timit_spk1_snt1.wav"), 16000)
        b = load_audio(shared_audio("de/picovoice_test_de.wav"), 16000)
        ra, rb = await asyncio.gather(
            replay_call(runtime, a, ReplayOptions(fast=True), call_id="call-a"),
            replay_call(runtime, b, ReplayOptions(fast=True, language="de"), call_id="call-b"),
        )
        spec = runtime.spec()
        assert runtime.asr(spec) is runtime.asr(spec) and len(runtime._asr) == 1  # loaded once
    finally:
        runtime.close()
    assert ra.call.call_id == "call-a" and rb.call.call_id == "call-b"
    assert {e.data["language"] for e in rb.call.events if e.kind == "bot_reply"} == {"de"}
    assert {e.data["language"] for e in ra.call.events if e.kind == "bot_reply"} == {"en"}
