"""webrtcvad behind pipecat's ``VADAnalyzer`` interface.

pipecat ships Silero and a webrtcvad wrapper tied to the Daily SDK (daily-python); this is
the plain one: ``num_frames_required`` is one webrtcvad frame (10, 20 or 30 ms) and the
confidence is 1.0 or 0.0, so pipecat's start/stop counting (``VADParams.start_secs`` /
``stop_secs``) does the smoothing. webrtcvad accepts 8, 16, 32 and 48 kHz.

CPU: ~2 us a frame, so the analyzer also runs inline (``analyze_sync``) where a thread hop
would cost more than the work (pipecat's default runs every chunk in an executor thread).
"""

from __future__ import annotations

from dataclasses import dataclass

import webrtcvad
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

SUPPORTED_RATES = (8000, 16000, 32000, 48000)


@dataclass(frozen=True)
class WebRTCVADOptions:
    """aggressiveness: 0 (least) .. 3 (most aggressive at rejecting non-speech).
    frame_ms: 10, 20 or 30 (the webrtcvad frame; decisions are made once per frame)."""

    aggressiveness: int = 2
    frame_ms: int = 10

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"webrtcvad aggressiveness must be 0..3, got {self.aggressiveness}")
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"webrtcvad frame_ms must be 10, 20 or 30, got {self.frame_ms}")


class WebRTCVADAnalyzer(VADAnalyzer):
    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None, options: WebRTCVADOptions | None = None):
        # webrtcvad gives 0/1 and needs no volume gate: pipecat's default min_volume (0.6) would
        # reject quiet telephone audio, so the default here is 0.
        super().__init__(sample_rate=sample_rate, params=params or VADParams(confidence=0.5, min_volume=0.0))
        self.options = options or WebRTCVADOptions()
        self._vad = webrtcvad.Vad(self.options.aggressiveness)

    def set_sample_rate(self, sample_rate: int) -> None:
        rate = self._init_sample_rate or sample_rate
        if rate not in SUPPORTED_RATES:
            raise ValueError(f"webrtcvad supports {SUPPORTED_RATES} Hz, not {rate}; resample the input")
        super().set_sample_rate(sample_rate)

    def num_frames_required(self) -> int:
        return int(self.sample_rate * self.options.frame_ms / 1000)

    def voice_confidence(self, buffer: bytes) -> float:
        return 1.0 if self._vad.is_speech(buffer, self.sample_rate) else 0.0

    def analyze_sync(self, buffer: bytes) -> VADState:
        """Run the state machine inline (no executor hop); same result as ``analyze_audio``."""
        return self._run_analyzer(buffer)

    async def analyze_audio(self, buffer: bytes) -> VADState:
        # 2 us of work: a thread hop per 20 ms chunk would cost more than the analysis and make
        # the decision's timing depend on the thread pool. Run it inline.
        return self._run_analyzer(buffer)
