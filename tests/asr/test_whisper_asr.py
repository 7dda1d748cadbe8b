"""The faster-whisper wrapper: decoding caps, silence/hallucination suppression, language lock.

Real decoding runs on the dev (random-weight) model, so only cost and control flow are
checked here, never words. The language-lock rules are checked with scripted decoder output.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import shared_audio
from voicebot.asr.whisper import WhisperASR, WhisperOptions
from voicebot.audio.pcm import load_audio


@pytest.fixture(scope="module")
def asr(dev_models_dir):
    return WhisperASR(dev_models_dir / "whisper-tiny-dev", dev=True, options=WhisperOptions(max_new_tokens=16))


def test_silence_is_not_decoded(asr):
    res = asr.transcribe(np.zeros(16000, dtype=np.int16), None)
    assert res.text == "" and res.dropped == "silence" and res.compute_s < 0.05


def test_decoding_is_capped_and_finished_in_the_calling_thread(asr):
    x = load_audio(shared_audio("en/sb_timit_spk1_snt1.wav"), 16000)
    res = asr.transcribe(x, None)
    assert res.compute_s > 0 and res.audio_s == pytest.approx(len(x) / 16000)
    tokens = asr.model.hf_tokenizer.encode(res.text, add_special_tokens=False).ids if res.text else []
    assert len(tokens) <= 16 + 2  # max_new_tokens holds even on a random model's garbage


def test_a_model_that_fails_to_load_says_what_to_do(tmp_path):
    (tmp_path / "broken").mkdir()
    with pytest.raises(RuntimeError, match="build-dev"):
        WhisperASR(tmp_path / "broken", dev=True)


class Scripted(WhisperASR):
    """The wrapper's own logic over scripted decoder output (no model)."""

    def __init__(self, script, options=WhisperOptions()):
        self.options, self.dev, self._lock, self.runs = options, False, None, []
        self.script = script

    def _run(self, audio, language):
        self.runs.append(language)
        text, lang, prob, no_speech, logprob = self.script[language]
        seg = SimpleNamespace(text=text, no_speech_prob=no_speech, avg_logprob=logprob)
        return [seg], SimpleNamespace(language=lang, language_probability=prob)


LOUD = (np.sin(np.arange(32000) / 5) * 8000).astype(np.int16)  # 2 s, well above the level floor


def test_language_is_kept_unless_the_switch_is_confident():
    asr = Scripted({None: ("ja ja", "de", 0.55, 0.1, -0.3), "en": ("yeah yeah", "en", 1.0, 0.1, -0.3)})
    res = asr.transcribe(LOUD, "en")
    assert res.language == "en" and res.text == "yeah yeah" and asr.runs == [None, "en"]
    confident = Scripted({None: ("ich möchte zurückgeben", "de", 0.95, 0.1, -0.3)})
    assert confident.transcribe(LOUD, "en").language == "de"  # a clear switch is followed


def test_no_speech_segments_and_known_hallucinations_are_dropped():
    assert Scripted({None: ("you", "en", 0.9, 0.9, -1.5)}).transcribe(LOUD, None).dropped == "no_speech"
    assert Scripted({None: ("Thanks for watching!", "en", 0.9, 0.2, -0.4)}).transcribe(LOUD, None).dropped == "hallucination"
