"""Language packs: one folder per language, found at start; a new language is one new folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
import yaml

from tests.dialogue.dialogue_kit import Call, ScriptedNlu, make_engine, nlu
from voicebot.dialogue.kb.knowledge import DATA_DIR, read_files
from voicebot.dialogue.languages import PACKS_DIR, LanguagePackError, packs, parse_pack
from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.order_capture import spoken_groups
from voicebot.dialogue.templates import format_date

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_pack_is_complete() -> None:
    assert list(packs())[:3] == ["en", "zh", "es"] and len(packs()) == 14
    en_keys = set(yaml.safe_load((PACKS_DIR / "en" / "templates.yaml").read_text(encoding="utf-8")))
    builtin_ids = {e.id for e in read_files(sorted(DATA_DIR.glob("*.yaml")))}
    for code, pack in packs().items():
        for path in (pack.lexicon_path, pack.templates_path, pack.kb_path, pack.training_path):
            assert path.is_file(), path
        assert set(yaml.safe_load(pack.templates_path.read_text(encoding="utf-8"))) == en_keys, code
        assert set(yaml.safe_load(pack.kb_path.read_text(encoding="utf-8"))) == builtin_ids, code
        assert pack.guard.off_platform and pack.guard.promise and pack.guard.duration_units, code
        assert {"order_id", "yes_no"} <= set(pack.asr_hints), code


def test_dates_and_number_groups_come_from_the_pack() -> None:
    d = date(2026, 3, 7)
    assert [format_date(d, c) for c in ("en", "ja", "ko", "de", "ru", "es", "xx")] == \
        ["March 7", "3月7日", "3월 7일", "7.3.", "07.03", "7/3", "7/3"]
    assert spoken_groups("881427", "zh") == "8 8 1，4 2 7" and spoken_groups("881427", "en") == "8 8 1, 4 2 7"


def test_a_malformed_pack_names_its_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text("name: Klingon\nunspaced: maybe\n")
    with pytest.raises(LanguagePackError, match=r"pack\.yaml: `unspaced` is true or false, not 'maybe'"):
        parse_pack("tlh", tmp_path)
    (tmp_path / "pack.yaml").write_text("name: Klingon\nscirpt: latin\n")
    with pytest.raises(LanguagePackError, match=r"unknown keys \['scirpt'\]"):
        parse_pack("tlh", tmp_path)
    (tmp_path / "pack.yaml").write_text("guard: {promise: 'free(('}\n")
    with pytest.raises(LanguagePackError, match="guard.promise is not a regular expression"):
        parse_pack("tlh", tmp_path)


def test_language_detection_leans_to_the_shops_languages() -> None:
    """Nothing in "ok" or "no" says which language: the shop's first language wins, not English;
    a clearly Italian sentence stays Italian in a Spanish shop (the session then answers in Spanish)."""
    every, spanish, portuguese = Nlu(), Nlu(prefer=("es", "en")), Nlu(prefer=("pt",))
    assert every.detect_language("ok") == "en" and spanish.detect_language("ok") == "es"
    assert every.detect_language("pedido") == "es" and portuguese.detect_language("pedido") == "pt"
    assert spanish.detect_language("il mio ordine non è arrivato") == "it"


async def test_a_caller_in_a_language_the_shop_does_not_serve_is_answered_in_the_shops(tmp_path: Path) -> None:
    scripted = ScriptedNlu()
    engine = make_engine(tmp_path, scripted, languages=("es", "en"))
    call = Call(engine, scripted, "it")
    greeting = await call.session.greet()
    assert greeting.language == "es"
    reply = await call.say(nlu("greeting", "it"))
    assert reply.language == "es"
    reply = await call.say(nlu("greeting", "en"))  # a served language: the bot follows the caller
    assert reply.language == "en"


ESPERANTO = {
    "pack.yaml": """\
        name: Esperanto
        rank: 15
        script: latin
        letter_hints: {"ĉĝĥĵŝŭ": 3}
        date_format: "{day}-a de la {month}-a"
        backchannels: [jes, bone, mhm]
        guard:
          off_platform: "banka ĝiro|donackarto"
          promise: "kompenso|rabato|mi promesas"
          duration_units: "tagoj?|horoj?"
          range_words: [ĝis]
        asr_hints:
          order_id: "Mia mendonumero estas 4 5 7 1 2."
          yes_no: "Jes, ĝuste. Ne, malĝuste."
        """,
    "lexicon.yaml": """\
        mode: words
        apostrophe: drop
        fold_accents: false
        function_words: [la, mi, vi, estas, de, kaj, ne, jes, mia, kie, kio, ĉu]
        fillers: [nu, ehm]
        numbers:
          values: {nul: 0, unu: 1, du: 2, tri: 3, kvar: 4, kvin: 5, ses: 6, sep: 7, ok: 8, naŭ: 9}
        order_words: [mendo*]
        intents:
          order_status: ["kie mendo*", "stato mendo*"]
          human_agent: ["homo*", "persono*"]
          greeting: ["^saluton"]
          thanks: [dankon]
          goodbye: ["^ĝis"]
          affirm: ["^jes"]
          deny: ["^ne$"]
        """,
}

CHECK = """
import asyncio, json, sys
from voicebot.cli import main
from voicebot.config import Settings
from voicebot.dialogue.api import CallContext
from voicebot.dialogue.engine import build_engine
from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.dialogue.templates import format_date
from datetime import date

