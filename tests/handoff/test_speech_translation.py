"""What translation runs offline for an agent who does not speak the caller's language.

- The caller's speech into English: Whisper's own translate task on the real whisper-base model
  (``voicebot models install``), from the caller's audio of that turn. Runs when the model is in
  ``var/models`` (or ``$VOICEBOT_REAL_MODELS_DIR``); skipped otherwise, never faked.
- A dev (random-weight) model refuses with a notice rather than showing made-up English.
- Free text in other directions: the phrasebook (the bot's own lines, canned replies) or "not
  translated" — no machine-translation model is installed, and the desk's notice says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_audio
from voicebot.core import Transfer
from voicebot.handoff.bridge import HandoffBridge
from voicebot.handoff.routing import Agent
from voicebot.handoff.state import MemoryState
from voicebot.handoff.translate import DEV_MODEL, NO_MT, WHISPER_NOTE, TextTranslator
from voicebot.models.registry import read_model

ROOT = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("VOICEBOT_REAL_MODELS_DIR") or ROOT / "var" / "models") / "whisper-base"


@pytest.fixture(scope="module")
def whisper_base():
    info = read_model(REAL)
    if info is None or info.dev:
        pytest.skip(f"no real whisper-base at {REAL} (run `voicebot models install`, or set VOICEBOT_REAL_MODELS_DIR)")
    from voicebot.asr.whisper import WhisperASR

    return WhisperASR(REAL, dev=False)


def spanish_clip() -> np.ndarray:
    import soundfile as sf

    pcm, rate = sf.read(shared_audio("es/picovoice_test_es.wav"), dtype="int16")
    assert rate == 16000
    return pcm


class Handle:
    def __init__(self) -> None:
        self.call_id, self.channel, self.caller_number = "CA1", "sip", "+34600000000"

    async def say(self, text, language): ...
    async def hold(self, ticket): return False
    async def connect_voice(self, agent): return False
    async def back_to_bot(self): ...
    async def end(self, reason): ...


@pytest.mark.slow
async def test_caller_speech_reaches_an_english_agent_translated_by_whisper(whisper_base):
    translator = TextTranslator(whisper=whisper_base)
    assert translator.notice == NO_MT + WHISPER_NOTE  # what the desk says on such a call
    state = MemoryState()
    john = Agent("john", "John", ("en",), hours="24/7", translation=True, status="available")
    await state.put_agent(john)
    bridge = HandoffBridge(state, translator=translator)
    await bridge.start()
    await bridge.request(Handle(), Transfer("caller_asked", queue="es"), "es")
    assert await bridge.accept("CA1", john)
    t = await state.get_ticket("CA1")
    t.state = "bridged"
    await state.put_ticket(t)
    spoken = "Las arenas son blanquecinas de grano medio y tiene muy poca asistencia."  # the clip's words (the ASR's, in relay)
    await bridge.caller_said("CA1", spoken, "es", audio=spanish_clip())
    line = (await state.get_ticket("CA1")).transcript[-1]
    english = (line["translation"] or "").lower()
    assert "sand" in english and "white" in english, line  # "The sand is white, the middle grain ..."
    assert line["note"] == "translated by Whisper (into English only)" and line["text"] == spoken
    # a typed line has no audio: the phrasebook or an honest "not translated"
    await bridge.caller_said("CA1", "gracias por llamar, adiós", "es")
    typed = (await state.get_ticket("CA1")).transcript[-1]
    assert typed["translation"] == "Thank you for calling, goodbye." and typed["note"] is None
    await bridge.caller_said("CA1", "mi vecino recogió el paquete", "es")
    assert (await state.get_ticket("CA1")).transcript[-1]["note"] == "not translated (es→en): no translation model"
    await bridge.stop()


async def test_a_dev_model_refuses_rather_than_inventing_english(dev_models_dir):
    from voicebot.asr.whisper import WhisperASR

    dev = TextTranslator(whisper=WhisperASR(dev_models_dir / "whisper-tiny-dev", dev=True))
    result = await dev.speech_to_english(np.zeros(16000, dtype=np.int16), "es")
    assert result.text is None and result.notice == DEV_MODEL
    assert dev.notice == NO_MT  # the desk does not claim speech translation
    assert TextTranslator(whisper_provider=lambda: 1 / 0).notice == NO_MT  # no model to be had: said, not raised


def test_the_relay_keeps_each_turns_audio_by_call_time():
    from voicebot.handoff.relay import HeardAudio

    heard = HeardAudio(keep_s=2.0)
    heard.starts_at(16000 * 5)  # attached 5 s into the call
    ramp = np.arange(16000 * 3, dtype=np.int32) % 30000  # 3 s of a known signal, added in 20 ms chunks
    pcm = ramp.astype("<i2").tobytes()
    for i in range(0, len(pcm), 640):
        heard.add(pcm[i : i + 640])
    assert heard.between(5000, 6000) is None  # older than the last 2 s: no longer kept
    turn = heard.between(6500, 7500)
    assert turn is not None and len(turn) == 16000 and turn[0] == ramp[16000 + 8000] and turn[-1] == ramp[16000 + 8000 + 15999]
    assert heard.between(7900, 7800) is None
