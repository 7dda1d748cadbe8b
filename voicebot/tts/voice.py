"""The voice interface: text in, 16-bit mono PCM out. Synchronous; called from a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Speech:
    pcm: np.ndarray  # int16 mono
    sample_rate: int


class Voice(Protocol):
    name: str
    dev: bool

    def synthesize(self, text: str) -> Speech: ...
