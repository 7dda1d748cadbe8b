"""The knowledge base: complete in every language, checked, and the single source of answers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from voicebot.dialogue import kb_cli
from voicebot.dialogue.kb import KbError, check_entries, load_kb, parse_entries
from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.dialogue.templates import Templates


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    kb_cli.add_arguments(parser)
    return kb_cli.run(parser.parse_args(list(argv)))


def test_shipped_knowledge_base_and_templates_are_complete() -> None:
    kb = load_kb()
    assert kb.check() == []
    assert Templates.load().check() == []
    kinds = {e.kind for e in kb.entries.values()}
    assert kinds == {"policy", "product", "country", "fact", "attribute"}
    for entry in kb.entries.values():  # written once, all 14 translations together
        assert set(entry.text or entry.name or entry.keywords) == set(LANGUAGES), entry.id


def test_check_reports_missing_language_and_placeholder_drift() -> None:
    entries = parse_entries([
        {"id": "gift_wrap", "kind": "policy", "values": {"price": 3},
         "text": {"en": "Gift wrap costs {price} euros.", "de": "Geschenkverpackung kostet {preis} Euro.", "fr": "L'emballage cadeau coûte 3 euros."}},
        {"id": "sock", "kind": "product", "name": {lang: "sock" for lang in LANGUAGES}, "text": {"en": "Wool."}},
        {"id": "sock", "kind": "gadget"},
    ], "test.yaml")
    problems = [str(p) for p in check_entries(entries)]
    assert any("gift_wrap" in p and "missing language(s): zh, es, pt, it" in p for p in problems)
    assert any("gift_wrap" in p and "[de]" in p and "preis" in p for p in problems)
    assert any("gift_wrap" in p and "[fr]" in p and "differ from English" in p for p in problems)
    assert any(p.startswith("test.yaml: sock: `text` missing language(s): zh") for p in problems)
    assert any("duplicate id" in p for p in problems) and any("unknown kind 'gadget'" in p for p in problems)


def test_malformed_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("- id: x\n  kind: policy\n  txt: {}\n")
    with pytest.raises(KbError, match=r"bad\.yaml: entry x: unknown fields \['txt'\]"):
        load_kb(directory=tmp_path)
    with pytest.raises(KbError, match="does not exist"):
        load_kb(directory=tmp_path / "nope")


def test_kb_check_command(tmp_path: Path, capsys) -> None:
    assert run_cli("check") == 0
    assert "complete" in capsys.readouterr().out
    (tmp_path / "p.yaml").write_text("- id: late\n  kind: policy\n  text: {en: 'Late.', de: 'Spät.'}\n")
    assert run_cli("check", "--dir", str(tmp_path), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [f"{tmp_path / 'p.yaml'}: late: `text` missing language(s): " + ", ".join(lang for lang in LANGUAGES if lang not in ("en", "de"))]
    assert run_cli("check", "--dir", str(tmp_path), "--languages", "en,de") == 0
    assert run_cli("check", "--dir", str(tmp_path / "missing")) == 2


def test_show_and_lookups() -> None:
    kb = load_kb()
    assert "30" in kb.say("return_window", "ja")
    assert kb.shipping_time("JP", "en") == "Delivery to Japan usually takes 5 to 8 business days after dispatch."
    assert kb.match_products("el abrigo rojo de la semana pasada", "es") == ["coat-wool-red"]
    assert kb.match_products("赤いコートはどこ", "ja") == ["coat-wool-red"]
    assert kb.match_products("elefante roxo saxofone", "pt") == []  # "fones" only at a word start
    assert kb.match_products("сколько держит батарея у наушников", "ru") == ["earbuds-x2"]
    assert kb.search("earbuds battery", "en")[0]["id"] == "earbuds-x2"
    assert run_cli("show", "customs_hold", "--lang", "ko") == 0
    assert run_cli("show", "no_such_entry") == 2
