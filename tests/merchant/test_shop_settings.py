"""The ``shop:`` section: name, served languages (ISO codes with a pack), business hours."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from voicebot.config import ConfigError, Settings, load_settings
from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.shop import ShopSettings, parse_languages


def test_defaults_serve_every_packed_language_on_weekdays() -> None:
    shop = Settings().shop
    assert shop.name == "Acme Shop" and shop.languages == LANGUAGES and shop.default_language == "en"
    assert shop.hours.summary() == "Mon-Fri 09:00-17:00 (UTC)"


def test_languages_from_yaml_and_environment(tmp_path) -> None:
    cfg = tmp_path / "shop.yaml"
    cfg.write_text("shop:\n  name: Nordwind\n  languages: [de, EN]\n  hours: {timezone: Europe/Berlin, sat: '10:00-14:00'}\n")
    shop = load_settings(cfg, env={}).shop
    assert shop.name == "Nordwind" and shop.languages == ("de", "en") and shop.default_language == "de"
    assert shop.serves("en-GB") and not shop.serves("fr") and not shop.serves(None)
    assert shop.hours.is_open(datetime(2026, 11, 28, 11, tzinfo=ZoneInfo("Europe/Berlin")))  # Saturday
    assert load_settings(None, env={"VOICEBOT_SHOP__LANGUAGES": "es, en,es"}).shop.languages == ("es", "en")


@pytest.mark.parametrize(("value", "message"), [
    ("english", "'english' is not the ISO 639-1 code of a language pack; write codes from: en, zh, es"),
    ("en,xx", "'xx' is not the ISO 639-1 code"),
    ("", "write one or more ISO 639-1 codes"),
])
def test_bad_languages_are_refused_with_the_codes_to_use(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(None, env={"VOICEBOT_SHOP__LANGUAGES": value})
    assert "shop.languages" in str(info.value) and "VOICEBOT_SHOP__LANGUAGES" in str(info.value)


def test_parse_languages_against_what_the_shop_serves() -> None:
    assert parse_languages("ES,en", served=("en", "es")) == ("es", "en")
    with pytest.raises(ValueError, match=r"'fr' is not a language this shop serves \(shop.languages\); write codes from: en, es"):
        parse_languages("fr", served=("en", "es"))


def test_shop_hours_from_environment() -> None:
    settings = load_settings(env={"VOICEBOT_SHOP__HOURS__TIMEZONE": "Asia/Tokyo",
                                  "VOICEBOT_SHOP__HOURS__SAT": "10:00-14:00",
                                  "VOICEBOT_SHOP__HOURS__HOLIDAYS": "2027-01-01,2027-01-02"})
    hours = settings.shop.hours
    assert hours.timezone == "Asia/Tokyo" and hours.sat == (("10:00", "14:00"),)
    assert hours.holidays == (date(2027, 1, 1), date(2027, 1, 2))
    assert not hours.is_open(datetime(2027, 1, 1, 3, tzinfo=ZoneInfo("UTC")))  # noon in Tokyo, a holiday
    with pytest.raises(ConfigError, match="shop.hours.timezone .*not an IANA time zone"):
        load_settings(env={"VOICEBOT_SHOP__HOURS__TIMEZONE": "CET+1"})


def test_print_config_shows_the_shop(tmp_path, capsys) -> None:
    from voicebot.cli import main

    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"home: {tmp_path}\nshop: {{name: Nordwind, languages: [de]}}\n")
    assert main(["--config", str(cfg), "serve", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert '"name": "Nordwind"' in out and '"languages": [\n      "de"\n    ]' in out and '"order_store": "demo"' in out


def test_shop_section_is_a_plain_typed_model() -> None:
    assert ShopSettings(languages=("ja",)).languages == ("ja",)
    with pytest.raises(ValueError):
        ShopSettings(languages=("jp",))


def test_calls_are_heard_among_the_shops_languages(tmp_path) -> None:
    """The recogniser picks a call's language among the shop's, not among every packed one."""
    from voicebot.runtime import Runtime

    runtime = Runtime(Settings(home=tmp_path, shop={"languages": "es, en"}))
    try:
        assert runtime.languages == ("es", "en")
    finally:
        runtime.asr_executor.shutdown()
        runtime.tts_executor.shutdown()
    default = Runtime(Settings(home=tmp_path))
    try:
        assert default.languages == LANGUAGES
    finally:
        default.asr_executor.shutdown()
        default.tts_executor.shutdown()
