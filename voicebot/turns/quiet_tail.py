"""The caller's words have faded: start the end-of-turn check before the VAD says "stopped".

Why: webrtcvad calls the fading tail of the last word voiced for another 80-180 ms, and its
"stopped" comes ``quick_silence_ms`` after that, so the semantic check (~0.25 s of decoding on
2 cores) started 230-330 ms after the words ended. By level, the end shows sooner: the caller's
audio drops far under the level of their speech within a few tens of milliseconds.

Whisper drops or truncates a last word that the audio ends right after ("ritmi" -> "rit", "걸어갔"
-> "걸어"), so the check's audio gets ``early_pad_ms`` of the line's own quiet (the quiet just
heard, repeated) as the trailing silence it would have had at the VAD's stop: measured on the real
recordings, that decode is as accurate as the one at the VAD's stop (benchmarks/asr/early_cut.py).

So the check starts speculatively once the level has stayed ``early_quiet_db`` under the turn's
speech level for ``early_check_ms``, on the audio so far. It is kept only if the caller stays that
quiet until the VAD's stop: one louder frame and it is dropped, and the VAD's stop starts its own
check as before. What the kept check transcribed is therefore all the audio that was louder than
the quiet threshold; only a quiet tail is missing from it.

Pure: levels and milliseconds in, decisions out (no clock, no I/O).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

SMOOTH_FRAMES = 3  # the speech level is the loudest median of this many frames in a row (one click is not speech)


@dataclass
class CheckPart:
    """One answer of the early check, kept until the VAD's stop adopts the check."""

    text: str | None
    smart_turn_prob: float | None
    more: bool


@dataclass
class QuietTail:
    """Tracks one utterance's level; says when the early check may start and when it is stale."""

    quiet_db: float
    quiet_after_ms: float
    speech_db: float = -math.inf  # the loudest smoothed level of the utterance so far
    quiet_ms: float = 0.0  # quiet audio in a row up to now
    seq: int | None = None  # the early check running / answered for this utterance, if any
    cut_bytes: int = 0  # the utterance audio it covers
    parts: list[CheckPart] = field(default_factory=list)
    _recent: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=SMOOTH_FRAMES))

    def reset(self) -> None:
        """A new utterance (or none)."""
        self.speech_db = -math.inf
        self.quiet_ms = 0.0
        self._recent.clear()
        self.drop()

    def drop(self) -> None:
        """The early check is stale (the caller went on) or was adopted."""
        self.seq = None
        self.cut_bytes = 0
        self.parts = []

    def observe(self, level_db: float, ms: float, voiced: bool) -> bool:
        """One frame of the utterance. Returns False when a running early check just went stale."""
        self._recent.append(level_db)
        if voiced and len(self._recent) == SMOOTH_FRAMES:
            self.speech_db = max(self.speech_db, sorted(self._recent)[SMOOTH_FRAMES // 2])
        quiet = level_db < self.speech_db - self.quiet_db
        self.quiet_ms = self.quiet_ms + ms if quiet else 0.0
        if not quiet and self.seq is not None:
            self.drop()
            return False
        return True

    def ready(self) -> bool:
        """Quiet long enough, and no early check for this stretch yet."""
        return self.seq is None and self.quiet_after_ms > 0 and self.quiet_ms >= self.quiet_after_ms


def pad_with_quiet(audio: bytes, quiet_bytes: int, pad_bytes: int) -> bytes:
    """``audio`` with ``pad_bytes`` more of its last ``quiet_bytes`` (the line's quiet) repeated (16-bit samples)."""
    quiet_bytes -= quiet_bytes % 2
    pad_bytes -= pad_bytes % 2
    quiet = audio[len(audio) - quiet_bytes:] if 0 < quiet_bytes <= len(audio) else b""
    if not quiet or pad_bytes <= 0:
        return audio
    return audio + (quiet * (pad_bytes // len(quiet) + 1))[:pad_bytes]
