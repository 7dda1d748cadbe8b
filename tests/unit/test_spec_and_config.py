import pytest

from voicebot.config import ROOT, load_settings
from voicebot.pipeline.spec import load_spec


def test_default_pipelines_load():
    for name in ("phone.yaml", "minimal.yaml"):
        spec = load_spec(ROOT / "pipelines" / name)
        assert spec.turns.barge_in.confirm_ms > 0 and spec.vad.engine == "webrtcvad"


def test_unknown_keys_are_refused_with_the_known_ones_named(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("vad: {engine: webrtcvad, agressiveness: 2}\n")
    with pytest.raises(ValueError, match="agressiveness.*known"):
        load_spec(p)
    p.write_text("turns: {barge_in: {confirm: 3}}\n")
    with pytest.raises(ValueError, match="confirm"):
        load_spec(p)


def test_settings_layering(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("server: {port: 9000}\ntwilio: {verify_signatures: true}\n")
    s = load_settings(cfg, env={"VOICEBOT_TWILIO__VERIFY_SIGNATURES": "false", "VOICEBOT_SIP__ALLOW_FROM": "127.0.0.1,10.0.0.0/8"})
    assert s.server.port == 9000
    assert s.twilio.verify_signatures is False
    assert s.sip.allow_from == ("127.0.0.1", "10.0.0.0/8")
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings(None, env={"VOICEBOT_SERVER__PROT": "1"})
