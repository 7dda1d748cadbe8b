"""The knowledge-base page's API on the real app: desk sign-in, supervisors only, checked edits, live reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from voicebot.config import Settings
from voicebot.dialogue.api import CallContext
from voicebot.handoff.auth import Accounts
from voicebot.handoff.routing import Agent
from voicebot.runtime import Runtime
from voicebot.server import create_app

OWN = {"Origin": "http://testserver"}
RETURNS = {"kind": "policy", "values": {"days": 45, "label_hours": 24, "dropoff_days": 14},
           "text": {"en": "You can return items within {days} days; the label comes within {label_hours} hours, post it within {dropoff_days} days.",
                    "es": "Puede devolver artículos en {days} días; la etiqueta llega en {label_hours} horas; envíela en {dropoff_days} días."}}


@pytest.fixture
def shop(tmp_path: Path):
    settings = Settings(home=tmp_path, shop={"name": "Nordwind", "languages": ["en", "es"]}, dialogue={"order_store": "demo"})
    accounts = Accounts(tmp_path / "handoff.sqlite3")
    accounts.add(Agent("sara", "Sara", ("en", "es")), "sara-password", role="supervisor")
    accounts.add(Agent("maria", "Maria", ("es",)), "maria-password")
    accounts.close()
    runtime = Runtime(settings)
    engine = runtime.dialogue(runtime.spec())  # serving calls: edits must reach it without a restart
    with TestClient(create_app(runtime)) as client:
        yield client, engine, tmp_path
    runtime.close()


def sign_in(client: TestClient, who: str) -> None:
    assert client.post("/handoff/api/login", json={"id": who, "password": f"{who}-password"}, headers=OWN).status_code == 200


def test_only_signed_in_supervisors_see_the_page(shop) -> None:
    client, _, _ = shop
    page = client.get("/shop/kb")
    assert page.status_code == 401 and "Sign in as a supervisor" in page.text and 'href="/desk"' in page.text
    assert client.get("/shop/api/kb").status_code == 401
    sign_in(client, "maria")
    assert client.get("/shop/kb").status_code == 403 and client.get("/shop/api/kb").status_code == 403
    assert client.put("/shop/api/kb/entries/return_window", json=RETURNS, headers=OWN).status_code == 403
    sign_in(client, "sara")
    assert client.get("/shop/kb").status_code == 200 and "kb.js" in client.get("/shop/kb").text
    listing = client.get("/shop/api/kb").json()
    assert listing["shop"] == "Nordwind" and listing["languages"] == ["en", "es"] and listing["problems"] == []
    entry = next(e for e in listing["entries"] if e["id"] == "return_window")
    assert entry["origin"] == "built-in" and entry["values"]["days"] == 30 and set(entry["placeholders"]) == {"days", "label_hours", "dropoff_days"}
    assert {e["kind"] for e in listing["entries"]} == {"policy", "product", "country", "fact", "attribute"}


def test_an_edit_is_checked_written_and_served_to_new_calls(shop) -> None:
    client, engine, home = shop
    sign_in(client, "sara")
    before = engine.new_session(CallContext("running-call", language="en"))
    saved = client.put("/shop/api/kb/entries/return_window", json=RETURNS, headers=OWN)
    assert saved.status_code == 200 and saved.json()["engines_updated"] == 1, saved.text
    assert saved.json()["saved"] == str(home / "kb" / "kb.yaml")
    assert engine.kb.value("return_window", "days") == 45 and "within 45 days" in engine.kb.say("return_window", "en")
    assert before.res.kb.value("return_window", "days") == 30  # the call in progress keeps what it was told
    assert 45 in engine.policy_numbers  # the guard lets the bot promise the new number
    written = yaml.safe_load((home / "kb" / "kb.yaml").read_text(encoding="utf-8"))
    assert written == [{"id": "return_window", **RETURNS}]
    again = client.put("/shop/api/kb/entries/return_window", json={**RETURNS, "values": {**RETURNS["values"], "days": 60}}, headers=OWN)
    assert again.status_code == 200 and engine.kb.value("return_window", "days") == 60
    assert yaml.safe_load((home / "kb" / "kb.yaml.bak").read_text(encoding="utf-8"))[0]["values"]["days"] == 45  # the previous file
    entry = next(e for e in client.get("/shop/api/kb").json()["entries"] if e["id"] == "return_window")
    assert entry["origin"] == "shop"
    back = client.delete("/shop/api/kb/entries/return_window", headers=OWN)
    assert back.status_code == 200 and engine.kb.value("return_window", "days") == 30


@pytest.mark.parametrize(("entry_id", "body", "problem"), [
    ("return_window", {**RETURNS, "text": {"en": RETURNS["text"]["en"]}}, "return_window: `text` missing language(s): es"),
    ("return_window", {**RETURNS, "text": {**RETURNS["text"], "es": "Devoluciones en {dias} días."}},
     "`text`[es] uses ['dias'] which `values` does not define"),
    ("return_window", {**RETURNS, "values": {"label_hours": 24, "dropoff_days": 14},
                       "text": {"en": "Returns are free.", "es": "Devoluciones gratis."}}, "the call flows read `days` from `values`; keep it"),
    ("return_window", {**RETURNS, "kind": "fact"}, "the built-in entry is a policy; keep that kind"),
    ("kettle.capacity", {"kind": "fact", "text": {"en": "1.7 litres.", "es": "1,7 litros."}}, "'kettle' is not a product"),
    ("mug-set-4.colour", {"kind": "fact", "text": {"en": "Blue.", "es": "Azul."}}, "there is no attribute entry attr-colour"),
    ("gift wrap", {"kind": "policy", "text": {"en": "x", "es": "x"}}, "is not an entry id"),
    ("gift_wrap", {"kind": "gadget", "text": {"en": "x", "es": "x"}}, "unknown kind 'gadget'"),
])
def test_an_edit_the_bot_could_not_serve_is_refused_and_nothing_written(shop, entry_id, body, problem) -> None:
    client, engine, home = shop
    sign_in(client, "sara")
    answer = client.put(f"/shop/api/kb/entries/{entry_id}", json=body, headers=OWN)
    assert answer.status_code in (400, 422) and answer.json()["ok"] is False
    assert any(problem in p for p in answer.json()["problems"]), answer.json()
    assert not (home / "kb" / "kb.yaml").exists() and engine.kb.value("return_window", "days") == 30


def test_the_catalogue_grows_a_product_with_its_facts(shop) -> None:
    client, engine, _ = shop
    sign_in(client, "sara")
    kettle = {"kind": "product", "values": {"litres": 1.7}, "name": {"en": "steel kettle", "es": "hervidor de acero"},
              "keywords": {"en": ["kettle"], "es": ["hervidor"]},
              "text": {"en": "The steel kettle holds {litres} litres.", "es": "El hervidor de acero tiene {litres} litros."}}
    assert client.put("/shop/api/kb/entries/kettle-steel", json=kettle, headers=OWN).status_code == 200
    fact = {"kind": "fact", "text": {"en": "The kettle is brushed steel.", "es": "El hervidor es de acero cepillado."}}
    assert client.put("/shop/api/kb/entries/kettle-steel.material", json=fact, headers=OWN).status_code == 200
    assert engine.kb.match_products("el hervidor de la semana pasada", "es") == ["kettle-steel"]
    assert engine.kb.say("kettle-steel.material", "en") == "The kettle is brushed steel."
    assert client.delete("/shop/api/kb/entries/kettle-steel.material", headers=OWN).status_code == 200
    assert "kettle-steel.material" not in engine.kb.entries
    refused = client.delete("/shop/api/kb/entries/final_sale", headers=OWN)
    assert refused.status_code == 409 and "is built in; edit it instead" in refused.json()["problems"][0]


def test_cross_site_and_non_json_writes_are_refused(shop) -> None:
    client, engine, _ = shop
    sign_in(client, "sara")
    assert client.put("/shop/api/kb/entries/return_window", json=RETURNS, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.put("/shop/api/kb/entries/return_window", content=b"{}", headers={**OWN, "Content-Type": "text/plain"}).status_code == 415
    assert engine.kb.value("return_window", "days") == 30


def test_reload_reads_hand_edits_or_keeps_serving_the_last_good_version(shop) -> None:
    client, engine, home = shop
    sign_in(client, "sara")
    (home / "kb").mkdir()
    (home / "kb" / "extra.yaml").write_text("- id: gift_wrap\n  kind: policy\n  values: {price: 3}\n"
                                            "  text: {en: 'Gift wrap costs {price} euros.', es: 'El envoltorio cuesta {price} euros.'}\n")
    ok = client.post("/shop/api/kb/reload", json={}, headers=OWN)
    assert ok.status_code == 200 and "gift_wrap" in engine.kb.entries
    (home / "kb" / "extra.yaml").write_text("- id: gift_wrap\n  kind: policy\n  text: {en: 'Gift wrap costs {price} euros.'}\n")
    bad = client.post("/shop/api/kb/reload", json={}, headers=OWN)
    assert bad.status_code == 422 and any("missing language(s): es" in p for p in bad.json()["problems"])
    assert engine.kb.value("gift_wrap", "price") == 3  # still the last version that passed
