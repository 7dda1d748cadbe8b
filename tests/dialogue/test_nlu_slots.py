"""Slots: order id (digits, words, alphanumeric), e-mail, phone, product hint; `expecting`."""

from __future__ import annotations

import pytest

from voicebot.dialogue.nlu import Nlu


@pytest.fixture(scope="module")
def nlu() -> Nlu:
    return Nlu()


@pytest.mark.parametrize(
    ("lang", "text", "order_id"),
    [
        ("en", "my order number is four five seven one two", "45712"),
        ("en", "order a b 1 2 3 4 has not arrived", "AB1234"),
        ("en", "it's order ab1234", "AB1234"),
        ("en", "the order is forty five uh ninety one double seven", "459177"),
        ("es", "el pedido cuatro cinco siete uno dos", "45712"),
        ("de", "bestellnummer 45 712", "45712"),
        ("zh", "订单号是45712", "45712"),
        ("ar", "رقم الطلب ٤٥٧١٢", "45712"),
        ("th", "ออเดอร์ ๔๕๗๑๒", "45712"),
        ("fr", "je veux suivre la commande J.D. 31 407", "JD31407"),  # "J." is no sentence end
        ("ar", "رقم الطلب إيه ٣٢١٧ كيه", "A3217K"),  # letter, digits, letter: spelled in the caller's script
        ("th", "ออเดอร์ เอ 3217 เค ค่ะ", "A3217K"),
    ],
)
def test_order_id(nlu: Nlu, lang: str, text: str, order_id: str) -> None:
    assert nlu.understand(text, lang).slots.get("order_id") == order_id


def test_article_a_is_not_part_of_an_id(nlu: Nlu) -> None:
    assert nlu.understand("i got a 1 2 3 4 5 reference", "en").slots["order_id"] == "12345"
    # two everyday words around a number spell nothing ("اي" which, "ام" or); one letter name
    # that is not a word ("ايه" A) vouches for the other
    assert nlu.understand("هل وصل اي 4 5 7 1 2 ام لا", "ar").slots["order_id"] == "45712"
    assert nlu.understand("هل وصل ايه 4 5 7 1 2 ام لا", "ar").slots["order_id"] == "A45712M"


def test_bare_answer_when_order_id_expected(nlu: Nlu) -> None:
    r = nlu.understand("4 5 7", "en", expecting="order_id")
    assert r.slots["order_id"] == "457" and r.intent == "affirm"
    assert "order_id" not in nlu.understand("4 5 7", "en").slots  # too short unless asked for


@pytest.mark.parametrize(
    ("lang", "text", "email"),
    [
        ("en", "it's john dot smith at gmail dot com", "john.smith@gmail.com"),
        ("en", "my email is jane_doe@example.co.uk", "jane_doe@example.co.uk"),
        ("es", "es maria punto lopez arroba hotmail punto com", "maria.lopez@hotmail.com"),
        ("fr", "pierre arobase orange point fr", "pierre@orange.fr"),
        ("de", "max punkt muster at web punkt de", "max.muster@web.de"),
        ("en", "j o h n at yahoo dot com", "john@yahoo.com"),
    ],
)
def test_email(nlu: Nlu, lang: str, text: str, email: str) -> None:
    assert nlu.understand(text, lang, expecting="email").slots.get("email") == email


@pytest.mark.parametrize(
    ("lang", "text", "expecting", "phone"),
    [
        ("en", "my phone number is plus four four seven nine one one one two three four five six", None, "+447911123456"),
        ("en", "five five five one two three four five six seven", "phone", "5551234567"),
        ("de", "meine handynummer ist null eins sieben eins zwei drei vier fünf sechs sieben", None, "0171234567"),
    ],
)
def test_phone(nlu: Nlu, lang: str, text: str, expecting: str | None, phone: str) -> None:
    r = nlu.understand(text, lang, expecting=expecting)
    assert r.slots.get("phone") == phone
    assert "order_id" not in r.slots


@pytest.mark.parametrize(
    ("lang", "text", "hint"),
    [
        ("en", "the red coat i bought last week is torn", "red coat"),
        ("es", "el abrigo rojo llegó roto", "abrigo rojo"),
    ],
)
def test_product_hint(nlu: Nlu, lang: str, text: str, hint: str) -> None:
    assert nlu.understand(text, lang).slots.get("product_hint") == hint


def test_expecting_must_be_known(nlu: Nlu) -> None:
    with pytest.raises(ValueError, match="expecting"):
        nlu.understand("yes", "en", expecting="shoe_size")
