"""Text to bias the recogniser toward what the bot just asked for (``DialogueReply.expect``).

Whisper continues the style of its initial prompt: a prompt that shows order numbers read digit
by digit ("4 5 7 1 2", "J D 4 5 1 9 3") makes it keep the digits apart instead of joining and
"normalising" them, and one with the language's yes/no words makes a short answer come out in
the caller's language. The pipeline passes :func:`initial_prompt` to the ASR for the next turn.
"""

from __future__ import annotations

# How a caller answers, in each language, for each kind of question.
_ORDER = {
    "en": "My order number is 4 5 7 1 2. It's J D 4 5 1 9 3.", "zh": "我的订单号是 4 5 7 1 2。是 J D 4 5 1 9 3。",
    "es": "Mi número de pedido es 4 5 7 1 2. Es J D 4 5 1 9 3.", "pt": "O número do meu pedido é 4 5 7 1 2. É J D 4 5 1 9 3.",
    "de": "Meine Bestellnummer ist 4 5 7 1 2. Es ist J D 4 5 1 9 3.", "fr": "Mon numéro de commande est 4 5 7 1 2. C'est J D 4 5 1 9 3.",
    "it": "Il mio numero d'ordine è 4 5 7 1 2. È J D 4 5 1 9 3.", "ru": "Мой номер заказа 4 5 7 1 2. Это J D 4 5 1 9 3.",
    "ja": "注文番号は 4 5 7 1 2 です。J D 4 5 1 9 3 です。", "ko": "주문번호는 4 5 7 1 2 입니다. J D 4 5 1 9 3 이에요.",
    "ar": "رقم طلبي 4 5 7 1 2. هو J D 4 5 1 9 3.", "th": "หมายเลขคำสั่งซื้อ 4 5 7 1 2 ค่ะ J D 4 5 1 9 3",
    "id": "Nomor pesanan saya 4 5 7 1 2. J D 4 5 1 9 3.", "vi": "Mã đơn hàng của tôi là 4 5 7 1 2. Là J D 4 5 1 9 3.",
}
_YES_NO = {
    "en": "Yes, that's right. No, that's wrong.", "zh": "是的，对。不对，不是。", "es": "Sí, correcto. No, no es.",
    "pt": "Sim, está certo. Não, não é.", "de": "Ja, richtig. Nein, falsch.", "fr": "Oui, c'est ça. Non, ce n'est pas ça.",
    "it": "Sì, è giusto. No, non è così.", "ru": "Да, верно. Нет, не так.", "ja": "はい、そうです。いいえ、違います。",
    "ko": "네, 맞아요. 아니요, 아니에요.", "ar": "نعم، صحيح. لا، غلط.", "th": "ใช่ค่ะ ถูกต้อง ไม่ใช่ค่ะ",
    "id": "Ya, betul. Bukan, salah.", "vi": "Vâng, đúng rồi. Không, sai rồi.",
}
_EMAIL = "anna.smith@example.com, john dot miller at gmail dot com"
_PHONE = "+44 7700 900123, 0 9 1 2 3 4 5 6 7 8"


def initial_prompt(expect: str | None, lang: str) -> str | None:
    """A short prompt in ``lang`` showing the expected answer's shape; None when nothing is expected."""
    if expect == "order_id":
        return _ORDER.get(lang, _ORDER["en"])
    if expect == "yes_no":
        return _YES_NO.get(lang, _YES_NO["en"])
    if expect == "email":
        return _EMAIL
    if expect == "phone":
        return _PHONE
    return None
