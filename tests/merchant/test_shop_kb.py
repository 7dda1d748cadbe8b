"""A shop's own knowledge base and reply templates: laid over the built-in ones, checked at start
for the flows' entries and the shop's languages, with errors that name what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dialogue.dialogue_kit import Call, ScriptedNlu, data, make_engine, nlu
from voicebot.config import Settings
from voicebot.core import CallContext
from voicebot.dialogue.engine import DialogueDataError, DialogueOptions, load_dialogue_data
from voicebot.dialogue.flows import REQUIRED_KB
from voicebot.dialogue.languages import packs
from voicebot.dialogue.outbound import OPT_OUT_PHRASES

RETURNS_EN_ES = """\
- id: return_window
  kind: policy
  values: {days: 60, label_hours: 48, dropoff_days: 21}
  text:
    en: "Nordwind takes items back within {days} days. The label comes within {label_hours} hours; post it within {dropoff_days} days."
    es: "Nordwind acepta devoluciones durante {days} días. La etiqueta llega en {label_hours} horas; envíela en {dropoff_days} días."
- id: gift_wrap
  kind: policy
  values: {price: 3}
  text:
    en: "Gift wrap costs {price} euros."
    es: "El envoltorio de regalo cuesta {price} euros."
"""


def shop_kb(home: Path, text: str = RETURNS_EN_ES) -> Path:
    folder = home / "kb"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policies.yaml").write_text(text, encoding="utf-8")
    return folder


async def test_a_shop_entry_replaces_ours_and_the_flows_keep_the_rest(tmp_path: Path) -> None:
    """The shop wrote only its returns policy: a late-parcel call still finds `late_delivery`
    (it used to raise KeyError and end in an English apology), and returns use the shop's words."""
    shop_kb(tmp_path)
    scripted = ScriptedNlu()
    engine = make_engine(tmp_path, scripted, languages=("en", "es"))
    assert engine.kb.value("return_window", "days") == 60 and "gift_wrap" in engine.kb.entries
    d = data()
    c = d.customer_for_language("en")
    late = d.order_of(c.id, "late_in_transit")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    reply = await call.say(nlu("shipping_delay", "en", order_id=late.id))
    assert engine.kb.say("late_delivery", "en") in reply.text
    call = Call(engine, scripted, "es", caller_number=d.customer_for_language("es").phone)
    reply = await call.say(nlu("return_refund", "es", order_id=d.order_of(d.customer_for_language("es").id, "delivered").id))
    await call.say(nlu("affirm", "es"))
    assert "Nordwind acepta devoluciones durante 60 días" in call.replies[-1].text


def test_a_shop_entry_must_cover_the_shops_languages(tmp_path: Path) -> None:
    shop_kb(tmp_path)
    with pytest.raises(DialogueDataError) as info:
        make_engine(tmp_path, ScriptedNlu(), languages=("en", "es", "de"))
    text = str(info.value)
    assert "return_window: `text` missing language(s): de" in text and "gift_wrap: `text` missing language(s): de" in text
    assert "(en, es, de)" in text and "voicebot kb check" in text


def test_placeholders_must_match_and_values_exist(tmp_path: Path) -> None:
    shop_kb(tmp_path, RETURNS_EN_ES.replace("cuesta {price} euros", "cuesta {precio} euros"))
    with pytest.raises(DialogueDataError, match=r"gift_wrap: `text`\[es\] uses \['precio'\] which `values` does not define"):
        make_engine(tmp_path, ScriptedNlu(), languages=("en", "es"))


def test_replacing_the_builtin_kb_names_every_missing_entry(tmp_path: Path) -> None:
    shop_kb(tmp_path)
    with pytest.raises(DialogueDataError) as info:
        make_engine(tmp_path, ScriptedNlu(), languages=("en", "es"), kb_replace_builtin=True)
    text = str(info.value)
    for entry in REQUIRED_KB:
        if entry != "return_window":
            assert entry in text, entry
    assert "late_delivery" in text and "kb_replace_builtin to false" in text and str(tmp_path / "kb") in text


def test_a_shop_kb_without_english_is_checked_against_its_own_first_language(tmp_path: Path) -> None:
    shop_kb(tmp_path, "- id: gift_wrap\n  kind: policy\n  values: {price: 3}\n  text:\n"
                      "    de: 'Geschenkverpackung kostet {price} Euro.'\n    fr: 'Emballage cadeau : {prix} euros.'\n")
    with pytest.raises(DialogueDataError, match=r"gift_wrap: `text`\[fr\] placeholders \['prix'\] differ from \[de\] \['price'\]"):
        make_engine(tmp_path, ScriptedNlu(), languages=("de", "fr"))


