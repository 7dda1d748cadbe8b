"""Re-onset: while the bot is paused for an unconfirmed sound, the words after a breath or a
click are louder than the sound before them. Noticing that restarts the ``resume_after_ms``
clock, so a caller who pauses mid-sentence is not talked over (pure arithmetic, no I/O).
"""

from __future__ import annotations

import collections
import math

REONSET_WINDOW = 3  # frames: the re-onset compares their mean power with the paused-for sound before them
REONSET_MAX = 2  # re-onsets per pause: continuous noise still lets the bot resume (after 3 x resume_after_ms at most)


class Reonset:
    """The paused-for sound's power so far and the newest ``REONSET_WINDOW`` frames."""

    def __init__(self) -> None:
        self._recent: collections.deque[float] = collections.deque(maxlen=REONSET_WINDOW)  # newest frame powers
        self._sound_energy, self._sound_frames = 0.0, 0  # the paused-for sound so far, before the recent window
        self.count = 0  # re-onsets in this pause

    def reset(self) -> None:
        """A new pause: the sound's history starts over."""
        self._recent.clear()
        self._sound_energy, self._sound_frames = 0.0, 0
        self.count = 0

    def step(self, level_db: float, rise_db: float, min_level_dbfs: float) -> tuple[float, float] | None:
        """Add one frame of ``level_db``; ``(recent_db, before_db)`` when it completes a re-onset, else None."""
        power = 10 ** (max(level_db, -120.0) / 10)
        self._recent.append(power)
        if len(self._recent) < REONSET_WINDOW:
            self._sound_energy += power
            self._sound_frames += 1
            return None
        recent = sum(self._recent) / len(self._recent)
        so_far = self._sound_energy / max(1, self._sound_frames)
        if (self.count < REONSET_MAX and so_far > 0 and recent >= so_far * 10 ** (rise_db / 10)
                and 10 * math.log10(recent) >= min_level_dbfs):  # fmt: skip
            self.count += 1
            self._sound_energy, self._sound_frames = 0.0, 0
            self._recent.clear()  # the new part of the sound starts its own history
            return 10 * math.log10(recent), 10 * math.log10(so_far)
        self._sound_energy += self._recent[0]
        self._sound_frames += 1
        return None
