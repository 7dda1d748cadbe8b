"""The compliance guard: off-platform payment, promises outside policy, other customers' data."""

from __future__ import annotations

import logging

import pytest

from tests.dialogue.dialogue_kit import Call, ScriptedNlu, data, make_engine, nlu
from voicebot.dialogue.engine import policy_numbers
from voicebot.dialogue.guard import Guard, GuardContext
from voicebot.dialogue.kb import load_kb
from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.dialogue.templates import Templates

KB = load_kb()
CTX = GuardContext(frozenset({"55712", "RO000524242GB", "emma.thompson@example.co.uk", "+447700900123"}), policy_numbers(KB), ("acme.example",))
GUARD = Guard({"en": "SAFE"})


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "You can also pay by bank transfer to our partner."),
    ("en", "Buy a gift card and read me the code."),
    ("es", "Puede pagar con una transferencia bancaria."),
    ("de", "Bitte per Banküberweisung zahlen."),
    ("zh", "请通过银行转账付款。"),
    ("ru", "Переведите деньги на карту нашего сотрудника."),
    ("ja", "ギフトカードでお支払いください。"),
    ("ar", "يمكنك الدفع عن طريق تحويل بنكي."),
    ("vi", "Bạn có thể chuyển khoản ngân hàng cho tôi."),
    ("en", "Pay here: https://cheap-pay.example.net/checkout"),
])
def test_off_platform_payment_blocked(lang, text) -> None:
    verdict = GUARD.check(text, lang, CTX)
    assert not verdict.ok and verdict.text == "SAFE"
    assert {f["rule"] for f in verdict.blocked} == {"off_platform_payment"}


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "I'll give you a 20% discount for the trouble."),
    ("en", "Your refund will arrive within 60 days."),
    ("fr", "Je vous offre un bon d'achat."),
    ("it", "Il rimborso arriva entro 1 giorni."),
    ("ko", "환불은 1일 이내에 처리됩니다."),
    ("th", "เราจะคืนเงินภายใน 1 วันทำการ"),
    ("id", "Kami beri kompensasi untuk Anda."),
])
def test_promise_outside_policy_blocked(lang, text) -> None:
    verdict = GUARD.check(text, lang, CTX)
    assert [f["rule"] for f in verdict.blocked] and all(f["rule"] == "promise_outside_policy" for f in verdict.blocked)


@pytest.mark.parametrize("text", [
    "Order 61863 belongs to Lukas.",
    "The tracking number is DH000624242DE.",
    "You can reach her at lukas.mueller@example.de.",
    "Her number is +49 151 12345678.",
    "订单61863已经发货。",
])
def test_other_customers_data_blocked(text) -> None:
    verdict = GUARD.check(text, "en", CTX)
    assert {f["rule"] for f in verdict.blocked} == {"foreign_data"}
    assert "61863" not in str(verdict.blocked) and "lukas.mueller" not in str(verdict.blocked)  # the log is masked too


def test_allowed_identifiers_and_policy_numbers_pass() -> None:
    text = ("Order 55712 is on its way, tracking number RO000524242GB. We will email emma.thompson@example.co.uk; "
            "refunds take 5 to 10 business days; see https://help.acme.example/returns.")
    assert GUARD.check(text, "en", CTX).ok


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_policy_and_template_passes_the_guard(lang) -> None:
    """The built-in path never trips the guard: all it can say is policy."""
    templates = Templates.load()
    d = data()
    o = d.order_of(d.customer_for_language(lang).id, "in_transit")
    values = {"shop": "Acme Shop", "name": "Kim", "order_id": o.id, "items": "x", "date": "3/11", "event_date": "3/10",
              "location": "Paris", "carrier": "DHL", "tracking": o.shipment.tracking_number, "reference": "RET-100001",
              "email": "kim@example.kr", "days": 30, "choices": "a", "min_days": 3, "max_days": 5, "country": "X",
              "spoken": "4 5 7, 1 2", "product": "x", "callback": "+1 555 0100"}
    ctx = GuardContext(frozenset({o.id, o.shipment.tracking_number, "RET-100001", "kim@example.kr", "+1 555 0100"}), policy_numbers(KB))
    for key in templates.table:
        text = templates.render(key, lang, **values)
        assert GUARD.check(text, lang, ctx).ok, (key, text, GUARD.findings(text, lang, ctx))
    for entry in KB.entries.values():
        if entry.text and entry.id != "shipping_time":
            text = KB.say(entry.id, lang)
            assert GUARD.check(text, lang, ctx).ok, (entry.id, text, GUARD.findings(text, lang, ctx))
    for code in ("GB", "BR", "RU", "TH"):
        assert GUARD.check(KB.shipping_time(code, lang), lang, ctx).ok


async def test_session_blocks_logs_and_notes(tmp_path, caplog) -> None:
    """A reply that would leak gets replaced; the call record and the log say what was blocked."""
    scripted = ScriptedNlu()
    engine = make_engine(tmp_path, scripted)
    d = data()
    c = d.customer_for_language("en")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    # Sabotage the reply phrasing the way a bad template edit or an LLM might.
    engine.templates.table["how_can_help"] = {"en": "Hi! Lukas at lukas.mueller@example.de can pay you by bank transfer."}
    with caplog.at_level(logging.WARNING, logger="voicebot.dialogue.session"):
        reply = await call.say(nlu("greeting", "en"))
    assert reply.text == engine.templates.render("guard_fallback", "en")
    rules = {f["rule"] for f in call.notes("guard_blocked")[0].data["findings"]}
    assert rules == {"foreign_data", "off_platform_payment"}
    assert any(r.message == "guard blocked a reply" and r.call_id == "test-call" for r in caplog.records)
    assert "lukas.mueller@example.de" not in caplog.text
