"""Language detection from script and function words, and code-switching fallback."""

from __future__ import annotations

import pytest

from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu_types import LANGUAGES


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("where is my order i ordered it last week", "en"),
        ("hola quiero saber dónde está mi pedido", "es"),
        ("olá eu não recebi a minha encomenda", "pt"),
        ("hallo ich habe meine bestellung nicht bekommen", "de"),
        ("bonjour je n'ai pas reçu ma commande", "fr"),
        ("buongiorno non ho ricevuto il mio ordine", "it"),
        ("здравствуйте я не получил заказ", "ru"),
        ("你好我的订单还没到", "zh"),
        ("注文した商品がまだ届きません", "ja"),
        ("주문한 물건이 아직 안 왔어요", "ko"),
        ("لم أستلم طلبي بعد", "ar"),
        ("ยังไม่ได้รับของเลยค่ะ", "th"),
        ("halo saya belum terima pesanan saya", "id"),
        ("tôi chưa nhận được đơn hàng", "vi"),
    ],
)
def test_detect_language(nlu: Nlu, text: str, lang: str) -> None:
    assert nlu.detect_language(text) == lang
    assert nlu.understand(text).language == lang  # lang=None -> detected


def test_every_language_has_a_lexicon(nlu: Nlu) -> None:
    assert set(nlu.languages) == set(LANGUAGES)


def test_given_language_wins_and_region_tags_are_accepted(nlu: Nlu) -> None:
    assert nlu.understand("hola", "es-MX").language == "es"
    assert nlu.understand("refund please", "xx").language == "en"  # unknown code: detect


def test_code_switch_falls_back_to_english_keywords(nlu: Nlu) -> None:
    # a Spanish call where the caller uses the English word
    assert nlu.understand("quiero un refund", "es").intent == "return_refund"


def test_empty_text(nlu: Nlu) -> None:
    r = nlu.understand("   ", "de")
    assert r.intent == "out_of_scope" and r.confidence == 0.0 and r.language == "de"
