"""pipecat's bundled smart-turn v3 model (offline ONNX in the pipecat package) as a plain call.

pipecat's ``LocalSmartTurnAnalyzerV3`` is built for its own turn strategies (wall-clock
timeouts, its own audio buffer); here only its model call is used, on the utterance the
turn taker already holds, in a worker thread. ``predict`` is synchronous: run it in an executor.
"""

from __future__ import annotations

import threading

import numpy as np


class SmartTurn:
    """Loads the model on first use (in the calling worker thread), then ~10-30 ms per call on CPU."""

    def __init__(self, model_path: str | None = None, cpu_count: int = 1) -> None:
        self.model_path = model_path
        self.cpu_count = cpu_count
        self._analyzer = None
        self._lock = threading.Lock()

    def _load(self):
        from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

        analyzer = LocalSmartTurnAnalyzerV3(smart_turn_model_path=self.model_path, cpu_count=self.cpu_count, sample_rate=16000)
        analyzer.set_sample_rate(16000)
        return analyzer

    def predict(self, pcm16k: np.ndarray) -> float:
        """Probability (0..1) that the speech in ``pcm16k`` (int16 or float32, 16 kHz) is a finished turn."""
        audio = pcm16k.astype(np.float32) / 32768.0 if pcm16k.dtype == np.int16 else pcm16k.astype(np.float32)
        with self._lock:  # one ONNX session, one caller at a time
            if self._analyzer is None:
                self._analyzer = self._load()
            return float(self._analyzer._predict_endpoint(audio)["probability"])
