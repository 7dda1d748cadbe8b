"""Answering-machine detection on the first seconds of an answered call (pure: audio in, verdicts out).

Why our own: pipecat's voicemail detector asks an LLM, Twilio's ``MachineDetection`` exists only
on Twilio, and a SIP call has nothing. The rules follow Asterisk's ``AMD()`` (its parameters
are the defaults here, tuned on a separate set, see voicebot/outbound/amd_eval.py): a person
says a short "hello?" and waits; a machine talks on (a long greeting, many words), or says
nothing for seconds; a beep ends a greeting. Words from the ASR, when it has any, confirm a
machine ("leave a message after the tone") even when the audio alone looked like a person.

Everything runs in *audio time* (samples fed), so the verdicts are the same on a virtual clock,
in a replay and on a live line, and cost a few microseconds per 20 ms frame (no model).

After a "machine" verdict the detector keeps listening and says when the message may start:
right after the beep ends, else once the greeting has been silent for a while, else after a cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import model_validator

from voicebot.config_types import Flag, Section

import numpy as np

from .amd_words import machine_phrase

FRAME_MS = 20


class AmdOptions(Section):
    """Asterisk AMD's parameters (same names, in ms), plus the beep and the message timing.

    Defaults: Asterisk's, except where the tuning set (voicebot/outbound/amd_eval.py, never the
    evaluation set) chose otherwise: min_word_ms 80 (100), max_words 6 (2), silence -40 dBFS
    (-42), and the beep test (60 ms window, 90 % of the energy in one peak, 160 ms held).

    ``on_initial_silence``/``on_not_sure``: what nobody speaking for ``initial_silence_ms``, or
    no verdict by ``total_analysis_ms``, means. Asterisk says MACHINE for the first; here both
    default to "human": the bot then introduces itself (which discloses nothing), and a machine
    records that; the other way round a silent person would hear a voicemail and be hung up on.
    """

    initial_silence_ms: float = 2500.0  # nobody speaks this long after the answer
    greeting_ms: float = 1500.0  # voiced time before the first long pause: longer is a machine
    after_greeting_silence_ms: float = 800.0  # the greeting was short and then this silent: a person
    total_analysis_ms: float = 5000.0  # no verdict by then: not sure
    min_word_ms: float = 80.0  # a voiced run shorter than this is noise, not a word
    between_words_silence_ms: float = 50.0  # silence that separates two words
    max_words: int = 6  # this many words before a pause: a machine reading its greeting
    silence_threshold_dbfs: float = -40.0  # quieter frames are silence (Asterisk: 256 of 32768, -42 dBFS)
    on_initial_silence: Literal["human", "machine"] = "human"
    on_not_sure: Literal["human", "machine"] = "human"
    # The beep: a pure tone (most of a frame's energy in one narrow peak) held this long.
    beep_min_ms: float = 160.0
    beep_tonality: float = 0.9
    beep_min_dbfs: float = -40.0
    beep_band_hz: tuple[float, float] = (300.0, 3000.0)
    beep_max_drift_hz: float = 40.0
    use_words: Flag = True
    # When the voicemail message starts after a "machine" verdict.
    message_after_silence_ms: float = 1500.0  # the greeting has been quiet this long (no beep heard)
    message_after_beep_ms: float = 200.0  # the beep ended this long ago
    message_max_wait_ms: float = 30000.0  # never wait longer than this after the verdict

    @model_validator(mode="after")
    def _check(self) -> AmdOptions:
        if self.max_words < 1 or self.greeting_ms <= 0 or self.total_analysis_ms <= 0:
            raise ValueError("amd.max_words, amd.greeting_ms and amd.total_analysis_ms must be positive")
        return self



@dataclass(frozen=True)
class Verdict:
    """``label`` human | machine; ``reason`` names the rule (Asterisk's AMDCAUSE, lower case)."""

    label: str
    reason: str  # initial_silence | long_greeting | max_words | after_greeting_silence | beep | words | not_sure
    at_ms: float  # audio time of the verdict
    words: int = 0
    voiced_ms: float = 0.0
    phrase: str = ""  # the machine phrase heard, for reason "words"

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "reason": self.reason, "at_ms": round(self.at_ms, 1), "words": self.words,
                "voiced_ms": round(self.voiced_ms, 1), "phrase": self.phrase}


