"""The voice cache: fixed phrases pre-rendered once onto disk, read by later processes; caller data never written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicebot.dialogue.templates import Templates, fixed_sentences
from voicebot.tts.cache import SpeechCache
from voicebot.tts.catalog import VoiceCatalog
from voicebot.tts.voice import Speech
from voicebot.tts.warm import warm

ROOT = Path(__file__).resolve().parents[2]


class CountingVoice:
    """Stands in for a slow neural voice: a tone per character, and a count of calls."""

    dev = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[str] = []

    def synthesize(self, text: str) -> Speech:
        self.calls.append(text)
        return Speech((np.arange(len(text) * 80) % 200).astype(np.int16), 22050)


def catalog_with(tmp_path: Path, voice: CountingVoice, lang: str = "de") -> VoiceCatalog:
    cat = VoiceCatalog(ROOT / "voices" / "catalog.yaml", tmp_path / "models", cache_dir=tmp_path / "cache")
    cat._voices[lang] = voice  # the slow voice this language would get
    return cat


def test_disk_round_trip_and_damaged_files(tmp_path: Path) -> None:
    a = SpeechCache(directory=tmp_path)
    speech = Speech(np.array([1, -2, 300, -32768], dtype=np.int16), 24000)
    a.persist("kokoro:jm_kumo:de", "Wie lautet Ihre Bestellnummer?", speech)
    b = SpeechCache(directory=tmp_path)  # another process
    got = b.get("kokoro:jm_kumo:de", "Wie lautet Ihre Bestellnummer?")
    assert got is not None and got.sample_rate == 24000 and got.pcm.tolist() == [1, -2, 300, -32768]
    assert b.disk_hits == 1 and b.get("kokoro:jm_kumo:fr", "Wie lautet Ihre Bestellnummer?") is None  # keyed by voice
    path = next(tmp_path.rglob("*.s16"))
    path.write_bytes(b"\x01\x02\x03")  # truncated by a crash or a full disk
    assert SpeechCache(directory=tmp_path).get("kokoro:jm_kumo:de", "Wie lautet Ihre Bestellnummer?") is None
    assert not list(tmp_path.rglob(".*"))  # no temporary files left behind


def test_fixed_sentences_leave_out_caller_data() -> None:
    texts = ["Sorry your parcel is late. Your order {order_id} left on {date}. Anything else?", "Hello, this is {shop}."]
    assert fixed_sentences(texts, shop="Acme Shop") == ["Sorry your parcel is late.", "Anything else?", "Hello, this is Acme Shop."]
    en = Templates.load().fixed_sentences("en", shop="Acme Shop")
    assert "Hello, this is the virtual assistant of Acme Shop." in en
    assert not any("{" in s or "\x00" in s for s in en)


def test_warm_renders_once_and_calls_read_from_disk(tmp_path: Path) -> None:
    voice = CountingVoice("kokoro:test:de")
    phrases = {"de": ["Wie lautet Ihre Bestellnummer?", "Einen Moment bitte."]}
    first = warm(catalog_with(tmp_path, voice), phrases)
    assert (first.rendered, first.already, first.failed) == (2, 0, 0) and len(voice.calls) == 2
    again = warm(catalog_with(tmp_path, voice), phrases)
    assert (again.rendered, again.already) == (0, 2) and len(voice.calls) == 2
    # a later call in a new process: the fixed sentence comes from disk, the order number is synthesized
    fresh = CountingVoice("kokoro:test:de")
    cat = catalog_with(tmp_path, fresh)
    speech, name = cat.speak("de", "Wie lautet Ihre Bestellnummer?")
    assert name == "kokoro:test:de" and len(speech.pcm) > 0 and fresh.calls == []
    cat.speak("de", "Ihre Bestellung 881427 ist unterwegs.")
    assert fresh.calls == ["Ihre Bestellung 881427 ist unterwegs."]
    assert len(list((tmp_path / "cache").rglob("*.s16"))) == 2  # what a caller said is never written to disk


def test_warm_skips_espeak_and_survives_a_failing_sentence(tmp_path: Path) -> None:
    class Fails(CountingVoice):
        def synthesize(self, text: str) -> Speech:
            if "x" in text:
                raise RuntimeError("phonemizer failed")
            return super().synthesize(text)

    cat = catalog_with(tmp_path, Fails("kokoro:test:de"))
    cat.prefer = "espeak"
    report = warm(cat, {"de": ["xx", "Gut."], "ru": ["Здравствуйте."]})
    assert (report.rendered, report.failed) == (1, 1) and report.skipped_languages == ["ru"]
    assert "1 sentences rendered" in report.line()
