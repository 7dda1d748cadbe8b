"""The answering-machine detector on audio built here (pure: no I/O, no clock): the rules in
audio time, the beep test, the words, the message timing."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.outbound.amd import AmdOptions, AnsweringMachineDetector
from voicebot.outbound.amd_words import machine_phrase

RATE = 16000


def silence(s: float) -> np.ndarray:
    return np.zeros(int(s * RATE), dtype=np.int16)


def tone(f: float, s: float, db: float = -12.0) -> np.ndarray:
    t = np.arange(int(s * RATE)) / RATE
    return (32767 * 10 ** (db / 20) * np.sin(2 * np.pi * f * t)).astype(np.int16)


def voice(s: float, f0: float = 140.0, db: float = -20.0, seed: int = 0) -> np.ndarray:
    """A voiced, harmonic sound (a vowel-like buzz with a wandering pitch and some noise): not a pure tone."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(s * RATE)) / RATE
    pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) + 0.3 * rng.standard_normal(len(t))
    return (x / np.max(np.abs(x)) * 32767 * 10 ** (db / 20)).astype(np.int16)


def words(n: int, word_s: float = 0.3, gap_s: float = 0.12) -> np.ndarray:
    return np.concatenate([np.concatenate([voice(word_s, seed=i), silence(gap_s)]) for i in range(n)])


def run(*parts: np.ndarray, options: AmdOptions | None = None, chunk: int = 333) -> AnsweringMachineDetector:
    det = AnsweringMachineDetector(options, RATE)
    pcm = np.concatenate(parts).astype("<i2").tobytes()
    for i in range(0, len(pcm), chunk * 2):  # odd chunk sizes: frames are assembled inside
        det.feed(pcm[i : i + chunk * 2])
    return det


def test_a_short_hello_then_silence_is_a_person():
    det = run(silence(0.4), words(1, 0.45), silence(2.0))
    assert det.verdict.label == "human" and det.verdict.reason == "after_greeting_silence"
    assert det.verdict.at_ms == pytest.approx(400 + 450 + 800, abs=60)  # 800 ms of silence after the word
    assert det.ready_for_message is None


def test_a_long_greeting_is_a_machine_and_the_message_waits_for_the_beep():
    det = run(silence(0.5), words(12), silence(0.3), tone(1000, 0.5), silence(3.0))
    assert det.verdict.label == "machine" and det.verdict.reason in ("max_words", "long_greeting")
    [beep] = det.state.beeps
    assert beep.freq_hz == pytest.approx(1000, abs=20) and beep.end_ms == pytest.approx(0.5 * 1000 + 12 * 420 + 300 + 500, abs=80)
    assert det.ready_reason == "beep" and det.ready_for_message >= beep.end_ms + 200


def test_without_a_beep_the_message_starts_once_the_greeting_is_quiet():
    det = run(silence(0.5), words(12), silence(4.0))
    assert det.verdict.label == "machine" and det.ready_reason == "silence"
    end_of_greeting = 500 + 12 * 420 - 120
    assert det.ready_for_message == pytest.approx(end_of_greeting + 1500, abs=140)


def test_a_beep_alone_is_a_machine_and_a_voice_is_never_a_beep():
    det = run(silence(0.3), tone(850, 0.4), silence(2.0))
    assert det.verdict.label == "machine" and det.verdict.reason == "beep"
    low_voice = run(silence(0.3), voice(1.0, f0=95.0), silence(2.0))  # one long low vowel: harmonics, not a tone
    assert not low_voice.state.beeps


def test_initial_silence_and_not_sure_follow_the_options():
    assert run(silence(3.0)).verdict.reason == "initial_silence"
    assert run(silence(3.0)).verdict.label == "human"  # the default: a silent person hears the introduction
    assert run(silence(3.0), options=AmdOptions(on_initial_silence="machine")).verdict.label == "machine"
    with pytest.raises(ValueError, match="on_not_sure"):
        AmdOptions(on_not_sure="maybe")


def test_words_turn_a_short_greeting_into_a_machine():
    det = run(silence(0.3), words(2), silence(1.5))
    assert det.verdict.label == "human"  # "Hi, it's Tom" + a pause looks like a person
    verdict = det.hear_words("Hi, it's Tom. Leave a message!", "en")
    assert verdict is not None and verdict.label == "machine" and verdict.reason == "words" and verdict.phrase == "leave a message"
    assert det.hear_words("hello? who is this?", "en") is None
    assert run(silence(1), options=AmdOptions(use_words=False)).hear_words("leave a message", "en") is None


@pytest.mark.parametrize(("text", "lang", "machine"), [
    ("Hola, has llamado a María, deja tu mensaje después de la señal", "es", True),
    ("Bitte hinterlassen Sie eine Nachricht nach dem Signalton", "de", True),
    ("您好，我现在无法接听您的电话，请在提示音后留言", "zh", True),
    ("ただいま電話に出ることができません", "ja", True),
    ("메시지를 남겨 주세요", "ko", True),
    ("สวัสดีค่ะ กรุณาฝากข้อความหลังสัญญาณเสียง", "th", True),
    ("Emma is not available right now, who's calling?", "en", False),  # a relative: not a machine phrase
    ("Allô ? Oui, c'est moi.", "fr", False),
    ("да, слушаю", "ru", False),
])
def test_machine_phrases_in_many_languages(text, lang, machine):
    assert (machine_phrase(text, lang) is not None) is machine
