"""One typed settings model: strict yes/no values, numbers, unknown keys, secrets never printed.

Each reproduction is the operator's own words: a variable set to "false" must read as false
wherever it is used (the demo token endpoint, the LLM, the desk's cookie), a number given as
text must be a number, and anything the program cannot use is an error naming the key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from voicebot.config import ROOT, Settings, load_settings
from voicebot.handoff.routing import Agent

SECRET = "a-production-secret-of-32-chars!"
OWN = "http://testserver"


@pytest.mark.parametrize("word", ["false", "0", "no", "off", "False", " OFF "])
def test_false_words_read_as_false(word: str) -> None:
    s = load_settings(None, env={"VOICEBOT_INAPP__SECRET": SECRET, "VOICEBOT_INAPP__DEMO_TOKENS": word,
                                 "VOICEBOT_DIALOGUE__LLM__ENABLED": word, "VOICEBOT_HANDOFF__SECURE_COOKIE": word,
                                 "VOICEBOT_TWILIO__VERIFY_SIGNATURES": word})
    assert s.inapp.demo_tokens is False and not s.inapp.demo_enabled
    assert s.dialogue.llm.enabled is False and s.handoff.secure_cookie is False and s.twilio.verify_signatures is False


@pytest.mark.parametrize("word", ["true", "1", "yes", "on", "TRUE"])
def test_true_words_read_as_true(word: str) -> None:
    s = load_settings(None, env={"VOICEBOT_INAPP__DEMO_TOKENS": word, "VOICEBOT_HANDOFF__VOICEMAIL__INSTEAD_OF_CALLBACK": word})
    assert s.inapp.demo_tokens is True and s.handoff.voicemail.instead_of_callback is True


@pytest.mark.parametrize(("name", "value", "key"), [
    ("VOICEBOT_INAPP__DEMO_TOKENS", "maybe", "inapp.demo_tokens"),
    ("VOICEBOT_DIALOGUE__LLM__ENABLED", "t", "dialogue.llm.enabled"),
    ("VOICEBOT_HANDOFF__SESSION_TTL_S", "8h", "handoff.session_ttl_s"),
    ("VOICEBOT_SERVER__PORT", "80.5", "server.port"),
    ("VOICEBOT_SIP__RTP_PORT_MAX", "99999", "sip.rtp_port_max"),
    ("VOICEBOT_SIP__TRANSFER_MODE", "warm", "sip.transfer_mode"),
    ("VOICEBOT_HANDOFF__VOICEMAIL__SAMPLE_RATE", "44100", "handoff.voicemail.sample_rate"),
    ("VOICEBOT_SIP__ALLOW_FROM", "10.0.0.0/8,not-a-net", "sip.allow_from"),
])
def test_values_the_program_cannot_use_are_errors_naming_key_and_variable(name: str, value: str, key: str) -> None:
    with pytest.raises(ValueError) as err:
        load_settings(None, env={name: value})
    assert key in str(err.value) and name in str(err.value)


def test_unknown_keys_refused_with_the_known_ones_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown setting 'handoff.sesion_ttl_s'.*known: .*session_ttl_s"):
        load_settings(None, env={"VOICEBOT_HANDOFF__SESION_TTL_S": "3600"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dialogue: {llm: {enabeld: true}}\n")
    with pytest.raises(ValueError, match=rf"unknown setting 'dialogue.llm.enabeld' \(from {cfg}\)"):
        load_settings(cfg, env={})


def test_numbers_from_text_are_numbers_and_yaml_and_env_layer(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("handoff: {session_ttl_s: 60, voicemail: {max_s: '30'}}\nsip: {transfer_targets: {es: 'sip:es@pbx'}}\n")
    s = load_settings(cfg, env={"VOICEBOT_HANDOFF__SESSION_TTL_S": "3600", "VOICEBOT_SIP__TRANSFER_TARGETS": "en=sip:en@pbx, de=sip:de@pbx"})
    assert s.handoff.session_ttl_s == 3600.0 and s.handoff.voicemail.max_s == 30.0
    assert s.sip.transfer_targets == {"en": "sip:en@pbx", "de": "sip:de@pbx"}


def _desk_app(settings: Settings) -> tuple[TestClient, SimpleNamespace]:
    from voicebot.handoff.routes import make_router, service_for

    runtime = SimpleNamespace(settings=settings, handoff=None)
    service_for(runtime).accounts.add(Agent("ana", "Ana", ("en",)), "ana-password")
    app = FastAPI()
    app.include_router(make_router(runtime))
    return TestClient(app), runtime


def test_session_ttl_and_secure_cookie_from_the_environment_work_at_sign_in(tmp_path: Path) -> None:
    s = load_settings(None, env={"VOICEBOT_HANDOFF__SESSION_TTL_S": "3600", "VOICEBOT_HANDOFF__SECURE_COOKIE": "false"})
    s.home = tmp_path
    client, _ = _desk_app(s)
    with client:
        r = client.post("/handoff/api/login", json={"id": "ana", "password": "ana-password"}, headers={"Origin": OWN})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"].lower()
        assert "max-age=3600" in cookie and "secure" not in cookie


def test_demo_tokens_false_with_a_production_secret_issues_no_token(tmp_path: Path) -> None:
    from voicebot.channels.webrtc.routes import make_router

    s = load_settings(None, env={"VOICEBOT_INAPP__SECRET": SECRET, "VOICEBOT_INAPP__DEMO_TOKENS": "false"})
    app = FastAPI()
    app.include_router(make_router(SimpleNamespace(settings=s)))
    with TestClient(app) as c:
        r = c.post("/inapp/demo-token", json={"customer_id": "C015"}, headers={"Origin": OWN})
        assert r.status_code == 404 and "token" not in r.json()


def test_llm_false_builds_no_llm(tmp_path: Path) -> None:
    from voicebot.dialogue.engine import build_engine

    s = load_settings(None, env={"VOICEBOT_DIALOGUE__LLM__ENABLED": "false", "VOICEBOT_DIALOGUE__LLM__BASE_URL": "http://127.0.0.1:9/v1",
                                 "VOICEBOT_DIALOGUE__ORDER_STORE": "demo"})
    s.home = tmp_path
    assert build_engine(s, nlu=SimpleNamespace()).llm is None  # (no call is made: the NLU is never asked)


def test_print_config_shows_typed_values_and_never_secrets(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOICEBOT_HOME": str(tmp_path), "VOICEBOT_INAPP__DEMO_TOKENS": "false",
           "VOICEBOT_INAPP__SECRET": SECRET, "VOICEBOT_TWILIO__AUTH_TOKEN": "twilio-token-value", "VOICEBOT_SIP__PASSWORD": "sip-pass-value",
           "VOICEBOT_HANDOFF__SESSION_TTL_S": "3600", "VOICEBOT_SIP__ALLOW_FROM": "10.0.0.0/8"}
    env.pop("VOICEBOT_CONFIG", None)
    out = subprocess.run([sys.executable, "-m", "voicebot.cli", "serve", "--print-config"], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    shown = json.loads(out[out.index("{"):])
    assert shown["inapp"]["demo_tokens"] is False and shown["handoff"]["session_ttl_s"] == 3600.0
    assert shown["sip"]["allow_from"] == ["10.0.0.0/8"]
    for secret in (SECRET, "twilio-token-value", "sip-pass-value"):
        assert secret not in out
    assert shown["twilio"]["auth_token"] == "**********"
    bad = subprocess.run([sys.executable, "-m", "voicebot.cli", "serve", "--print-config"], env={**env, "VOICEBOT_INAPP__DEMO_TOKENS": "nah"},
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "inapp.demo_tokens" in bad.stderr and "Traceback" not in bad.stderr
