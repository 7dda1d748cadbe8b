"""faster-whisper, loaded once per process and shared by every call.

``transcribe`` is synchronous and meant for a worker thread: faster-whisper returns a lazy
generator and the decoding happens while it is iterated, so it is consumed *here*, inside
the worker, never on the event loop (pipecat's ``WhisperSTTService`` iterates it on the loop
and decodes with beam 5 and no token cap: seconds of garbage on noise).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from voicebot.audio.pcm import rms_dbfs
from voicebot.logs import get_logger

log = get_logger(__name__)

# Phrases Whisper is known to produce from silence or noise (its training subtitles).
HALLUCINATIONS = (
    "thank you for watching", "thanks for watching", "subtitles by", "please subscribe",
    "ご視聴ありがとうございました", "字幕", "sous-titres", "untertitel", "amara.org", "продолжение следует",
)


@dataclass(frozen=True)
class WhisperOptions:
    """Decoding limits. Defaults are for phone turns (a few seconds, one speaker)."""

    beam_size: int = 1  # greedy: beam 5 costs ~3x for little gain on short turns
    max_new_tokens: int = 64  # hard cap: a 10 s phone turn is < 60 tokens; random/noisy input never runs away
    # Speech carries at most ~3-4 tokens a second (fast talkers, CJK); the cap scales with the
    # utterance so noise or a random-weight dev model cannot decode far past what speech could say.
    tokens_per_second: float = 6.0
    temperature: float = 0.0  # no temperature fallback (each fallback is a full re-decode)
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    min_level_dbfs: float = -50.0  # quieter utterances are line noise, not speech: not transcribed
    switch_language_prob: float = 0.8  # a call's language changes only on a confident detection
    switch_min_audio_s: float = 1.0  # ... of at least this much audio
    # The encoder's window. Whisper encodes every input padded to 30 s, and on a CPU that fixed
    # cost dominates a short turn (whisper-base int8, 2 cores: ~700 ms for 30 s, ~100 ms for
    # 10 s). Audio shorter than ``window_s - 0.5`` is encoded in a ``window_s`` window instead
    # (whisper.cpp's ``audio_ctx``): 30 = Whisper's own behaviour and accuracy. A shorter window
    # changes what a real model sees (fewer positions than it was trained on) and its accuracy
    # has not been measured here (no real weights offline): use it where speed matters more
    # than the exact words, e.g. barge-in confirmation (``asr.partial_window_s``).
    window_s: float = 30.0


@dataclass(frozen=True)
class AsrResult:
    text: str
    language: str
    language_prob: float
    audio_s: float
    compute_s: float
    confidence: float | None = None
    dropped: str = ""  # why a transcript was suppressed ("silence", "no_speech", "hallucination")
    segments: list[dict] = field(default_factory=list)


class WhisperASR:
    def __init__(self, model_path: Path, *, dev: bool, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 2, num_workers: int = 1, options: WhisperOptions | None = None) -> None:
        from faster_whisper import WhisperModel

        self.path = Path(model_path)
        self.dev = dev
        self.options = options or WhisperOptions()
        try:
            self.model = WhisperModel(str(model_path), device=device, compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers)
        except Exception as exc:
            raise RuntimeError(
                f"cannot load the ASR model at {model_path}: {exc}. Check the folder (model.bin, tokenizer.json, "
                "config.json), re-pull it with `voicebot models pull`, or build dev models with `voicebot models build-dev`."
            ) from exc
        self._lock = threading.Lock() if num_workers <= 1 else None

    def transcribe(self, pcm16k: np.ndarray, language: str | None = None) -> AsrResult:
        """Transcribe one utterance (int16 or float32 mono, 16 kHz). Runs in a worker thread."""
        t0 = time.perf_counter()
        audio_s = len(pcm16k) / 16000
        if len(pcm16k) == 0 or rms_dbfs(pcm16k if pcm16k.dtype == np.int16 else (pcm16k * 32767).astype(np.int16)) < self.options.min_level_dbfs:
            return AsrResult("", language or "", 0.0, audio_s, time.perf_counter() - t0, dropped="silence")
        audio = pcm16k.astype(np.float32) / 32768.0 if pcm16k.dtype == np.int16 else pcm16k
        if self._lock:
            with self._lock:
                result = self._decode(audio, language, audio_s)
        else:
            result = self._decode(audio, language, audio_s)
        return AsrResult(**{**result.__dict__, "compute_s": time.perf_counter() - t0})

    def fits_window(self, seconds: float) -> bool:
        """Whether ``seconds`` of audio are decoded in this view's short encoder window (else in Whisper's 30 s)."""
        return self.options.window_s < 30.0 and seconds <= self.options.window_s - 0.5

    def windowed(self, window_s: float) -> WhisperASR:
        """The same loaded model (shared, not copied) decoding with a ``window_s`` encoder window."""
        view = copy.copy(self)
        view.options = dataclasses.replace(self.options, window_s=window_s)
        return view

    def _run(self, audio: np.ndarray, language: str | None):
        o = self.options
        cap = max(4, min(o.max_new_tokens, int(4 + o.tokens_per_second * len(audio) / 16000)))
        if self.fits_window(len(audio) / 16000):
            return self._run_window(audio, language, cap)
        segments, info = self.model.transcribe(
            audio, language=language, task="transcribe", beam_size=o.beam_size, temperature=o.temperature,
            max_new_tokens=cap, no_speech_threshold=o.no_speech_threshold,
            log_prob_threshold=o.log_prob_threshold, condition_on_previous_text=False,
            without_timestamps=True, vad_filter=False,
        )
        return list(segments), info  # consume the lazy generator here, in the worker thread

    def _run_window(self, audio: np.ndarray, language: str | None, cap: int):
        """One greedy/beam decode of ``audio`` in a ``window_s`` encoder window, no timestamps.

        faster-whisper has no option for this (it pads every segment to 30 s), so this does
        what its ``generate_with_fallback`` does for one segment without fallbacks, on the same
        CTranslate2 model, tokenizer and prompt. Returns (segments, info) shaped like its own.
        """
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        fw, o = self.model, self.options
        window = np.zeros(int(o.window_s * 16000), dtype=np.float32)
        window[: len(audio)] = audio
        features = fw.feature_extractor(window)[:, : int(o.window_s * 100)]
        encoded = fw.encode(features)
        prob = 1.0
        if language is None:
            token, prob = fw.model.detect_language(encoded)[0][0]
            language = token[2:-2]
        tokenizer = Tokenizer(fw.hf_tokenizer, fw.model.is_multilingual, task="transcribe", language=language)
        prompt = fw.get_prompt(tokenizer, [], without_timestamps=True)
        result = fw.model.generate(
            encoded, [prompt], beam_size=o.beam_size, max_length=len(prompt) + cap, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # faster-whisper's, length_penalty 1
        segment = SimpleNamespace(text=tokenizer.decode(tokens).strip(), no_speech_prob=result.no_speech_prob, avg_logprob=avg_logprob)
        return [segment], SimpleNamespace(language=language, language_probability=float(prob))

    def _decode(self, audio: np.ndarray, locked: str | None, audio_s: float) -> AsrResult:
        if self.dev and locked:
            # A random-weight model's language guess is noise, and would force a second pass in
            # the locked language on every turn; a real model agrees with the call's language on
            # nearly every turn and decodes once. Decode once, as a real model would cost.
            segs, info = self._run(audio, locked)
        else:
            segs, info = self._run(audio, None)
        lang, prob = info.language, float(info.language_probability)
        if locked and lang != locked:
            confident = prob >= self.options.switch_language_prob and audio_s >= self.options.switch_min_audio_s
            if not confident:  # keep the call's language; decode again in it
                segs, info = self._run(audio, locked)
                lang = locked
        kept, dropped = [], ""
        for s in segs:
            if s.no_speech_prob > self.options.no_speech_threshold and s.avg_logprob < self.options.log_prob_threshold:
                dropped = "no_speech"
                continue
            if any(h in s.text.lower() for h in HALLUCINATIONS):
                dropped = "hallucination"
                continue
            kept.append(s)
        text = " ".join(s.text.strip() for s in kept).strip()
        conf = float(np.exp(np.mean([s.avg_logprob for s in kept]))) if kept else None
        return AsrResult(text=text, language=lang, language_prob=prob, audio_s=audio_s, compute_s=0.0, confidence=conf,
                         dropped="" if text else (dropped or "empty"),
                         segments=[{"text": s.text, "no_speech_prob": s.no_speech_prob, "avg_logprob": s.avg_logprob} for s in kept])
