"""espeak-ng, the always-available voice (100+ languages, offline, ~30 ms a sentence).

Runs the ``espeak-ng`` binary (Debian package ``espeak-ng``) once per sentence and reads the
WAV it writes to stdout.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Callable

import numpy as np

from voicebot.tts.voice import Speech


class EspeakVoice:
    dev = False

    def __init__(self, voice: str, rate: int = 160, binary: str = "espeak-ng", reader: Callable[[str], str] | None = None) -> None:
        path = shutil.which(binary)
        if path is None:
            raise RuntimeError("espeak-ng is not installed: run `apt-get install -y espeak-ng` (scripts/setup.sh does it)")
        self.binary = path
        self.voice = voice
        self.rate = rate
        self.name = f"espeak-ng:{voice}"
        self.reader = reader  # text -> what this voice reads correctly (kana, pinyin); see voicebot.tts.readers

    def synthesize(self, text: str) -> Speech:
        text = self.reader(text.strip()) if self.reader and text.strip() else text.strip()
        if not text:
            return Speech(np.zeros(0, dtype=np.int16), 22050)
        res = subprocess.run([self.binary, "-v", self.voice, "-s", str(self.rate), "--stdout", "--", text], capture_output=True, timeout=30)
        if res.returncode != 0 or not res.stdout:
            raise RuntimeError(f"espeak-ng failed for voice {self.voice}: {res.stderr.decode(errors='replace')[-300:]}")
        with wave.open(io.BytesIO(res.stdout)) as w:
            rate = w.getframerate()
            frames = w.readframes(w.getnframes())
        return Speech(np.frombuffer(frames, dtype="<i2").copy(), rate)
