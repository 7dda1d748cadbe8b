"""Spoken numbers -> digits, per language (table-driven)."""

from __future__ import annotations

import pytest

from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu.numbers import number_runs
from voicebot.dialogue.nlu.text import normalize


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


def digits(nlu: Nlu, text: str, lang: str) -> list[str]:
    lex = nlu.lexicon(lang)
    return [r.digits for r in number_runs(normalize(text, apostrophe=lex.apostrophe), lex)]


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "order number 4 5 7 1 2", ["45712"]),
        ("en", "four five uh seven one two", ["45712"]),
        ("en", "forty five seven twelve", ["45712"]),
        ("en", "double seven three oh four", ["77304"]),
        ("en", "two hundred and five", ["205"]),
        ("en", "forty five ninety one", ["4591"]),
        ("es", "cuatro cinco siete uno dos", ["45712"]),
        ("es", "setenta y siete doscientos cuatro", ["77204"]),
        ("es", "veintitrés cero cero uno", ["23001"]),
        ("pt", "sete sete dois zero quatro", ["77204"]),
        ("pt", "cento e vinte três", ["123"]),
        ("de", "siebenundsiebzig zwei null vier", ["77204"]),
        ("de", "vier fünf ähm sieben eins zwei", ["45712"]),
        ("fr", "soixante-dix-sept deux cent quatre", ["77204"]),
        ("fr", "quatre-vingt-dix-neuf", ["99"]),
        ("fr", "soixante-treize zéro quarante et un", ["73041"]),  # 60 + 13: French counts by twenties
        ("fr", "quatre-vingt-seize, soixante et onze", ["9671"]),
        ("fr", "trois cent quatre-vingt-quinze", ["395"]),
        ("fr", "soixante-dix, huit cent douze", ["70812"]),  # "huit cent" is a new group, not 78
        ("fr", "quarante-cinq mille deux cent dix-sept", ["45217"]),
        ("en", "twenty thousand four hundred and six", ["20406"]),
        ("ar", "ثلاثة عشر", ["13"]),
        ("ar", "عشرة", ["10"]),
        ("ar", "تسعمية وخمسة وعشرين، سبعة وسبعين", ["92577"]),  # units before tens, after the hundreds
        ("ar", "خمسة وأربعين ألف ومئتين وسبعة عشر", ["45217"]),
        ("de", "zweihundertsiebenundsiebzig", ["277"]),
        ("id", "tujuh belas", ["17"]),
        ("it", "settantasette duecentoquattro", ["77204"]),
        ("it", "quattro cinque sette uno due", ["45712"]),
        ("ru", "семьдесят семь двести четыре", ["77204"]),
        ("ru", "четыре пять семь один два", ["45712"]),
        ("id", "tujuh puluh tujuh dua nol empat", ["77204"]),
        ("id", "dua belas", ["12"]),
        ("vi", "bảy mươi bảy hai không bốn", ["77204"]),
        ("vi", "bốn năm bảy một hai", ["45712"]),
        ("zh", "订单号四五七一二", ["45712"]),
        ("zh", "七十七", ["77"]),
        ("zh", "二百零四", ["204"]),
        ("ja", "注文番号八八三〇二一です", ["883021"]),
        ("ja", "注文45712は", ["45712"]),
        ("ko", "사 오 칠 일 이", ["45712"]),
        ("ko", "사오칠일이", ["45712"]),
        ("ko", "77204번 주문", ["77204"]),
        ("th", "สี่ ห้า เจ็ด หนึ่ง สอง", ["45712"]),
        ("th", "คำสั่งซื้อ ๘๘๓๐๒๑", ["883021"]),
        ("th", "ยี่สิบเอ็ด", ["21"]),
        ("ar", "اربعة خمسة سبعة واحد اثنان", ["45712"]),
        ("ar", "٤٥٧١٢", ["45712"]),
        ("ar", "سبعة وسبعون", ["77"]),
    ],
)
def test_spoken_numbers(nlu: Nlu, lang: str, text: str, expected: list[str]) -> None:
    assert digits(nlu, text, lang) == expected


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "stuck in customs for ten days"),
        ("en", "i bought two pairs and one was broken"),
        ("it", "grazie mille"),
        ("zh", "等了两个星期一直没到"),
        ("ko", "벌써 이 주나 늦었어요"),
        ("th", "ช้ามาสองอาทิตย์แล้ว"),
    ],
)
def test_small_numbers_are_not_order_ids(nlu: Nlu, lang: str, text: str) -> None:
    assert "order_id" not in nlu.understand(text, lang).slots
