"""``--asr oracle``: the scenario's text instead of recognition, to isolate the rest of the
pipeline. An oracle, never presented as recognition: reports say ``asr: oracle`` and give
no WER.

The pipeline calls :meth:`transcribe` with the utterance that ends at the newest caller
audio it has seen (``CallState.audio_ms``), so the oracle answers with the text of the
scripted turn whose speech that audio covers. When the pipeline split one scripted turn (a caller pausing inside an order
number), each piece gets the share of the words that its audio covers.
"""

from __future__ import annotations

import numpy as np

from voicebot.asr.processor import Transcriber
from voicebot.asr.whisper import AsrResult
from benchmarks.harness.line import CallerScript

EDGE_MS = 300  # a piece starting/ending this close to the turn's edge takes the words to that edge


def word_share(text: str, onset_ms: float, end_ms: float, a: float, b: float) -> str:
    """The words of ``text`` spoken in [a, b] of a turn spoken over [onset_ms, end_ms], in proportion."""
    tokens = text.split()
    if len(tokens) <= 1 or end_ms <= onset_ms:
        return text
    span = end_ms - onset_ms
    fa = 0.0 if a <= onset_ms + EDGE_MS else min(1.0, (a - onset_ms) / span)
    fb = 1.0 if b >= end_ms - EDGE_MS else max(0.0, (b - onset_ms) / span)
    n = len(tokens)
    return " ".join(tokens[int(round(fa * n)) : int(round(fb * n))])


class ScenarioOracle(Transcriber):
    dev = False

    def __init__(self, script: CallerScript, language: str) -> None:
        self.script = script
        self.language = language
        self.state = None  # the call's CallState, bound by the line before the call starts
        self.calls: list[tuple[float, float, int | None]] = []  # (start_ms, end_ms, scripted turn) per call

    def bind(self, state) -> None:
        self.state = state

    def text_for(self, start_ms: float, end_ms: float) -> tuple[str, int | None]:
        """The scripted words spoken in [start_ms, end_ms] of caller audio (several scripted
        turns when the pipeline heard them as one), and the first scripted turn's index."""
        parts, first = [], None
        for pt in self.script.turns:
            if pt.start_ms is None or not pt.turn.text:
                continue
            if min(end_ms, pt.speech_end_ms) - max(start_ms, pt.onset_ms) > 0:
                parts.append(word_share(pt.turn.text, pt.onset_ms, pt.speech_end_ms, start_ms, end_ms))
                first = pt.index if first is None else first
        return " ".join(p for p in parts if p), first

    def transcribe(self, pcm16k: np.ndarray, language: str | None, prompt: str | None = None) -> AsrResult:
        end_ms = self.state.audio_ms if self.state is not None else 0.0
        start_ms = end_ms - len(pcm16k) / 16
        text, idx = self.text_for(start_ms, end_ms)
        self.calls.append((start_ms, end_ms, idx))
        lang = language or self.language
        return AsrResult(text=text, language=lang, language_prob=1.0, audio_s=len(pcm16k) / 16000, compute_s=0.0)
