"""Compliance guard: checked on everything the bot is about to say, template or LLM.

Three rules, in every language:

* ``off_platform_payment`` — no steering the caller to pay outside the shop (bank transfer,
  gift cards, crypto, payment apps, links to other sites);
* ``promise_outside_policy`` — no compensation/voucher/discount offers, and every
  "N days/hours" must be a number the knowledge base actually states;
* ``foreign_data`` — no email, phone number, order id, tracking number or case reference that
  the verified caller is not entitled to hear.

What is blocked is replaced by a safe line, logged, and reported as ``Note("guard_blocked")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .orders.models import same_phone

_OFF_PLATFORM = {
    "en": r"bank transfer|wire (?:the )?(?:money|transfer)|western union|moneygram|gift ?cards?|bitcoin|crypto|usdt|paypal\.me|venmo|zelle|cash ?app|pay (?:me|us|him|her) directly|send (?:the )?money to",
    "zh": r"银行转账|汇款|礼品卡|比特币|加密货币|私下付款|微信转账|支付宝转账",
    "es": r"transferencia bancaria|tarjetas? regalo|bitcoin|criptomoneda|western union|bizum|pague directamente",
    "pt": r"transferência bancária|cartões? presente|bitcoin|criptomoeda|pix para|pague diretamente",
    "de": r"überweisung auf|banküberweisung|gutscheinkarte|geschenkkarte|bitcoin|kryptowährung|western union|direkt an mich",
    "fr": r"virement bancaire|cartes? cadeau|bitcoin|cryptomonnaie|western union|payez directement",
    "it": r"bonifico bancario|carte? regalo|bitcoin|criptovaluta|western union|paghi direttamente",
    "ru": r"банковский перевод|переведите деньги|подарочн\w+ карт|биткоин|криптовалют|на карту",
    "ja": r"銀行振込|ギフトカード|ビットコイン|暗号資産|直接お支払い",
    "ko": r"계좌 ?이체|기프트 ?카드|비트코인|암호화폐|직접 입금",
    "ar": r"تحويل بنكي|بطاقة هدايا|بطاقات هدايا|بيتكوين|عملة مشفرة|ادفع مباشرة",
    "th": r"โอนเงินเข้าบัญชี|โอนผ่านธนาคาร|บัตรของขวัญ|บิตคอยน์|คริปโต",
    "id": r"transfer bank|transfer ke rekening|kartu hadiah|bitcoin|kripto|bayar langsung ke",
    "vi": r"chuyển khoản ngân hàng|chuyển khoản vào|thẻ quà tặng|bitcoin|tiền điện tử|trả trực tiếp cho",
}
_PROMISE = {
    "en": r"compensation|vouchers?|coupons?|discount|store credit|i promise|we promise|free of charge|\bfor free\b",
    "zh": r"补偿|赔偿金|优惠券|代金券|折扣|我保证|免费送",
    "es": r"compensación|indemnización|vales?|cupón|descuento|le prometo|gratis",
    "pt": r"compensação|indenização|vale-compras|cupom|desconto|eu prometo|de graça",
    "de": r"entschädigung|gutschein|rabatt|ich verspreche|kostenlos dazu",
    "fr": r"dédommagement|indemnisation|bon d'achat|coupon|réduction|remise|je vous promets|gratuitement",
    "it": r"risarcimento|indennizzo|buono sconto|coupon|sconto|le prometto|gratis",
    "ru": r"компенсаци|ваучер|купон|скидк|обещаю|бесплатно",
    "ja": r"補償金|賠償|クーポン|割引|お約束します|無料で差し上げ",
    "ko": r"보상금|배상|쿠폰|할인|약속드립니다|무료로 드",
    "ar": r"تعويض|قسيمة|كوبون|خصم|أعدك|مجانًا",
    "th": r"ค่าชดเชย|คูปอง|ส่วนลด|สัญญาว่า|ฟรี",
    "id": r"kompensasi|ganti rugi|voucher|kupon|diskon|saya janji|gratis",
    "vi": r"bồi thường|phiếu giảm giá|voucher|giảm giá|tôi hứa|miễn phí",
}
# Words for a span of time, after which a number is a commitment the KB must back.
_DURATION_UNITS = (
    r"days?|hours?|weeks?|business days|天|小时|个?工作日|周|días|horas|semanas|dias|semanas|tage[n]?|stunden|werktage[n]?|wochen|"
    r"jours|heures|semaines|giorni|ore|settimane|дн\w*|час\w*|недел\w*|рабоч\w*|日|時間|営業日|週間|일|시간|영업일|주|يوم|أيام|ساعة|أسبوع|"
    r"วัน|ชั่วโมง|สัปดาห์|hari|jam|minggu|ngày|giờ|tuần"
)
# Dates are not durations: 6月12日, 12월 3일.
_DATES = re.compile(r"\d{1,2}\s*[月월]\s*\d{1,2}\s*[日일]")
_RANGE = r"\s*(?:to|a|à|bis|до|–|-|~|〜|到|至|ถึง|sampai|đến|إلى|e|y|and)\s*"
_NUM_BEFORE_UNIT = re.compile(r"(?<![\d.,])(\d{1,3}(?:" + _RANGE + r"\d{1,3})?)\s*(?:" + _DURATION_UNITS + r")", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+?\d[\d \-]{6,}\d")
# Order ids, tracking numbers and case references: a token with at least 4 digits and 5+ chars.
_IDENT = re.compile(r"(?<![A-Za-z0-9-])(?=[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{4,}(?![A-Za-z0-9-])")
_URL = re.compile(r"\b(?:https?://|www\.)([\w.-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class GuardContext:
    """What the caller may hear in this call."""

    allowed: frozenset[str] = frozenset()  # identifiers (order ids, tracking, refs, emails, phones)
    policy_numbers: frozenset[int] = frozenset()  # every number the knowledge base states
    allowed_domains: tuple[str, ...] = ()  # the shop's own web domains


@dataclass(frozen=True)
class GuardVerdict:
    text: str
    blocked: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.blocked


@dataclass
class Guard:
    fallback: dict[str, str] = field(default_factory=dict)  # lang -> safe line (templates' guard_fallback)

    def findings(self, text: str, lang: str, ctx: GuardContext) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        low = text.lower()
        for rule, table in (("off_platform_payment", _OFF_PLATFORM), ("promise_outside_policy", _PROMISE)):
            # The English list applies everywhere: LLMs and code-switching callers mix languages.
            for pattern in {table.get(lang, ""), table["en"]} - {""}:
                if m := re.search(pattern, low, re.IGNORECASE):
                    found.append({"rule": rule, "match": m.group(0)})
        for m in _URL.finditer(text):
            host = m.group(1).lower().rstrip(".")
            if not any(host == d or host.endswith("." + d) for d in ctx.allowed_domains):
                found.append({"rule": "off_platform_payment", "match": m.group(0)})
        stripped = _DATES.sub(" ", _EMAIL.sub(" ", text))
        stripped_ids = _IDENT.sub(" ", stripped)
        for m in _NUM_BEFORE_UNIT.finditer(stripped_ids):
            for n in re.findall(r"\d+", m.group(1)):
                if int(n) not in ctx.policy_numbers:
                    found.append({"rule": "promise_outside_policy", "match": m.group(0).strip()})
        allowed_low = {a.lower() for a in ctx.allowed}
        for m in _EMAIL.finditer(text):
            if m.group(0).lower() not in allowed_low:
                found.append({"rule": "foreign_data", "match": _mask(m.group(0))})
        for m in _PHONE.finditer(_EMAIL.sub(" ", text)):
            digits = re.sub(r"\D", "", m.group(0))
            if len(digits) >= 8 and not any(same_phone(m.group(0), a) for a in ctx.allowed if sum(c.isdigit() for c in a) >= 8):
                if not any(digits == re.sub(r"\D", "", a) for a in ctx.allowed):
                    found.append({"rule": "foreign_data", "match": _mask(m.group(0))})
        for m in _IDENT.finditer(_EMAIL.sub(" ", text)):
            token = m.group(0)
            if token.lower() not in allowed_low and not _PHONE.fullmatch(token):
                found.append({"rule": "foreign_data", "match": _mask(token)})
        return found

    def check(self, text: str, lang: str, ctx: GuardContext) -> GuardVerdict:
        found = self.findings(text, lang, ctx)
        if not found:
            return GuardVerdict(text)
        return GuardVerdict(self.fallback.get(lang) or self.fallback.get("en") or "", tuple(found))


def _mask(value: str) -> str:
    """Enough to find the problem in a log, not enough to leak it again."""
    return value[:2] + "…" + value[-2:] if len(value) > 4 else "…"
