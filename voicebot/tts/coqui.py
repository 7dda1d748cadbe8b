"""An in-process Coqui TTS voice (VITS and other single-speaker models), loaded once.

pipecat has no in-process Coqui service (its XTTS service is an HTTP client), hence this.
The model is shared by all calls; Coqui models are not thread-safe, so synthesis holds a
lock (one sentence at a time per model; a second model instance scales it out).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from voicebot.audio.pcm import to_int16
from voicebot.tts.voice import Speech


class CoquiVoice:
    def __init__(self, model_dir: Path, *, dev: bool, name: str | None = None) -> None:
        from TTS.api import TTS

        try:
            self._tts = TTS(model_path=str(model_dir / "model.pth"), config_path=str(model_dir / "config.json"), progress_bar=False)
        except Exception as exc:
            raise RuntimeError(f"cannot load the Coqui voice at {model_dir}: {exc}. Re-pull it or remove it from voices/catalog.yaml.") from exc
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)
        self.dev = dev
        self.name = name or f"coqui:{model_dir.name}"
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> Speech:
        text = text.strip()
        if not text:
            return Speech(np.zeros(0, dtype=np.int16), self.sample_rate)
        with self._lock:
            wav = self._tts.tts(text)
        return Speech(to_int16(np.asarray(wav, dtype=np.float32)), self.sample_rate)
