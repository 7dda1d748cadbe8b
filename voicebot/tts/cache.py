"""Synthesized sentences, kept: in memory for the process, on disk for the shop's fixed phrases.

A shop's bot says the same sentences all day (the greeting, "Let me check that for you.",
"What is your order number?"): each is synthesized once per voice and then costs nothing,
which matters most for the neural voices (Kokoro: 0.4-0.6 s of CPU per second of speech on
2 cores, so a caller would wait ~1 s for a first sentence it has heard a hundred times).

The disk layer holds only what :mod:`voicebot.tts.warm` pre-renders from the reply templates —
sentences with no caller data in them. Sentences said during calls (order numbers, names,
dates) stay in memory only: nothing personal is written to the cache folder.
Bounded by bytes in memory, least recently used out first.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from voicebot.tts.voice import Speech

# Bumped when the way a voice turns text into audio changes (phonemizer, sentence handling):
# the old files are then simply not found.
CACHE_VERSION = "v1"


def _slug(voice: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", voice)


class SpeechCache:
    def __init__(self, max_bytes: int = 64 << 20, directory: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.directory = directory / CACHE_VERSION if directory is not None else None
        self._items: OrderedDict[tuple[str, str], Speech] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.disk_hits = 0

    def get(self, voice: str, text: str) -> Speech | None:
        with self._lock:
            speech = self._items.get((voice, text))
            if speech is not None:
                self._items.move_to_end((voice, text))
                self.hits += 1
                return speech
        speech = self._load(voice, text)
        with self._lock:
            if speech is None:
                self.misses += 1
                return None
            self.disk_hits += 1
        self.put(voice, text, speech)
        return speech

    def put(self, voice: str, text: str, speech: Speech) -> None:
        size = speech.pcm.nbytes
        if size > self.max_bytes // 8:  # one long answer must not push out everything else
            return
        with self._lock:
            old = self._items.pop((voice, text), None)
            if old is not None:
                self._bytes -= old.pcm.nbytes
            self._items[(voice, text)] = speech
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.pcm.nbytes

    # ---- disk: fixed phrases only ------------------------------------------------------------
    def _path(self, voice: str, text: str) -> Path | None:
        if self.directory is None:
            return None
        digest = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:40]
        return self.directory / _slug(voice) / f"{digest}.s16"

    def has_file(self, voice: str, text: str) -> bool:
        path = self._path(voice, text)
        return path is not None and path.exists()

    def persist(self, voice: str, text: str, speech: Speech) -> None:
        """Keep ``speech`` on disk for every later process (fixed phrases only: see the module doc).

        Written to a temporary name and renamed, so a reader never sees half a file. Format:
        a 4-byte little-endian sample rate, then 16-bit little-endian mono PCM.
        """
        path = self._path(voice, text)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        with open(tmp, "wb") as f:
            f.write(int(speech.sample_rate).to_bytes(4, "little"))
            f.write(np.ascontiguousarray(speech.pcm, dtype="<i2").tobytes())
        os.replace(tmp, path)
        self.put(voice, text, speech)

    def _load(self, voice: str, text: str) -> Speech | None:
        path = self._path(voice, text)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) < 6 or len(data) % 2:
            return None  # damaged: synthesize again (warm rewrites it)
        rate = int.from_bytes(data[:4], "little")
        return Speech(np.frombuffer(data[4:], dtype="<i2").copy(), rate)
