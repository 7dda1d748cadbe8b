"""Sentiment, frustration and escalation per turn, in every language."""

from __future__ import annotations

import pytest

from voicebot.dialogue.nlu import Nlu


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


# (lang, threat of a bad review / chargeback / lawyer -> escalate, calm problem -> no escalation)
CASES = [
    ("en", "fix this or i will dispute the charge with my bank", "the box was a bit dented"),
    ("es", "voy a poner una reseña de una estrella", "el paquete llegó un poco tarde"),
    ("pt", "vou abrir reclamação no procon", "o pacote atrasou um pouco"),
    ("de", "dann schreibe ich eine schlechte bewertung", "das paket ist etwas spät"),
    ("fr", "je vais faire opposition auprès de ma banque", "le colis a un peu de retard"),
    ("it", "chiamo il mio avvocato", "il pacco è un po in ritardo"),
    ("ru", "я оставлю плохой отзыв", "посылка немного задерживается"),
    ("zh", "我要给差评", "包裹晚了一点"),
    ("ja", "悪いレビューを書きます", "荷物が少し遅れています"),
    ("ko", "리뷰에 별점 하나 줄 거예요", "택배가 조금 늦어요"),
    ("ar", "سأكتب تقييم سيء", "الطلب متأخر قليلا"),
    ("th", "จะไปรีวิวหนึ่งดาว", "พัสดุช้านิดหน่อย"),
    ("id", "saya kasih ulasan bintang satu", "paketnya agak telat"),
    ("vi", "tôi sẽ đánh giá một sao", "đơn hàng hơi trễ"),
]


@pytest.mark.parametrize(("lang", "threat", "calm"), CASES)
def test_threat_escalates_calm_does_not(nlu: Nlu, lang: str, threat: str, calm: str) -> None:
    t = nlu.understand(threat, lang)
    assert t.escalate and t.sentiment in ("negative", "angry") and t.frustration >= 0.85
    c = nlu.understand(calm, lang)
    assert not c.escalate and c.frustration < 0.5


@pytest.mark.parametrize(
    ("lang", "text", "sentiment"),
    [
        ("en", "this is ridiculous and unacceptable", "angry"),
        ("en", "thank you that was great", "positive"),
        ("en", "where is my order", "neutral"),
        ("es", "es una vergüenza inaceptable", "angry"),
        ("de", "ich bin sehr enttäuscht", "negative"),
        ("fr", "c'est scandaleux", "angry"),
        ("zh", "太离谱了 垃圾", "angry"),
    ],
)
def test_sentiment(nlu: Nlu, lang: str, text: str, sentiment: str) -> None:
    assert nlu.understand(text, lang).sentiment == sentiment


def test_asking_for_a_human_escalates(nlu: Nlu) -> None:
    r = nlu.understand("let me speak to a supervisor", "en")
    assert r.intent == "human_agent" and r.escalate


def test_repeated_failure_and_anger_add_up(nlu: Nlu) -> None:
    mild = nlu.understand("still not working", "en").frustration
    strong = nlu.understand("this is the third time i call again this is ridiculous", "en").frustration
    assert strong > mild and strong >= 0.85
