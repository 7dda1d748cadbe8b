import numpy as np
import pytest

from voicebot.config import ROOT
from voicebot.models.registry import build_dev_models
from voicebot.tts.catalog import VoiceCatalog
from voicebot.tts.espeak import EspeakVoice
from voicebot.tts.sentences import split_sentences


def test_espeak_speaks_every_catalog_language(tmp_path):
    cat = VoiceCatalog(ROOT / "voices" / "catalog.yaml", tmp_path)
    assert len(cat.languages) >= 14
    for lang in cat.languages:
        speech = cat.voice_for(lang).synthesize("123")
        assert speech.pcm.dtype == np.int16 and len(speech.pcm) / speech.sample_rate > 0.2, lang
        assert np.abs(speech.pcm).max() > 1000, lang


def test_unknown_language_falls_back_to_the_default_voice(tmp_path):
    cat = VoiceCatalog(ROOT / "voices" / "catalog.yaml", tmp_path)
    assert cat.voice_for("xx").name == cat.voice_for("en").name
    assert cat.voice_for("de") is cat.voice_for("de")  # built once, shared


def test_missing_espeak_is_a_clear_error():
    with pytest.raises(RuntimeError, match="apt-get install"):
        EspeakVoice("en", binary="espeak-ng-not-here")


def test_coqui_voice_from_a_dev_vits_model(tmp_path, dev_models_dir):
    build_dev_models(dev_models_dir, ["vits-dev"])
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("default_language: en\nlanguages:\n  en: {espeak: en-us, coqui: vits-dev}\n  de: {espeak: de, coqui: missing-model}\n")
    cat = VoiceCatalog(catalog, dev_models_dir, prefer="coqui")
    voice = cat.voice_for("en")
    assert voice.name == "coqui:vits-dev" and voice.dev
    speech = voice.synthesize("Your parcel left the warehouse.")
    assert speech.sample_rate == 22050 and len(speech.pcm) / 22050 > 0.5
    assert cat.voice_for("de").name == "espeak-ng:de"  # a missing Coqui model falls back to espeak-ng


def test_sentences_split_for_streaming():
    assert split_sentences("Hello. Your order 45712 shipped! When? Tomorrow.") == ["Hello.", "Your order 45712 shipped!", "When?", "Tomorrow."]
    assert split_sentences("您好。您的包裹已发货！") == ["您好。", "您的包裹已发货！"]
    long = "word " * 100
    assert all(len(s) <= 220 for s in split_sentences(long))
