"""Piper voices (VITS exported to ONNX) run on onnxruntime, in process.

A small runner of our own instead of ``piper-tts`` (GPL): load ``model.onnx`` and its
``model.onnx.json``, phonemize with espeak-ng (:mod:`voicebot.tts.phonemes`), map phonemes to
ids as Piper does (BOS, each phoneme followed by the pad id, EOS) and run the model. Any
Piper voice installed from PyPI or pulled from the hub has the same two files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from voicebot.tts.phonemes import espeak_ipa
from voicebot.tts.voice import Speech


class PiperVoice:
    dev = False

    def __init__(self, model_dir: Path, *, threads: int = 1, speed: float = 1.0) -> None:
        import onnxruntime as ort

        model_dir = Path(model_dir)
        try:
            self.config = json.loads((model_dir / "model.onnx.json").read_text())
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads  # one thread per sentence; calls run side by side in the TTS pool
            opts.inter_op_num_threads = 1
            self.session = ort.InferenceSession(str(model_dir / "model.onnx"), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RuntimeError(f"cannot load the Piper voice in {model_dir}: {exc}. Reinstall it (`voicebot models install` / `pull`).") from exc
        self.name = f"piper:{model_dir.name}"
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self.espeak_voice = self.config.get("espeak", {}).get("voice", "en-us")
        self.ids = self.config["phoneme_id_map"]
        inference = self.config.get("inference", {})
        self.scales = np.array([inference.get("noise_scale", 0.667), inference.get("length_scale", 1.0) / speed, inference.get("noise_w", 0.8)], dtype=np.float32)
        self._inputs = {i.name for i in self.session.get_inputs()}

    def phoneme_ids(self, phonemes: str) -> list[int]:
        pad, ids = self.ids["_"][0], [self.ids["^"][0], self.ids["_"][0]]
        for ch in phonemes:
            if ch in self.ids:  # Piper skips phonemes its voice has no id for
                ids += [*self.ids[ch], pad]
        return ids + self.ids["$"]

    def synthesize(self, text: str) -> Speech:
        phonemes = espeak_ipa(text, self.espeak_voice)
        if not phonemes:
            return Speech(np.zeros(0, dtype=np.int16), self.sample_rate)
        ids = np.array([self.phoneme_ids(phonemes)], dtype=np.int64)
        feed = {"input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64), "scales": self.scales}
        if "sid" in self._inputs:
            feed["sid"] = np.array([0], dtype=np.int64)
        audio = self.session.run(None, feed)[0].squeeze()
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 1.0:  # Piper's own runner normalizes loud output the same way
            audio = audio / peak
        return Speech((np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16), self.sample_rate)