nlu = Nlu(prefer=("eo", "en"))
r = nlu.understand("kie estas mia mendo kvar kvin sep unu du", "eo")
engine = build_engine(Settings(home=sys.argv[1], shop={"name": "Verda", "languages": ["eo", "en"]}, dialogue={"order_store": "demo"}), nlu=nlu)
session = engine.new_session(CallContext("c1", channel="text", language="eo"))
greeting = asyncio.run(session.greet())
rc = main(["kb", "check", "--languages", "eo"])
print(json.dumps({"languages": list(LANGUAGES), "intent": r.intent, "order_id": r.slots.get("order_id"),
                  "detected": nlu.detect_language("saluton, kie estas mia mendo?"), "greeting": greeting.text,
                  "greeting_language": greeting.language, "date": format_date(date(2026, 3, 7), "eo"), "kb_check": rc}))
"""


def test_a_new_language_is_one_folder(tmp_path: Path) -> None:
    """Esperanto, added as one folder of packs outside the package: the NLU reads it, the bot greets
    in it, the knowledge-base check covers it. (Its templates and KB here are the English ones,
    marked: a real pack translates them.)"""
    eo = tmp_path / "packs" / "eo"
    eo.mkdir(parents=True)
    for name, text in ESPERANTO.items():
        (eo / name).write_text(textwrap.dedent(text), encoding="utf-8")
    templates = yaml.safe_load((PACKS_DIR / "en" / "templates.yaml").read_text(encoding="utf-8"))
    templates["greeting"] = "Saluton, ĉi tie la asistanto de {shop}. Kiel mi helpu?"
    (eo / "templates.yaml").write_text(yaml.safe_dump(templates, allow_unicode=True), encoding="utf-8")
    (eo / "kb.yaml").write_text((PACKS_DIR / "en" / "kb.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "VOICEBOT_LANGUAGE_PACKS": str(tmp_path / "packs"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "home")], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["languages"][-1] == "eo" and len(got["languages"]) == 15
    assert got["intent"] == "order_status" and got["order_id"] == "45712"
    assert got["detected"] == "eo"
    assert got["greeting"] == "Saluton, ĉi tie la asistanto de Verda. Kiel mi helpu?" and got["greeting_language"] == "eo"
    assert got["date"] == "7-a de la 3-a" and got["kb_check"] == 0


def test_a_missing_pack_folder_is_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "VOICEBOT_LANGUAGE_PACKS": str(tmp_path / "nowhere"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", "import voicebot.dialogue.nlu_types"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode != 0 and "VOICEBOT_LANGUAGE_PACKS" in done.stderr and "nowhere is not a folder" in done.stderr


def test_the_desks_phrasebook_reads_the_bots_lines_from_the_packs() -> None:
    """An agent who does not speak the caller's language sees the bot's own lines translated:
    the phrasebook is built from every pack's templates, not from one file."""
    from voicebot.handoff.translate import default_phrasebook

    book = default_phrasebook()
    es = yaml.safe_load((PACKS_DIR / "es" / "templates.yaml").read_text(encoding="utf-8"))
    en = yaml.safe_load((PACKS_DIR / "en" / "templates.yaml").read_text(encoding="utf-8"))
    assert book.lookup(es["no_action"], "es", "en") == en["no_action"]
    assert book.lookup(es["ob_opted_out"], "es", "en") == en["ob_opted_out"]


