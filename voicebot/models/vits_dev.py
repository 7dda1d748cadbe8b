"""Build a random-weight Coqui VITS voice of the real architecture, offline.

Why: the hub's VITS voices cannot be downloaded here, but the in-process Coqui path (model
loading, phonemizer, synthesis cost, streaming) must run for real. The output is noise-like
audio of the right length and cost; the catalog never uses a dev voice unless asked to
(``voices/catalog.yaml`` prefers espeak-ng), and its metadata says ``"dev": true``.
"""

from __future__ import annotations

import json
from pathlib import Path


def build_vits_dev(out_dir: Path, phoneme_language: str = "en-us", seed: int = 0) -> Path:
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(seed)
    cfg = VitsConfig(
        audio=BaseAudioConfig(sample_rate=22050),
        model_args=VitsArgs(init_discriminator=False),  # inference only
        use_phonemes=True,
        phonemizer="espeak",
        phoneme_language=phoneme_language,
        text_cleaner="phoneme_cleaners",
    )
    model = Vits(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    torch.save({"model": state}, out_dir / "model.pth")
    cfg.save_json(str(out_dir / "config.json"))
    meta = {
        "name": out_dir.name, "kind": "tts", "engine": "coqui", "dev": True,
        "architecture": "vits", "sample_rate": 22050, "phoneme_language": phoneme_language,
        "note": "RANDOM WEIGHTS: measures synthesis cost, its audio is not speech",
    }
    (out_dir / "voicebot-model.json").write_text(json.dumps(meta, indent=2))
    return out_dir
