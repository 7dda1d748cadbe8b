"""Words that only an answering machine says, in the bot's 14 languages (pure).

A person answering says "hello?", "yes?", "who is this?"; a greeting says "leave a message",
"after the tone", "not available", "voicemail". Phrases are matched on lower-cased text with
punctuation removed, as substrings (ASR spacing varies, and zh/ja/th have no spaces). They are
deliberately multi-word and first-person or system wording: "she is not available" is what a
relative says, so it is not here; "leave a message after the tone" never comes from a person.
"""

from __future__ import annotations

import re
import unicodedata

MACHINE_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("leave a message", "leave your message", "leave me a message", "after the tone", "after the beep", "at the tone",
           "can't take your call", "cannot take your call", "can't come to the phone",
           "voicemail", "voice mail", "mailbox", "you have reached", "you've reached", "record your message",
           "please leave your name", "the person you are calling", "the number you have dialed"),
    "es": ("deje su mensaje", "deja tu mensaje", "deje un mensaje", "deja un mensaje", "después de la señal", "despues de la señal",
           "después del tono", "despues del tono", "buzón de voz", "buzon de voz",
           "no puedo atender", "no puede atender", "ha llamado a", "has llamado a"),
    "pt": ("deixe sua mensagem", "deixe a sua mensagem", "deixe uma mensagem", "após o sinal", "apos o sinal", "depois do sinal",
           "caixa postal", "caixa de correio", "não posso atender", "nao posso atender", "deixa recado", "deixe recado", "deixe seu recado"),
    "de": ("hinterlassen sie eine nachricht", "hinterlassen sie ihre nachricht", "nach dem signalton", "nach dem ton", "nach dem piepton",
           "nicht erreichbar", "nicht zu erreichen", "mailbox", "anrufbeantworter", "sprachbox", "kann ihren anruf nicht", "bin gerade nicht"),
    "fr": ("laissez un message", "laissez votre message", "laissez-moi un message", "après le bip", "apres le bip", "après le signal",
           "apres le signal", "messagerie", "répondeur", "repondeur", "je ne peux pas répondre",
           "je ne suis pas disponible", "vous êtes bien sur", "vous etes bien sur"),
    "it": ("lasciate un messaggio", "lascia un messaggio", "lasciare un messaggio", "dopo il segnale", "dopo il bip", "dopo il segnale acustico",
           "non è raggiungibile", "non e raggiungibile", "segreteria", "casella vocale", "non posso rispondere"),
    "ru": ("оставьте сообщение", "оставьте ваше сообщение", "после сигнала", "после звукового сигнала", "автоответчик",
           "голосовая почта", "голосовой почты", "не может ответить", "не могу ответить", "вне зоны действия"),
    "zh": ("留言", "请在提示音后", "提示音后", "嘀声后", "语音信箱", "无法接听", "暂时无法接通", "不在服务区", "您拨打的"),
    "ja": ("メッセージを", "発信音の後", "発信音のあとに", "留守番電話", "ただいま電話に出ることができません", "電話に出られません",
           "おかけになった電話"),
    "ko": ("메시지를 남겨", "음성 메시지", "삐 소리", "신호음 후", "전화를 받을 수 없", "연결이 되지 않", "음성사서함"),
    "ar": ("اترك رسالة", "اترك رسالتك", "بعد سماع الصافرة", "بعد الصافرة", "بعد النغمة", "البريد الصوتي", "لا يمكنه الرد"),
    "th": ("ฝากข้อความ", "หลังสัญญาณ", "ไม่สามารถรับสาย", "ระบบฝากข้อความ", "ไม่สามารถติดต่อได้"),
    "id": ("tinggalkan pesan", "setelah nada", "setelah bunyi", "kotak suara", "tidak dapat menerima", "sedang tidak dapat", "tidak aktif"),
    "vi": ("để lại lời nhắn", "để lại tin nhắn", "sau tiếng bíp", "hộp thư thoại", "không thể nghe máy", "tạm thời không liên lạc"),
}

_PUNCT = re.compile(r"[^\w\s'’]+")


def normalise(text: str) -> str:
    """Lower case, NFC, punctuation to spaces, runs of spaces to one; apostrophes kept (can't)."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    return " ".join(_PUNCT.sub(" ", text).split())


def machine_phrase(text: str, language: str | None = None) -> str | None:
    """The first machine phrase in ``text`` (its language's first, then every other's), else None."""
    low = normalise(text)
    if not low:
        return None
    order = ([language] if language in MACHINE_PHRASES else []) + [lang for lang in MACHINE_PHRASES if lang != language]
    for lang in order:
        for phrase in MACHINE_PHRASES[lang]:
            if normalise(phrase) in low:
                return phrase
    return None
