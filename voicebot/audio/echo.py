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

    def push_reference(self, far: np.ndarray) -> None:
        self._ref_powers.append(_power(far))
        del self._ref_powers[: -self._keep]

    def explained(self, residual: np.ndarray) -> bool:
        """True: mute this frame for the VAD (echo or below the level floor)."""
        p = _power(residual)
        ref = max(self._ref_powers) if self._ref_powers else 0.0
        if p < self._floor:
            if ref >= self._floor:  # the bot talks and nothing comes back: the echo path is at most this loud
                self._learn(10 * math.log10(self._floor / ref))
            return True
        if ref < self._floor:  # the bot is silent: nothing to explain
            return False
        ratio_db = 10 * math.log10(p / ref)
        if ratio_db <= self.gain_db + self.policy.margin_db:
            self._learn(ratio_db)
            return True
        return False

    def _learn(self, ratio_db: float) -> None:
        """Track the echo path's level: up within ~100 ms, down within ~0.5 s; never above the prior.
        Measured here (bot TTS echo at 10-35 dB, TIMIT/DeepSpeech callers on top): rising at 0.3 per
        frame lets caller speech just inside the margin ratchet the gate up onto the caller (missed
        double talk); at 0.03 echo leaks past the gate; 0.1 did neither."""
        rate = 0.1 if ratio_db > self.gain_db else 0.02
        self.gain_db = min(self.policy.initial_echo_gain_db, self.gain_db + rate * (ratio_db - self.gain_db))


class EchoProcessor:
    """Canceller + gate over a stream: caller audio in (16 kHz), cleaned caller audio out."""

    def __init__(self, policy: EchoPolicy) -> None:
        self.policy = policy
        self.canceller = EchoCanceller(policy.canceller, policy.tail_ms)
        self.gate = EchoGate(policy)
        self._ref = np.zeros(0, np.int16)  # bot audio not yet consumed, aligned with caller audio
        self._near = np.zeros(0, np.int16)
        self.muted_frames = 0
        self.last_residual = np.zeros(0, np.int16)  # the canceller's output for the last process() call, ungated
        self.last_muted = False  # the newest frame was explained by the bot's voice / below the floor

    def add_reference(self, pcm16k: np.ndarray) -> None:
        """Bot audio as played, in the caller-audio time slot the caller hears it (16 kHz)."""
        self._ref = np.concatenate([self._ref, pcm16k.astype(np.int16)])[-RATE * 2 :]

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
            self.gate.push_reference(far)
            res = self.canceller.process(near, far)
            residuals.append(res)
            self.last_muted = self.gate.explained(res)
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
            await self.push_frame(new, direction)
        else:
            await self.push_frame(frame, direction)
