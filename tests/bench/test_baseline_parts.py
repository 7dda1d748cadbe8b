"""The stock baseline's own parts: the aggregator stand-in and the decoding limits."""

from pipecat.frames.frames import (InputAudioRawFrame, TranscriptionFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame,
                                   VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame)
from pipecat.tests.utils import run_test

from benchmarks.harness.baseline import StockTurnAdapter, _LimitedWhisper
from voicebot.clock import VirtualClock
from voicebot.core import CallContext
from voicebot.pipeline.frames import CallerTextFrame
from voicebot.pipeline.state import CallState


def audio_at(ms: float) -> InputAudioRawFrame:
    f = InputAudioRawFrame(audio=b"\0" * 640, sample_rate=16000, num_channels=1)
    f.pts = int(ms * 1e6)
    return f


async def test_a_turn_reaches_the_dialogue_when_its_transcript_comes_after_the_turn_end():
    state = CallState(ctx=CallContext(call_id="t", channel="replay", language="en"), clock=VirtualClock())
    frames = [audio_at(980), VADUserStartedSpeakingFrame(start_secs=0.2), UserStartedSpeakingFrame(),
              audio_at(2980), VADUserStoppedSpeakingFrame(stop_secs=0.2), UserStoppedSpeakingFrame(),
              TranscriptionFrame(text="where is my order", user_id="", timestamp="", language="en")]
    down, _ = await run_test(StockTurnAdapter(state), frames_to_send=frames,
                             expected_down_frames=[VADUserStartedSpeakingFrame, UserStartedSpeakingFrame, VADUserStoppedSpeakingFrame,
                                                   UserStoppedSpeakingFrame, CallerTextFrame])
    text = down[-1]
    assert (text.text, text.language, text.turn_id, text.end_ms) == ("where is my order", "en", 1, 2800.0)
    kinds = {e.kind: e.data for e in state.events.events}
    assert kinds["vad_start"]["onset_ms"] == 800.0 and kinds["turn_end"] == {"turn_id": 1, "start_ms": 800.0, "end_ms": 2800.0}
    assert kinds["transcript"]["text"] == "where is my order" and state.activity.busy


def test_our_decoding_limits_override_the_stock_call():
    seen = {}

    class Model:  # records what faster-whisper would be asked for
        supported_languages = ["en"]

        def transcribe(self, audio, **kwargs):
            seen.update(kwargs)
            return [], None

    m = _LimitedWhisper(Model(), {"beam_size": 1, "max_new_tokens": 64, "temperature": 0.0})
    m.transcribe([0.0], language=None, hotwords=None, beam_size=5)
    assert seen == {"language": None, "hotwords": None, "beam_size": 1, "max_new_tokens": 64, "temperature": 0.0}
    assert m.supported_languages == ["en"]