@dataclass
class Beep:
    start_ms: float
    freq_hz: float
    end_ms: float | None = None


@dataclass
class AmdState:
    """What the detector has seen so far (read by tests and logged with the verdict)."""

    heard_ms: float = 0.0
    first_voice_ms: float | None = None  # start of the first word (the greeting begins)
    voiced_ms: float = 0.0  # voiced time since the greeting began
    words: int = 0
    in_word: bool = False
    run_ms: float = 0.0  # the current voiced run
    silence_ms: float = 0.0  # the current silence
    beeps: list[Beep] = field(default_factory=list)


class AnsweringMachineDetector:
    """Feed caller audio (PCM16 mono, any chunking) with :meth:`feed`; read :attr:`verdict` and
    :attr:`ready_for_message`. :meth:`hear_words` adds ASR text when the pipeline has some."""

    def __init__(self, options: AmdOptions | None = None, sample_rate: int = 8000) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"AMD takes 8 or 16 kHz audio, not {sample_rate} Hz")
        self.options = options or AmdOptions()
        self.rate = sample_rate
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        self._buf = b""
        # The tone test looks at the last 60 ms: a 20 ms window cannot tell one harmonic of a
        # low voice (harmonics 100 Hz apart) from a pure tone; 60 ms separates them.
        n = 3 * sample_rate * FRAME_MS // 1000
        self._window = np.hanning(n)
        self._nfft = 1 << (4 * n - 1).bit_length()
        self._recent: list[np.ndarray] = []
        freqs = np.fft.rfftfreq(self._nfft, 1 / sample_rate)
        lo, hi = self.options.beep_band_hz
        self._band = (freqs >= lo) & (freqs <= hi)
        self._freqs = freqs
        self._half_lobe = int(np.ceil(2 * self._nfft / n))  # the Hann main lobe, in FFT bins
        self._tone_run: list[float] = []  # peak frequencies of consecutive tonal frames
        self.state = AmdState()
        self.verdict: Verdict | None = None
        self.ready_for_message: float | None = None  # audio ms the message may start (after a machine verdict)
        self.ready_reason = ""

    # -- input ---------------------------------------------------------------------------------
    def feed(self, pcm: bytes) -> None:
        data = self._buf + pcm
        n = len(data) // self._frame_bytes
        for i in range(n):
            self._frame(np.frombuffer(data[i * self._frame_bytes : (i + 1) * self._frame_bytes], dtype="<i2"))
        self._buf = data[n * self._frame_bytes :]

    def hear_words(self, text: str, language: str | None = None) -> Verdict | None:
        """ASR text of the callee's first seconds: a machine phrase decides "machine" now, and
        overrides an earlier "human" verdict (returned so the caller can switch to a message)."""
        if not self.options.use_words or not text:
            return None
        phrase = machine_phrase(text, language)
        if not phrase or (self.verdict is not None and self.verdict.label == "machine"):
            return None
        self.verdict = Verdict("machine", "words", self.state.heard_ms, self.state.words, self.state.voiced_ms, phrase)
        return self.verdict

    # -- one 20 ms frame -------------------------------------------------------------------------
    def _frame(self, x: np.ndarray) -> None:
        level = _dbfs(x)
        self.step(level, self._tone(x, level))

    def step(self, level: float, tone: float | None) -> None:
        """One 20 ms frame given its level (dBFS) and tone frequency (None: not a pure tone).
        The evaluation computes the features once per recording and replays them per setting."""
        o, st = self.options, self.state
        st.heard_ms += FRAME_MS
        now = st.heard_ms
        if tone is not None:
            self._track_beep(tone, now)
        elif self._tone_run:
            self._end_tone(now)
        if level > o.silence_threshold_dbfs and tone is None:  # voice (a tone is not a word)
            st.run_ms += FRAME_MS
            st.silence_ms = 0.0
            if st.first_voice_ms is not None:
                st.voiced_ms += FRAME_MS
            if st.run_ms >= o.min_word_ms and not st.in_word:
                st.in_word = True
                st.words += 1
                if st.first_voice_ms is None:
                    st.first_voice_ms = now - st.run_ms
                    st.voiced_ms = st.run_ms
        else:
            st.silence_ms += FRAME_MS
            if st.silence_ms >= o.between_words_silence_ms:
                st.in_word = False
                st.run_ms = 0.0
        if self.verdict is None:
            self._decide(now)
        elif self.verdict.label == "machine" and self.ready_for_message is None:
            self._message_timing(now)

    def _decide(self, now: float) -> None:
        o, st = self.options, self.state
        if st.beeps:
            return self._set("machine", "beep", now)
        if st.first_voice_ms is None:
            if st.silence_ms >= o.initial_silence_ms:
                return self._set(o.on_initial_silence, "initial_silence", now)
        elif st.words >= o.max_words:
            return self._set("machine", "max_words", now)
        elif st.voiced_ms >= o.greeting_ms:
            return self._set("machine", "long_greeting", now)
        elif st.silence_ms >= o.after_greeting_silence_ms:
            return self._set("human", "after_greeting_silence", now)
        if now >= o.total_analysis_ms:
            self._set(o.on_not_sure, "not_sure", now)

    def _set(self, label: str, reason: str, now: float) -> None:
        st = self.state
        self.verdict = Verdict(label, reason, now, st.words, st.voiced_ms)
        if label == "machine":
            self._message_timing(now)

    def _message_timing(self, now: float) -> None:
        """After "machine": the message may start once a beep has ended, or the greeting went quiet."""
        o, st = self.options, self.state
        done = [b for b in st.beeps if b.end_ms is not None]
        if done and now - done[-1].end_ms >= o.message_after_beep_ms:  # type: ignore[operator]
            self.ready_for_message, self.ready_reason = now, "beep"
        elif st.silence_ms >= o.message_after_silence_ms and not self._tone_run:
            self.ready_for_message, self.ready_reason = now, "silence"
        elif self.verdict is not None and now - self.verdict.at_ms >= o.message_max_wait_ms:
            self.ready_for_message, self.ready_reason = now, "max_wait"

    def features(self, pcm: bytes) -> list[tuple[float, float | None]]:
        """(level, tone) of every whole 20 ms frame of ``pcm``, without deciding anything."""
        x = np.frombuffer(pcm[: len(pcm) // self._frame_bytes * self._frame_bytes], dtype="<i2")
        out = []
        for frame in x.reshape(-1, self._frame_bytes // 2):
            level = _dbfs(frame)
            out.append((level, self._tone(frame, level)))
        return out

    def _tone(self, x: np.ndarray, level: float) -> float | None:
        """The frequency of a pure tone filling the last 60 ms, else None."""
        o = self.options
        self._recent = [*self._recent[-2:], x]
        if level < o.beep_min_dbfs or len(self._recent) < 3:
            return None
        spec = np.abs(np.fft.rfft(np.concatenate(self._recent) * self._window, self._nfft)) ** 2
        total = float(spec.sum())
        if total <= 0:
            return None
        peak = int(np.argmax(np.where(self._band, spec, 0.0)))
        lobe = float(spec[max(0, peak - self._half_lobe) : peak + self._half_lobe + 1].sum())
        return float(self._freqs[peak]) if lobe / total >= o.beep_tonality else None

    def _track_beep(self, freq: float, now: float) -> None:
        o = self.options
        if self._tone_run and abs(freq - self._tone_run[0]) > o.beep_max_drift_hz:
            self._end_tone(now - FRAME_MS)
        self._tone_run.append(freq)
        held = len(self._tone_run) * FRAME_MS
        beeps = self.state.beeps
        if held >= o.beep_min_ms and not (beeps and beeps[-1].end_ms is None):
            beeps.append(Beep(now - held, float(np.median(self._tone_run))))

    def _end_tone(self, now: float) -> None:
        beeps = self.state.beeps
        if beeps and beeps[-1].end_ms is None:
            beeps[-1].end_ms = now
        self._tone_run = []


def _dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1e-3) / 32768)