DUTCH = {
    "pack.yaml": """\
        # No `voice:`: a pack without one is spoken by espeak-ng's voice of its code (nl)
        name: Dutch
        rank: 15
        script: latin
        date_format: "{day} {month_name}"
        month_names: [januari, februari, maart, april, mei, juni, juli, augustus, september, oktober, november, december]
        backchannels: [ja, jawel, mhm, precies]
        guard:
          off_platform: "bankoverschrijving|cadeaubon|bitcoin"
          promise: "compensatie|korting|ik beloof"
          duration_units: "dagen|dag|uur|weken"
          range_words: [tot]
        asr_hints:
          order_id: "Mijn bestelnummer is 4 5 7 1 2."
          yes_no: "Ja, dat klopt. Nee, dat klopt niet."
        """,
    "lexicon.yaml": """\
        mode: words
        apostrophe: drop
        fold_accents: true
        function_words: [de, het, een, ik, mijn, is, van, en, niet, waar, wat, met, je, u, dat, wil]
        fillers: [eh, ehm]
        numbers:
          values: {nul: 0, een: 1, twee: 2, drie: 3, vier: 4, vijf: 5, zes: 6, zeven: 7, acht: 8, negen: 9}
        order_words: [bestel*]
        intents:
          order_status: ["waar bestel*", "status bestel*"]
          human_agent: ["medewerker*", "persoon"]
          greeting: ["^hallo"]
          thanks: [bedankt]
          goodbye: ["tot ziens"]
          affirm: ["^ja"]
          deny: ["^nee"]
        """,
    "handoff.yaml": """\
        routing:
          agent: "Een collega is zo bij u."
          back_at: "Ons team is er weer {when}."
        voicemail:
          prompt: "Ons team is nu niet bereikbaar. Spreek na de toon een bericht in en druk op hekje als u klaar bent."
          prompt_web: "Ons team is nu niet bereikbaar. Spreek na de toon een bericht in en druk op Ophangen als u klaar bent."
        hold: {text: "Een ogenblik geduld, een medewerker komt zo bij u.", say_locale: nl-NL}
        weekdays: [maandag, dinsdag, woensdag, donderdag, vrijdag, zaterdag, zondag]
        when: {today: "vandaag om {t}", tomorrow: "morgen om {t}", other_day: "op {d} om {t}"}
        """,
}
DUTCH_REPLIES = {
    "greeting": "Hallo, u spreekt met de assistent van {shop}. Waarmee kan ik u helpen?",
    "ack_order_status": "Ik kijk even waar uw bestelling is.",
    "status_in_transit": "Bestelling {order_id} met {items} is onderweg met {carrier}. De laatste scan was op {event_date} in {location}, "
                         "en de levering wordt verwacht op {date}. Uw trackingnummer is {tracking}.",
    "anything_else": "Kan ik u nog ergens anders mee helpen?",
    "transfer_caller_asked": "Natuurlijk. Ik verbind u nu door met een collega, die ziet wat we besproken hebben.",
}