def test_malformed_shop_files_name_the_file(tmp_path: Path) -> None:
    shop_kb(tmp_path, "- id: x\n  kind: policy\n  txt: {}\n")
    with pytest.raises(DialogueDataError, match=r"policies\.yaml: entry x: unknown fields \['txt'\]"):
        make_engine(tmp_path, ScriptedNlu())
    (tmp_path / "kb" / "policies.yaml").write_text("- id: a\n  kind: fact\n  text: {en: A}\n- id: a\n  kind: fact\n  text: {en: B}\n")
    with pytest.raises(DialogueDataError, match="defines these ids twice: a"):
        make_engine(tmp_path, ScriptedNlu(), languages=("en",))


async def test_reply_templates_override_per_shop(tmp_path: Path) -> None:
    override = tmp_path / "templates.yaml"
    override.write_text("how_can_help:\n  en: 'Nordwind here - what can I do for you?'\n", encoding="utf-8")
    scripted = ScriptedNlu()
    engine = make_engine(tmp_path, scripted, languages=("en", "es"), templates_file=override)
    call = Call(engine, scripted, "en")
    assert (await call.say(nlu("greeting", "en"))).text == "Nordwind here - what can I do for you?"
    call = Call(engine, scripted, "es")  # untouched languages keep the pack's wording
    assert (await call.say(nlu("greeting", "es"))).text == engine.templates.table["how_can_help"]["es"]
    override.write_text("how_can_help:\n  en: 'Hi {name}!'\nno_such_template:\n  en: 'x'\n", encoding="utf-8")
    with pytest.raises(DialogueDataError) as info:
        make_engine(tmp_path, ScriptedNlu(), templates_file=override)
    assert "no_such_template: no such reply template" in str(info.value)
    override.write_text("how_can_help:\n  en: 'Hi {name}!'\n", encoding="utf-8")
    with pytest.raises(DialogueDataError, match=r"how_can_help: template \[.*placeholders"):
        make_engine(tmp_path, ScriptedNlu(), templates_file=override)


async def test_outbound_lines_are_in_the_packs_and_reworded_by_the_shop(tmp_path: Path) -> None:
    """The call the bot places speaks from the same templates as every other call: the packs'
    ``ob_*`` lines, with the shop's override laid over them."""
    override = tmp_path / "templates.yaml"
    override.write_text("ob_intro:\n  en: 'Hi, {shop} here about your order. Is this {name}? 1 yes, 2 no, 9 no more calls.'\n",
                        encoding="utf-8")
    engine = make_engine(tmp_path, ScriptedNlu(), languages=("en", "es"), templates_file=override)
    sample = data()
    customer = sample.customer_for_language("en")
    order = sample.order_of(customer.id, "late_in_transit")
    for lang, expected in (("en", f"Hi, {engine.resources.shop_name} here about your order. Is this {customer.name}? 1 yes, 2 no, 9 no more calls."),
                           ("es", engine.templates.render("ob_intro", "es", shop=engine.resources.shop_name, name=customer.name))):
        plan = {"attempt": "a1", "customer_id": customer.id, "order_id": order.id, "reason": "late_parcel", "facts": {}}
        session = engine.new_session(CallContext("c1", channel="sip", language=lang, extra={"outbound": plan}))
        assert (await session.greet()).text == expected
    assert "ob_intro" in engine.templates.table and set(engine.templates.table["ob_intro"]) >= {"en", "es"}
    assert OPT_OUT_PHRASES == {code: pack.opt_out_phrases for code, pack in packs().items()}
    assert all(OPT_OUT_PHRASES.values())


async def test_engine_serves_new_calls_from_a_reloaded_kb(tmp_path: Path) -> None:
    scripted = ScriptedNlu()
    engine = make_engine(tmp_path, scripted, languages=("en", "es"))
    before = engine.resources
    shop_kb(tmp_path)
    kb, templates = load_dialogue_data(Settings(home=tmp_path, shop={"languages": ["en", "es"]}), DialogueOptions())
    engine.use(kb, templates)
    assert engine.resources is not before and engine.kb.value("return_window", "days") == 60
    assert before.kb.value("return_window", "days") == 30  # a call already running keeps what it was told


def test_greetings_name_known_languages_and_placeholders(tmp_path: Path) -> None:
    with pytest.raises(DialogueDataError, match=r"dialogue.greetings\[es\]: \['tienda'\] are not known"):
        make_engine(tmp_path, ScriptedNlu(), greetings={"es": "Hola, bienvenido a {tienda}."})
    with pytest.raises(DialogueDataError, match="dialogue.greetings: 'spanish' is not a language code"):
        make_engine(tmp_path, ScriptedNlu(), greetings={"spanish": "Hola."})
