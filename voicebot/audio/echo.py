"""Echo control on the caller channel: the bot must not interrupt itself.

On speakerphones and hybrid lines the bot's own voice comes back 40-200 ms later, 10-45 dB
down. Three parts, before the VAD:

1. :class:`EchoCanceller` — an acoustic echo canceller with the bot's played audio as the
   far-end reference: SpeexDSP's MDF canceller, from the ``speexdsp`` binding (needs
   libspeexdsp-dev + swig to build) or ``pyaec`` (a prebuilt wheel around the same SpeexDSP
   code, with its preprocessor's residual-echo suppression). Both were installed and
   measured here; "none" leaves only the gate.
2. A level floor: caller audio below ``floor_dbfs`` is line noise.
3. :class:`EchoGate` — knows what the bot played and when: a 10 ms frame whose residual is
   below the loudest bot audio of the last ``max_delay_ms`` times the learned echo-path gain
   (+ margin) is explained by the bot's own voice and is muted for the VAD. Caller speech
   on top of the echo (double talk) stands above that prediction and passes.
4. :class:`DelayEstimator` (``align_delay``) — the line's bulk delay, by GCC-PHAT between the
   caller channel and what the bot played. Once it is known (a clear, repeated peak), a second,
   short canceller (``aligned_tail_ms``) runs on the reference shifted by that delay — it
   converges sooner (SpeexDSP, 200 ms / 10 dB echo, 1.0-1.5 s into the bot's first turn: 5-7 dB
   ERLE aligned vs 1-3 dB with the 256 ms tail alone; 11-12 dB vs ~7 dB by 1.5-2 s) — and
   whichever canceller has left less residual lately feeds the VAD; the gate then predicts the
   echo from the bot audio of the aligned window only (``delay - 20 ms .. + aligned_tail_ms``)
   instead of the loudest of the last ``max_delay_ms``. Why it matters: a quiet caller under
   loud echo (10 dB down, 200 ms) was muted as echo for 300 ms, then missed.

:class:`EchoControl` is the pipeline stage; the bot's output reaches it through the
output's ``audio_taps``.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.audio.pcm import StreamResampler
from voicebot.logs import get_logger
from voicebot.turns.policy import EchoPolicy

log = get_logger(__name__)

RATE = 16000
FRAME = 160  # 10 ms at 16 kHz
UNGATED_AUDIO = "voicebot.echo.residual"  # frame.metadata key: the canceller's output before the gate
ECHO_MASKED = "voicebot.echo.masked"  # frame.metadata key: the newest 10 ms was muted as the bot's echo


class EchoCanceller:
    """SpeexDSP MDF echo canceller on 10 ms frames of 16 kHz int16."""

    def __init__(self, kind: str = "auto", tail_ms: int = 256) -> None:
        taps = int(RATE * tail_ms / 1000)
        self.kind = "none"
        self._speex = self._pyaec = None
        kinds = ("speexdsp", "pyaec") if kind == "auto" else (kind,)
        for k in kinds:
            try:
                if k == "speexdsp":
                    import speexdsp

                    self._speex = speexdsp.EchoCanceller.create(FRAME, taps, RATE)
                elif k == "pyaec":
                    import pyaec

                    self._pyaec = pyaec.Aec(FRAME, taps, RATE, True)
                    self._lib = pyaec.lib
                    self._out = (ctypes.c_int16 * FRAME)()
                elif k == "none":
                    pass
                else:
                    raise ValueError(f"unknown echo canceller {k!r}; use auto, speexdsp, pyaec or none")
                self.kind = k
                break
            except ImportError:
                continue
        if kind not in ("auto", "none") and self.kind != kind:
            raise RuntimeError(f"echo canceller {kind!r} is not installed: pip install {kind} (speexdsp also needs apt-get install libspeexdsp-dev swig)")
        if kind == "auto" and self.kind == "none":
            log.warning("no echo canceller installed (pip install pyaec); using the echo gate alone")

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """One frame: caller audio ``near`` and the bot audio played at the same time ``far`` (int16, FRAME)."""
        if self.kind == "speexdsp":
            return np.frombuffer(self._speex.process(near.tobytes(), far.tobytes()), dtype=np.int16)
        if self.kind == "pyaec":
            n = np.ascontiguousarray(near, dtype=np.int16)
            f = np.ascontiguousarray(far, dtype=np.int16)
            p16 = ctypes.POINTER(ctypes.c_int16)
            self._lib.AecCancelEcho(self._pyaec._aec, n.ctypes.data_as(p16), f.ctypes.data_as(p16), self._out, FRAME)
            return np.frombuffer(self._out, dtype=np.int16).copy()
        return near


def _power(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2)) + 1e-3


class EchoGate:
    """Decides per 10 ms frame whether the caller audio is explained by the bot's delayed, attenuated voice."""

    def __init__(self, policy: EchoPolicy) -> None:
        self.policy = policy
        self._ref_powers: list[float] = []  # bot power per 10 ms frame, newest last
        self._keep = max(1, policy.max_delay_ms // 10 + 2)
        self.gain_db = policy.initial_echo_gain_db  # learned echo-path gain (residual / bot), upper envelope
        self._floor = 32768.0**2 * 10 ** (policy.floor_dbfs / 10)
        self.masked = False  # the last frame was muted as echo (not for being below the floor)

    def push_reference(self, far: np.ndarray) -> None:
        self._ref_powers.append(_power(far))
        del self._ref_powers[: -self._keep]

    def align(self, powers: list[float]) -> None:
        """The echo delay is known: from now on the reference is the bot audio of the aligned window
        (``powers``, oldest first, the frames that can still echo now), not the last ``max_delay_ms``."""
        self._keep = max(1, len(powers))
        self._ref_powers = list(powers)

    def explained(self, residual: np.ndarray) -> bool:
        """True: mute this frame for the VAD (echo or below the level floor); ``masked`` says which."""
        p = _power(residual)
        ref = max(self._ref_powers) if self._ref_powers else 0.0
        self.masked = False
        if p < self._floor:
            if ref >= self._floor:  # the bot talks and nothing comes back: the echo path is at most this loud
                self._learn(10 * math.log10(self._floor / ref))
            return True
        if ref < self._floor:  # the bot is silent: nothing to explain
            return False
        ratio_db = 10 * math.log10(p / ref)
        if ratio_db <= self.gain_db + self.policy.margin_db:
            self._learn(ratio_db)
            self.masked = True  # explained by the bot's echo: caller speech under it cannot be told apart
            return True
        return False

    def _learn(self, ratio_db: float) -> None:
        """Track the echo path's level: up within ~100 ms, down within ~0.5 s; never above the prior.
        Measured here (bot TTS echo at 10-35 dB, TIMIT/DeepSpeech callers on top): rising at 0.3 per
        frame lets caller speech just inside the margin ratchet the gate up onto the caller (missed
        double talk); at 0.03 echo leaks past the gate; 0.1 did neither."""
        rate = 0.1 if ratio_db > self.gain_db else 0.02
        self.gain_db = min(self.policy.initial_echo_gain_db, self.gain_db + rate * (ratio_db - self.gain_db))


class DelayEstimator:
    """The line's bulk echo delay: GCC-PHAT between the caller channel and the bot's played audio.

    Every ``every_ms`` (while the bot has played enough in the window) the cross-correlation of
    the last ``window_ms`` of caller audio with the bot audio up to ``max_delay_ms`` earlier is
    computed (PHAT-weighted: a sharp peak at the echo delay whatever the speech spectrum). A
    delay is accepted when its peak stands ``min_peak_ratio`` above every lag more than 2 ms away
    and two estimates in a row agree within 2 ms; a later, different delay must do the same.
    CPU: ~1.3 ms per estimate (two 32k FFTs): ten a second until the delay is known, then one a
    second (a changed delay is taken after two agreeing re-checks).
    """

    def __init__(self, max_delay_ms: int = 250, window_ms: int = 1000, every_ms: int = 100,
                 min_peak_ratio: float = 2.0, min_ref_dbfs: float = -45.0, every_locked_ms: int = 1000) -> None:
        self.max_lag = int(RATE * max_delay_ms / 1000)
        self.window = int(RATE * window_ms / 1000)
        self.every = int(RATE * every_ms / 1000)
        self.every_locked = int(RATE * every_locked_ms / 1000)  # once known, the delay is only re-checked
        self.min_peak_ratio = min_peak_ratio
        self._min_ref = 32768.0**2 * 10 ** (min_ref_dbfs / 10)
        keep = self.window + self.max_lag
        self._near = np.zeros(keep)  # newest last, shifted in place (no per-frame allocation)
        self._far = np.zeros(keep)
        self._filled = 0
        self._since = 0
        self._candidate: int | None = None
        self.delay: int | None = None  # samples; None until known
        self.estimates = 0

    def push(self, near: np.ndarray, far: np.ndarray) -> int | None:
        """One frame of each (same time slot); returns the delay (samples) when it was just (re)decided."""
        n = len(near)
        for buf, x in ((self._near, near), (self._far, far)):
            buf[:-n] = buf[n:]
            buf[-n:] = x
        self._filled = min(len(self._near), self._filled + n)
        self._since += n
        if self._since < (self.every if self.delay is None else self.every_locked):
            return None
        self._since = 0
        k = self._estimate()
        if k is None:
            return None
        if self._candidate is not None and abs(k - self._candidate) <= RATE // 500:
            self._candidate = None
            if self.delay is None or abs(k - self.delay) > RATE // 500:
                self.delay = k
                return k
            return None
        self._candidate = k
        return None

    def _estimate(self) -> int | None:
        L = self.max_lag
        if self._filled < L + RATE // 5:
            return None
        w = min(self.window, self._filled - L)
        near = self._near[-w:]
        far = self._far[-(w + L):]
        if np.mean(far**2) < self._min_ref or np.mean(near**2) < 1.0:
            return None
        n = 1 << int(np.ceil(np.log2(2 * w + L)))
        g = np.conj(np.fft.rfft(near, n)) * np.fft.rfft(far, n)
        r = np.fft.irfft(g / (np.abs(g) + 1e-9), n)[: L + 1]  # r[m]: near[i] against far[i + m]; delay = L - m
        self.estimates += 1
        m = int(np.argmax(r))
        guard = RATE // 500
        rest = np.concatenate([r[: max(0, m - guard)], r[m + guard + 1 :]])
        if r[m] <= 0 or (len(rest) and r[m] < self.min_peak_ratio * max(float(rest.max()), 1e-12)):
            return None
        return L - m


class EchoProcessor:
    """Canceller + gate over a stream: caller audio in (16 kHz), cleaned caller audio out."""

    SLACK_MS = 20  # the aligned canceller also models this much before the estimated delay

    def __init__(self, policy: EchoPolicy) -> None:
        self.policy = policy
        self.canceller = EchoCanceller(policy.canceller, policy.tail_ms)
        self.gate = EchoGate(policy)
        self._ref = np.zeros(0, np.int16)  # bot audio not yet consumed, aligned with caller audio
        self._near = np.zeros(0, np.int16)
        self.muted_frames = 0
        self.last_residual = np.zeros(0, np.int16)  # the canceller's output for the last process() call, ungated
        self.last_muted = False  # the newest frame was explained by the bot's voice / below the floor
        self.last_masked = False  # ... muted as the bot's echo (a caller under it could not be heard)
        use_delay = policy.align_delay and self.canceller.kind != "none"
        self.delay = DelayEstimator(policy.max_delay_ms) if use_delay else None
        self.aligned: EchoCanceller | None = None  # the short canceller on the delay-aligned reference
        self._shift = 0  # samples the aligned reference lags the bot's output
        hist = int(RATE * (policy.max_delay_ms + policy.aligned_tail_ms + 40) / 1000)
        self._far_hist = np.zeros(hist, np.int16)  # consumed bot audio, newest last
        self._res_full = self._res_aligned = 0.0  # smoothed residual power of each canceller
        self.using_aligned = False

    def add_reference(self, pcm16k: np.ndarray) -> None:
        """Bot audio as played, in the caller-audio time slot the caller hears it (16 kHz)."""
        self._ref = np.concatenate([self._ref, pcm16k.astype(np.int16)])[-RATE * 2 :]

    def _on_delay(self, samples: int) -> None:
        shift = max(0, samples - RATE * self.SLACK_MS // 1000)
        if self.aligned is not None and abs(shift - self._shift) <= RATE // 500:
            return
        self._shift = shift
        self.aligned = EchoCanceller(self.canceller.kind, self.policy.aligned_tail_ms)
        self._res_aligned = self._res_full * 4  # it has to prove itself before it feeds the VAD
        self.using_aligned = False
        frames = (self.SLACK_MS + self.policy.aligned_tail_ms) // 10 + 1
        powers = []
        for j in range(frames - 1, -1, -1):  # the aligned bot frames that can still echo now, oldest first
            end = len(self._far_hist) - shift - j * FRAME
            powers.append(_power(self._far_hist[max(0, end - FRAME) : max(0, end)]))
        self.gate.align(powers)

    def process(self, pcm16k: np.ndarray) -> np.ndarray:
        self._near = np.concatenate([self._near, pcm16k.astype(np.int16)])
        out, residuals = [], []
        while len(self._near) >= FRAME:
            near, self._near = self._near[:FRAME], self._near[FRAME:]
            if len(self._ref) >= FRAME:
                far, self._ref = self._ref[:FRAME], self._ref[FRAME:]
            else:
                far = np.concatenate([self._ref, np.zeros(FRAME - len(self._ref), np.int16)])
                self._ref = np.zeros(0, np.int16)
            self._far_hist[:-FRAME] = self._far_hist[FRAME:]
            self._far_hist[-FRAME:] = far
            res = self.canceller.process(near, far)
            if self.delay is not None:
                found = self.delay.push(near, far)
                if found is not None:
                    self._on_delay(found)
            if self.aligned is not None:
                end = len(self._far_hist) - self._shift
                far_al = self._far_hist[end - FRAME : end]
                res_al = self.aligned.process(near, far_al)
                self.gate.push_reference(far_al)
                # ~100 ms smoothing; whichever canceller leaves less residual lately feeds the VAD
                self._res_full = 0.9 * self._res_full + 0.1 * _power(res)
                self._res_aligned = 0.9 * self._res_aligned + 0.1 * _power(res_al)
                self.using_aligned = self._res_aligned < self._res_full
                if self.using_aligned:
                    res = res_al
            else:
                self.gate.push_reference(far)
            residuals.append(res)
            self.last_muted = self.gate.explained(res)
            self.last_masked = self.gate.masked
            if self.last_muted:
                self.muted_frames += 1
                res = np.zeros(FRAME, np.int16)
            out.append(res)
        self.last_residual = np.concatenate(residuals) if residuals else np.zeros(0, np.int16)
        return np.concatenate(out) if out else np.zeros(0, np.int16)


class EchoControl(FrameProcessor):
    """Pipeline stage between the channel input and the VAD; ``on_bot_audio`` goes in the output's ``audio_taps``."""

    def __init__(self, policy: EchoPolicy, **kwargs) -> None:
        super().__init__(**kwargs)
        self.echo = EchoProcessor(policy)
        self._resamplers: dict[int, StreamResampler] = {}
        self._held = b""

    def on_bot_audio(self, pcm: bytes, rate: int) -> None:
        if rate != RATE:
            if rate not in self._resamplers:
                self._resamplers[rate] = StreamResampler(rate, RATE)
            pcm = self._resamplers[rate](pcm)
        self.echo.add_reference(np.frombuffer(pcm, dtype="<i2"))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and direction == FrameDirection.DOWNSTREAM and frame.sample_rate == RATE:
            # CPU: ~0.2-0.5 ms per 10 ms frame (SpeexDSP in C): inline, like the VAD.
            clean = self.echo.process(np.frombuffer(frame.audio, dtype="<i2"))
            out = clean.astype("<i2").tobytes()
            out = out.ljust(len(frame.audio), b"\0")[: len(frame.audio)]
            new = InputAudioRawFrame(audio=out, sample_rate=frame.sample_rate, num_channels=frame.num_channels)
            new.pts = frame.pts
            # The VAD sees the gated audio (echo frames muted); the ASR should hear the canceller's
            # residual unmuted: during double talk the gate mutes part of the caller's own speech.
            residual = self.echo.last_residual.astype("<i2").tobytes()
            new.metadata[UNGATED_AUDIO] = residual.ljust(len(frame.audio), b"\0")[: len(frame.audio)]
            new.metadata[ECHO_MASKED] = self.echo.last_masked
            await self.push_frame(new, direction)
        else:
            await self.push_frame(frame, direction)
