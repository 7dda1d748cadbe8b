"""faster-whisper, loaded once per process and shared by every call.

``transcribe`` is synchronous and meant for a worker thread: faster-whisper returns a lazy
generator and the decoding happens while it is iterated, so it is consumed *here*, inside
the worker, never on the event loop (pipecat's ``WhisperSTTService`` iterates it on the loop
and decodes with beam 5 and no token cap: seconds of garbage on noise).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from voicebot.audio.pcm import rms_dbfs
from voicebot.logs import get_logger
from voicebot.models.registry import fix_command

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
    # cost dominates a short turn (whisper-base int8, 2 cores: ~1 s for 30 s, ~0.1 s for 3 s).
    # 30 = Whisper's own behaviour; a shorter value encodes audio up to ``window_s - 0.5`` s in
    # that window (whisper.cpp's ``audio_ctx``); 0 = fitted to each utterance: its length plus
    # ``fit_pad_s``, at least ``fit_min_s``. A window shorter than 30 s changes what the model
    # sees; benchmarks/asr/window_wer.py measures the accuracy it costs per language.
    window_s: float = 30.0
    fit_pad_s: float = 1.0
    fit_min_s: float = 0.0
    # Languages the call may be in (the shop's): detection picks among these, not all 99.
    # Empty = any language Whisper knows.
    languages: tuple[str, ...] = ()


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
                f"cannot load the ASR model at {model_path}: {exc}. Check the folder (model.bin, tokenizer.json, config.json) "
                f"and reinstall it: `{fix_command(Path(model_path).name)}` (`voicebot models verify` checks every model)."
            ) from exc
        self._lock = threading.Lock() if num_workers <= 1 else None

    def transcribe(self, pcm16k: np.ndarray, language: str | None = None, prompt: str | None = None) -> AsrResult:
        """Transcribe one utterance (int16 or float32 mono, 16 kHz). Runs in a worker thread.

        ``language`` is the call's language (kept unless another is detected confidently);
        ``prompt`` primes the decoder with text in the shape of the expected answer (Whisper's
        ``initial_prompt``), e.g. after the bot asked for an order number.
        """
        t0 = time.perf_counter()
        audio_s = len(pcm16k) / 16000
        if len(pcm16k) == 0 or rms_dbfs(pcm16k if pcm16k.dtype == np.int16 else (pcm16k * 32767).astype(np.int16)) < self.options.min_level_dbfs:
            return AsrResult("", language or "", 0.0, audio_s, time.perf_counter() - t0, dropped="silence")
        audio = pcm16k.astype(np.float32) / 32768.0 if pcm16k.dtype == np.int16 else pcm16k
        if self._lock:
            with self._lock:
                result = self._decode(audio, language, audio_s, prompt)
        else:
            result = self._decode(audio, language, audio_s, prompt)
        return AsrResult(**{**result.__dict__, "compute_s": time.perf_counter() - t0})

    def window_for(self, seconds: float) -> float:
        """The encoder window (seconds) that ``seconds`` of audio are decoded in (30 = Whisper's own)."""
        o = self.options
        if o.window_s == 0:
            fitted = max(o.fit_min_s, math.ceil((seconds + o.fit_pad_s) * 2) / 2)  # half-second steps
            return min(30.0, fitted)
        if o.window_s < 30.0 and seconds <= o.window_s - 0.5:
            return o.window_s
        return 30.0

    def fits_window(self, seconds: float) -> bool:
        """Whether ``seconds`` of audio are decoded in a window shorter than Whisper's 30 s."""
        return self.window_for(seconds) < 30.0

    def windowed(self, window_s: float) -> WhisperASR:
        """The same loaded model (shared, not copied) decoding with a ``window_s`` encoder window."""
        view = copy.copy(self)
        view.options = dataclasses.replace(self.options, window_s=window_s)
        return view

    def _decode(self, audio: np.ndarray, locked: str | None, audio_s: float, prompt: str | None) -> AsrResult:
        """Encode once, settle the language, decode once.

        Audio up to 30 s (every phone turn) is encoded in :meth:`window_for`'s window; the
        language is read from the same encoder output among the allowed languages; the call's
        language is kept unless another is detected with ``switch_language_prob`` on at least
        ``switch_min_audio_s`` of audio. Longer audio goes through faster-whisper's own
        segment loop in the settled language.
        """
        from faster_whisper.tokenizer import Tokenizer

        fw, o = self.model, self.options
        window = self.window_for(audio_s)
        head = audio[: int(window * 16000)]
        padded = np.zeros(int(window * 16000), dtype=np.float32)
        padded[: len(head)] = head
        encoded = fw.encode(fw.feature_extractor(padded)[:, : int(window * 100)])
        lang, prob = self._language(encoded, locked, audio_s)
        cap = max(4, min(o.max_new_tokens, int(4 + o.tokens_per_second * audio_s)))
        if audio_s > 30.0:
            segs, _ = fw.transcribe(audio, language=lang, task="transcribe", beam_size=o.beam_size, temperature=o.temperature,
                                    max_new_tokens=o.max_new_tokens, no_speech_threshold=o.no_speech_threshold,
                                    log_prob_threshold=o.log_prob_threshold, condition_on_previous_text=False,
                                    without_timestamps=True, vad_filter=False, initial_prompt=prompt)
            segs = list(segs)  # consume the lazy generator here, in the worker thread
        else:
            tokenizer = Tokenizer(fw.hf_tokenizer, fw.model.is_multilingual, task="transcribe", language=lang)
            segs = [self._generate(encoded, tokenizer, cap, prompt)]
        return self._result(segs, lang, prob, audio_s)

    def _language(self, encoded, locked: str | None, audio_s: float) -> tuple[str, float]:
        fw, o = self.model, self.options
        if not fw.model.is_multilingual:
            return "en", 1.0
        if self.dev and locked:  # a random-weight model's guess is noise: decode in the call's language
            return locked, 0.0
        probs = [(tok[2:-2], float(p)) for tok, p in fw.model.detect_language(encoded)[0]]
        allowed = [(lang, p) for lang, p in probs if not o.languages or lang in o.languages or lang == locked]
        total = sum(p for _, p in allowed) or 1.0
        lang, prob = max(allowed or probs, key=lambda lp: lp[1])
        prob = prob / total  # the probability among the languages the call may be in
        if locked and lang != locked and not (prob >= o.switch_language_prob and audio_s >= o.switch_min_audio_s):
            return locked, dict(allowed).get(locked, 0.0) / total
        return lang, prob

    def _generate(self, encoded, tokenizer, cap: int, prompt: str | None) -> SimpleNamespace:
        """One greedy/beam decode without timestamps: what faster-whisper's ``generate_with_fallback``
        does for one segment with no fallback, on the same model, tokenizer and prompt (it has no
        option for an encoder window shorter than 30 s)."""
        from faster_whisper.transcribe import get_suppressed_tokens

        fw, o = self.model, self.options
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        prompt_ids = fw.get_prompt(tokenizer, previous, without_timestamps=True)
        result = fw.model.generate(
            encoded, [prompt_ids], beam_size=o.beam_size, max_length=len(prompt_ids) + cap, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # faster-whisper's, length_penalty 1
        return SimpleNamespace(text=tokenizer.decode(tokens).strip(), no_speech_prob=result.no_speech_prob, avg_logprob=avg_logprob)

    def _result(self, segs, lang: str, prob: float, audio_s: float) -> AsrResult:
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
