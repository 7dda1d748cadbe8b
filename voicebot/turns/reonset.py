"""Re-onset: while the bot is paused for an unconfirmed sound, the caller's words after a breath.

The newest ``REONSET_WINDOW`` frames (mean power) ``rise_db`` louder than the paused-for sound
before them (and at least ``min_dbfs``) are a re-onset: the engine restarts its resume clock, so
the bot does not resume into the words. At most ``REONSET_MAX`` per pause: continuous noise still
lets the bot resume. Pure: levels in, decisions out.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

REONSET_WINDOW = 3  # frames: the re-onset compares their mean power with the paused-for sound before them
REONSET_MAX = 2  # re-onsets per pause: continuous noise still lets the bot resume (after 3 x resume_after_ms at most)


@dataclass
class Reonset:
    rise_db: float
    min_dbfs: float
    _recent: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=REONSET_WINDOW))
    _energy: float = 0.0  # the paused-for sound so far, before the recent window
    _frames: int = 0
    _count: int = 0

    def reset(self) -> None:
        """A new pause."""
        self._recent.clear()
        self._energy, self._frames, self._count = 0.0, 0, 0

    def step(self, level_db: float) -> tuple[float, float] | None:
        """One frame while paused; (recent dB, before dB) on a re-onset, else None."""
        p = 10 ** (max(level_db, -120.0) / 10)
        self._recent.append(p)
        if len(self._recent) < REONSET_WINDOW:
            self._energy += p
            self._frames += 1
            return None
        recent = sum(self._recent) / len(self._recent)
        so_far = self._energy / max(1, self._frames)
        if (self._count < REONSET_MAX and so_far > 0 and recent >= so_far * 10 ** (self.rise_db / 10)
                and 10 * math.log10(recent) >= self.min_dbfs):
            self._count += 1
            self._energy, self._frames = 0.0, 0
            self._recent.clear()  # the new part of the sound starts its own history
            return 10 * math.log10(recent), 10 * math.log10(so_far)
        self._energy += self._recent[0]
        self._frames += 1
        return None
