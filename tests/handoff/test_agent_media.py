"""The agent's voice path, without a network: the relay's mixer on a self-pacing output (SIP, Twilio),
finding the caller's input in the pipeline, and which calls have an audio path for the agent."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pipecat.processors.frame_processor import FrameProcessor

from voicebot.channels.base import CallInput
from voicebot.clock import RealClock
from voicebot.core import CallContext
from voicebot.handoff.agent_media import InappAudio, RelayAudio, TalkRefused, audio_for
from voicebot.handoff.relay import Relay
from voicebot.pipeline.state import CallState

SILENCE = bytes(320)  # 20 ms at 8 kHz


class SipLikeOutput:
    """What AgentVoice needs of a CallOutput: 8 kHz, 20 ms chunks, the two send hooks (SIP sends silence when idle)."""

    sample_rate = 8000
    chunk_bytes = 320

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_audio(self, chunk: bytes) -> None:
        self.sent.append(chunk)

    async def send_idle(self) -> None:
        self.sent.append(SILENCE)


def tone(rate: int, seconds: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def level(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x)))


def relay_for(output) -> Relay:  # type: ignore[no-untyped-def]
    output.state = CallState(ctx=CallContext(call_id="c1", channel="sip"), clock=RealClock())
    return Relay(output, bridge=None)  # type: ignore[arg-type]


async def test_agent_voice_replaces_idle_mixes_with_bot_audio_and_closes_cleanly() -> None:
    out = SipLikeOutput()
    voice = relay_for(out).agent_voice()
    voice.play(tone(48000, 0.1), 48000)  # the browser's Opus decodes at 48 kHz
    await out.send_idle()  # an idle tick carries the agent's voice instead of silence
    assert len(out.sent[-1]) == 320 and level(out.sent[-1]) > 3000
    bot = tone(8000, 0.02, amplitude=2000)
    await out.send_audio(bot)  # a bot line (an agent's typed reply) gets the agent's voice added
    assert level(out.sent[-1]) > level(bot)
    assert voice.chunks_sent == 2
    voice.close()
    await out.send_idle()
    assert out.sent[-1] == SILENCE and "send_idle" not in vars(out) and "send_audio" not in vars(out)


async def test_agent_voice_never_builds_up_delay() -> None:
    out = SipLikeOutput()
    voice = relay_for(out).agent_voice()
    voice.play(tone(16000, 2.0), 16000)  # a stalled output: 2 s arrive at once
    assert len(voice._queue) == 10  # at most 200 ms waits; the oldest was dropped
    voice.close()


async def test_the_callers_input_is_found_upstream_of_the_output() -> None:
    state = CallState(ctx=CallContext(call_id="c2", channel="twilio"), clock=RealClock())
    inp, middle, out = CallInput(state), FrameProcessor(), SipLikeOutput()
    inp.link(middle)
    out.previous = middle  # type: ignore[attr-defined]
    relay = relay_for(out)
    assert relay.caller_input() is inp
    audio = RelayAudio(relay)
    got: list[bytes] = []
    audio.add_caller_tap(got.append)
    assert inp.audio_taps == [got.append]
    audio.remove_caller_tap(got.append)
    assert inp.audio_taps == []
    audio.close()


def test_which_calls_have_an_audio_path_for_the_agent() -> None:
    referred = SimpleNamespace(left_path=True, channel="sip")
    with pytest.raises(TalkRefused) as refused:
        audio_for(referred)  # REFERred to the agent's phone: the bot is off the media path
    assert refused.value.status == 409
    with pytest.raises(TalkRefused):
        audio_for(SimpleNamespace(left_stream=True, channel="twilio"))  # <Enqueue>/<Dial>
    inapp = SimpleNamespace(call=SimpleNamespace(caller_audio_taps=[]), channel="webrtc")
    assert isinstance(audio_for(inapp), InappAudio)
    with pytest.raises(TalkRefused):
        audio_for(SimpleNamespace(channel="carrier-pigeon"))
