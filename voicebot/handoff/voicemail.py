"""Voicemail outside hours: options, what the caller hears, the tone, and when a message ends.

Pure parts only (no call, no I/O): :mod:`.voicemail_call` runs them on a live call.

Options live in the hand-off settings under ``voicemail`` (``settings.handoff.voicemail``,
:class:`~.options.VoicemailOptions`),
e.g. ``VOICEBOT_HANDOFF__VOICEMAIL__MAX_S=60`` or in YAML::

    handoff:
      voicemail: {max_s: 60, end_silence_s: 4, instead_of_callback: true}
"""

from __future__ import annotations

import numpy as np
import webrtcvad

from voicebot.dialogue.languages.handoff_lines import line as handoff_line
from voicebot.dialogue.languages.handoff_lines import table as handoff_table

from .options import VoicemailOptions

VAD_FRAME_MS = 20


WEB_CHANNELS = ("webrtc", "websocket")  # the in-app widget: an End call button, no keypad


def voicemail_message(key: str, language: str | None, channel: str | None = None) -> tuple[str, str]:
    """``(text, language)`` of a voicemail line (its web wording in the widget), from the language
    pack's ``handoff.yaml`` (``voicemail:``); a line the pack lacks is English."""
    if channel in WEB_CHANNELS and f"{key}_web" in (handoff_table("en").get("voicemail") or {}):
        key = f"{key}_web"
    said = handoff_line("voicemail", key, language)
    return said.text, said.language


def tone(sample_rate: int, hz: float = 880.0, ms: int = 300, level: float = 0.3) -> bytes:
    """The beep: a sine with 10 ms fades (no clicks), 16-bit mono PCM at ``sample_rate``."""
    n = int(sample_rate * ms / 1000)
    t = np.arange(n) / sample_rate
    wave = np.sin(2 * np.pi * hz * t) * level
    fade = min(n // 2, int(sample_rate * 0.01))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return (wave * 32767).astype("<i2").tobytes()


class MessageCapture:
    """Decides when a message ends, from the caller's audio alone (audio time, no clock).

    ``feed`` 16-bit mono PCM at ``rate`` (8/16/32/48 kHz); it returns the part that belongs to
    the message (cut at ``max_s``) and sets :attr:`ended` to ``max_length``, ``silence`` (after
    speech) or ``no_speech``. The caller hanging up or pressing # is the call's business.
    """

    def __init__(self, options: VoicemailOptions, rate: int = 16000) -> None:
        self.options = options
        self.rate = rate
        self._vad = webrtcvad.Vad(options.vad_aggressiveness)
        self._frame_bytes = rate * VAD_FRAME_MS // 1000 * 2
        self._pending = b""
        self.samples = 0
        self.voiced_ms = 0
        self.silence_ms = 0.0  # since the last voiced frame (or the start)
        self.ended: str | None = None

    @property
    def duration_s(self) -> float:
        return self.samples / self.rate

    @property
    def has_speech(self) -> bool:
        return self.voiced_ms >= self.options.min_speech_ms

    def feed(self, pcm: bytes) -> bytes:
        if self.ended is not None or not pcm:
            return b""
        room = int(self.options.max_s * self.rate) - self.samples
        take = pcm[: room * 2]
        self.samples += len(take) // 2
        self._pending += take
        while len(self._pending) >= self._frame_bytes:
            frame, self._pending = self._pending[: self._frame_bytes], self._pending[self._frame_bytes :]
            if self._voiced(frame):
                self.voiced_ms += VAD_FRAME_MS
                self.silence_ms = 0.0
            else:
                self.silence_ms += VAD_FRAME_MS
        if len(take) < len(pcm) or self.samples >= int(self.options.max_s * self.rate):
            self.ended = "max_length"
        elif self.has_speech and self.silence_ms >= self.options.end_silence_s * 1000:
            self.ended = "silence"
        elif not self.has_speech and self.duration_s >= self.options.no_speech_s:
            self.ended = "no_speech"
        return take

    def _voiced(self, frame: bytes) -> bool:
        # webrtcvad flags some line noise; a near-silent frame is never speech.
        if np.abs(np.frombuffer(frame, "<i2")).max(initial=0) < 300:
            return False
        return bool(self._vad.is_speech(frame, self.rate))