CALL_IN_DUTCH = """
import asyncio, json, sys
from datetime import date, datetime, timezone
from voicebot.channels.twilio.twiml import hold
from voicebot.config import Settings
from voicebot.dialogue.api import CallContext, CallerTurn
from voicebot.dialogue.engine import build_engine
from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.orders.seed import sample_data
from voicebot.handoff.hours import say_when
from voicebot.handoff.routing import caller_message
from voicebot.handoff.voicemail import voicemail_message
from voicebot.tts.catalog import VoiceCatalog

today = date(2026, 3, 16)
data = sample_data(today)
customer = data.customers[0]
order = data.order_of(customer.id, "in_transit")
settings = Settings(home=sys.argv[1], shop={"name": "Tulp", "languages": ["nl", "en"]}, dialogue={"order_store": "demo"})
settings.dialogue.today = lambda: today
engine = build_engine(settings, nlu=Nlu(prefer=("nl", "en")))

async def call():
    session = engine.new_session(CallContext("c1", channel="text", caller_number=customer.phone))
    said = [await session.greet()]
    said.append(await session.respond(CallerTurn("waar is mijn bestelling " + " ".join(order.id), None)))
    said.append(await session.respond(CallerTurn("ik wil een medewerker spreken", None)))
    return said

greeting, answer, handoff = asyncio.run(call())
voice = VoiceCatalog(settings.voices, settings.models.dir, prefer="best").voice_for("nl")
speech = voice.synthesize("Een collega is zo bij u.")
monday = datetime(2026, 3, 23, 9, 0, tzinfo=timezone.utc)
print(json.dumps({
    "greeting": [greeting.text, greeting.language], "answer": [answer.text, answer.language, order.id],
    "handoff": [handoff.text, handoff.language, handoff.transfer.reason if handoff.transfer else None],
    "routing": caller_message("agent", "nl"), "routing_missing": caller_message("timeout", "nl"),
    "back": caller_message("back_at", "nl", when=say_when(monday, datetime(2026, 3, 21, 12, tzinfo=timezone.utc), "nl")[0]),
    "voicemail": voicemail_message("prompt", "nl", "webrtc"), "hold": hold("nl"),
    "voice": [type(voice).__name__, voice.name, len(speech.pcm), speech.sample_rate]}))
"""


def test_a_language_added_as_one_folder_greets_answers_and_hands_off(tmp_path: Path) -> None:
    """Dutch, added as one folder outside the package (nothing else edited): the bot greets in it,
    reads an order's state in it, hands the caller over in it (the hand-off's lines, the hold
    message, when the team is back), and espeak-ng speaks it with no voice catalog entry.
    Replies this test does not translate are the English ones, marked [nl]."""
    nl = tmp_path / "packs" / "nl"
    nl.mkdir(parents=True)
    for name, text in DUTCH.items():
        (nl / name).write_text(textwrap.dedent(text), encoding="utf-8")
    english = yaml.safe_load((PACKS_DIR / "en" / "templates.yaml").read_text(encoding="utf-8"))
    replies = {key: DUTCH_REPLIES.get(key, f"[nl] {text}") for key, text in english.items()}
    (nl / "templates.yaml").write_text(yaml.safe_dump(replies, allow_unicode=True), encoding="utf-8")
    (nl / "kb.yaml").write_text((PACKS_DIR / "en" / "kb.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "VOICEBOT_LANGUAGE_PACKS": str(tmp_path / "packs"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CALL_IN_DUTCH, str(tmp_path / "home")], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["greeting"] == ["Hallo, u spreekt met de assistent van Tulp. Waarmee kan ik u helpen?", "nl"]
    text, language, order_id = got["answer"]
    assert language == "nl" and text.startswith("Ik kijk even waar uw bestelling is. Bestelling " + order_id + " met")
    assert "is onderweg met" in text and "maart" in text and text.endswith("Kan ik u nog ergens anders mee helpen?")
    assert got["handoff"] == [DUTCH_REPLIES["transfer_caller_asked"], "nl", "caller_asked"]
    assert got["routing"] == ["Een collega is zo bij u.", "nl"]
    assert got["routing_missing"][1] == "en"  # a line the pack leaves out is English, in the English voice
    assert got["back"] == ["Ons team is er weer op maandag om 09:00 (UTC).", "nl"]
    assert got["voicemail"] == [yaml.safe_load(textwrap.dedent(DUTCH["handoff.yaml"]))["voicemail"]["prompt_web"], "nl"]
    assert '<Say language="nl-NL">Een ogenblik geduld, een medewerker komt zo bij u.</Say>' in got["hold"]
    kind, name, samples, rate = got["voice"]
    assert kind == "EspeakVoice" and "nl" in name and samples > rate // 2  # at least half a second of real speech
