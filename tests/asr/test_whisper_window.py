"""The shorter encoder window (``WhisperOptions.window_s``, whisper.cpp's ``audio_ctx``).

Decoding runs on the dev (random-weight) model: what is checked is what the encoder is given,
the model being shared, the fallbacks and the result's shape, never words.
"""

import numpy as np
import pytest

from tests.conftest import shared_audio
from voicebot.asr.whisper import WhisperASR, WhisperOptions
from voicebot.audio.pcm import load_audio


@pytest.fixture(scope="module")
def asr(dev_models_dir):
    return WhisperASR(dev_models_dir / "whisper-tiny-dev", dev=True, options=WhisperOptions(max_new_tokens=16))


@pytest.fixture
def encoded_frames(asr, monkeypatch):
    """The number of mel frames each encoder call was given."""
    frames: list[int] = []
    real = asr.model.encode

    def spy(features):
        frames.append(features.shape[-1])
        return real(features)

    monkeypatch.setattr(asr.model, "encode", spy)
    return frames


def test_a_windowed_view_shares_the_loaded_model(asr):
    short = asr.windowed(5.0)
    assert short.model is asr.model and short.options.window_s == 5.0 and asr.options.window_s == 30.0
    assert short.options.max_new_tokens == asr.options.max_new_tokens


def test_short_audio_is_encoded_in_the_short_window(asr, encoded_frames):
    speech = load_audio(shared_audio("en/sb_timit_spk1_snt1.wav"), 16000)[:16000]  # 1 s
    res = asr.windowed(5.0).transcribe(speech, "en")
    assert encoded_frames == [500]  # 5 s of 10 ms mel frames, not Whisper's 3000
    assert res.language == "en" and isinstance(res.text, str) and res.audio_s == pytest.approx(1.0)
    tokens = asr.model.hf_tokenizer.encode(res.text, add_special_tokens=False).ids if res.text else []
    assert len(tokens) <= 16 + 2  # the token cap holds in this path too
    asr.transcribe(speech, "en")
    assert encoded_frames[-1] == 3000  # the full model is unchanged


def test_audio_longer_than_the_window_falls_back_to_whispers_own(asr, encoded_frames):
    speech = load_audio(shared_audio("en/sb_timit_spk1_snt1.wav"), 16000)
    speech = np.concatenate([speech, speech])[: 16000 * 5]  # 5 s: longer than 5 s - 0.5 s margin
    asr.windowed(5.0).transcribe(speech, "en")
    assert encoded_frames and set(encoded_frames) == {3000}


def test_an_unlocked_call_detects_a_language_in_the_short_window(asr):
    speech = load_audio(shared_audio("en/sb_timit_spk1_snt1.wav"), 16000)[:16000]
    res = asr.windowed(5.0).transcribe(speech, None)
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert res.language in _LANGUAGE_CODES and 0.0 <= res.language_prob <= 1.0  # a random model's guess: any language


def test_the_phone_pipeline_confirms_barge_ins_with_the_short_window(asr):
    from voicebot.config import ROOT
    from voicebot.pipeline.build import partial_transcriber
    from voicebot.pipeline.spec import load_spec

    spec = load_spec(ROOT / "pipelines" / "phone.yaml")
    assert spec.asr.window_s == 30 and spec.asr.partial_window_s == 5
    partial = partial_transcriber(asr, spec)
    assert partial.model is asr.model and partial.options.window_s == 5.0
    stand_in = object()  # an oracle or another transcriber without windows is used as it is
    assert partial_transcriber(stand_in, spec) is stand_in
