"""Every CLI error is a message that says what to do, never a traceback (the CLI run as a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def voicebot(tmp_path: Path, *args: str, stdin: str | None = None, config: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_")}
    env.update({"VOICEBOT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)})
    if config:
        cfg = tmp_path / "settings.yaml"
        cfg.write_text(config)
        args = ("--config", str(cfg), *args)
    return subprocess.run([sys.executable, "-m", "voicebot.cli", *args], input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)


def refused(done: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    for phrase in phrases:
        assert phrase in done.stderr, (phrase, done.stderr)


@pytest.mark.parametrize(("args", "phrases"), [
    (("--config", "/nonexistent.yaml", "serve", "--print-config"), ("bad settings: cannot read the settings file /nonexistent.yaml",)),
    (("--config", "/nonexistent.yaml", "kb", "check"), ("cannot read the settings file /nonexistent.yaml",)),
    (("--log-level", "LOUD", "kb", "check"), ("'LOUD' is not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL",)),
    (("serve", "--port", "99999"), ("argument --port: 99999 is not a port; use 1-65535",)),
    (("serve", "--port", "http"), ("'http' is not a port number",)),
    (("replay", "caller.wav", "--out", "out", "--language", "xx"), ("--language 'xx' is not a language this shop serves",)),
    (("kb", "check", "--languages", "english"), ("'english' is not the ISO 639-1 code of a language pack; write codes from: en, zh",)),
    (("agents",), ("say what to do: add, list or remove",)),
    (("agents", "add", "maria", "--languages", "english"), ("'english' is not a language this shop serves",)),
    (("agents", "add", "maria", "--languages", "en", "--hours", "nine-five"), ("--hours 'nine-five': write START-END",)),
    (("agents", "add", "maria", "--languages", "en", "--timezone", "Mars/Olympus"), ("'Mars/Olympus' is not an IANA time zone",)),
])
def test_bad_arguments_are_messages(tmp_path: Path, args: tuple[str, ...], phrases: tuple[str, ...]) -> None:
    refused(voicebot(tmp_path, *args), 2, *phrases)


def test_agents_add_without_a_terminal_says_how_to_pipe_the_password(tmp_path: Path) -> None:
    refused(voicebot(tmp_path, "agents", "add", "maria", "--languages", "es,en"), 2,
            "no terminal to ask for the password; pipe it in with --password-stdin",
            "voicebot agents add maria --languages es,en --password-stdin")


def test_agents_add_list_remove_round_trip(tmp_path: Path) -> None:
    done = voicebot(tmp_path, "agents", "add", "maria", "--languages", "ES,en", "--password-stdin", "--timezone", "Europe/Madrid",
                    stdin="correct horse battery\n")
    assert done.returncode == 0 and "agent maria saved (es, en; Europe/Madrid 9-17)" in done.stdout, done.stderr
    refused(voicebot(tmp_path, "agents", "add", "tom", "--languages", "en", "--password-stdin", stdin="short\n"), 2, "at least 8 characters")
    listed = voicebot(tmp_path, "agents", "list")
    assert listed.returncode == 0 and listed.stdout.split()[:3] == ["maria", "es,en", "Europe/Madrid"]
    gone = voicebot(tmp_path, "agents", "remove", "maria")
    assert gone.returncode == 0 and "agent maria removed" in gone.stdout
    refused(voicebot(tmp_path, "agents", "remove", "maria"), 1, "there is no agent 'maria'")
    assert "no agents yet" in voicebot(tmp_path, "agents", "list").stdout


def test_agents_languages_must_be_ones_the_shop_serves(tmp_path: Path) -> None:
    refused(voicebot(tmp_path, "agents", "add", "maria", "--languages", "es,fr", "--password-stdin", stdin="correct horse battery\n",
                     config="shop: {languages: [en, es]}\n"), 2, "'fr' is not a language this shop serves (shop.languages); write codes from: en, es")


def test_replay_language_must_be_served(tmp_path: Path) -> None:
    refused(voicebot(tmp_path, "replay", "caller.wav", "--out", "out", "--language", "de", config="shop: {languages: [en, es]}\n"), 2,
            "'de' is not a language this shop serves")


def test_kb_check_covers_the_shops_languages_and_kb(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "gift.yaml").write_text("- id: gift_wrap\n  kind: policy\n  values: {price: 3}\n  text: {en: 'Gift wrap costs {price} euros.'}\n")
    config = f"shop: {{languages: [en, es]}}\ndialogue: {{kb_dir: {kb}}}\n"
    done = voicebot(tmp_path, "kb", "check", config=config)
    assert done.returncode == 1 and "gift_wrap: `text` missing language(s): es" in done.stdout and "2 languages (en, es)" in done.stdout
    (kb / "gift.yaml").write_text("- id: gift_wrap\n  kind: policy\n  values: {price: 3}\n"
                                  "  text: {en: 'Gift wrap costs {price} euros.', es: 'Envolver cuesta {price} euros.'}\n")
    assert voicebot(tmp_path, "kb", "check", config=config).returncode == 0
    refused(voicebot(tmp_path, "kb", "check", config=config + "dialogue: {kb_dir: /nowhere, kb_replace_builtin: true}\n"), 2,
            "kb_replace_builtin is true but the knowledge base folder /nowhere does not exist")


def test_bad_settings_and_data_at_serve_are_messages(tmp_path: Path) -> None:
    refused(voicebot(tmp_path, "serve", "--print-config", config="dialogue: {order_store: shopfiy}\n"), 2,
            "dialogue.order_store", "'shopfiy' is not an order store")
    refused(voicebot(tmp_path, "serve", "--print-config", config="shop: {hours: {mon: '9 to 5'}}\n"), 2, "shop.hours.mon")


def test_bad_language_pack_folder_is_a_message(tmp_path: Path) -> None:
    env_done = subprocess.run([sys.executable, "-m", "voicebot.cli", "kb", "check"], capture_output=True, text=True, cwd=ROOT, timeout=240,
                              env={**{k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_")}, "PYTHONPATH": str(ROOT),
                                   "VOICEBOT_HOME": str(tmp_path), "VOICEBOT_LANGUAGE_PACKS": str(tmp_path / "nowhere")})
    refused(env_done, 2, "$VOICEBOT_LANGUAGE_PACKS", "is not a folder of language packs")


def test_agents_take_the_shops_time_zone_unless_told(tmp_path: Path) -> None:
    done = voicebot(tmp_path, "agents", "add", "tom", "--languages", "en", "--password-stdin", stdin="correct horse battery\n",
                    config="shop: {languages: [en], hours: {timezone: America/New_York}}\n")
    assert done.returncode == 0 and "(en; America/New_York 9-17)" in done.stdout, done.stderr
