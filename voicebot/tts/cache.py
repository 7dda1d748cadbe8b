"""A process-wide cache of synthesized sentences.

A shop's bot says the same sentences all day (the greeting, "Let me check that for you.",
"Is there anything else?"): each is synthesized once per voice and then costs nothing,
which matters most for the neural voices (Kokoro: ~0.6 s of CPU per second of speech).
Bounded by bytes, least recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from voicebot.tts.voice import Speech


class SpeechCache:
    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], Speech] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, voice: str, text: str) -> Speech | None:
        with self._lock:
            speech = self._items.get((voice, text))
            if speech is None:
                self.misses += 1
                return None
            self._items.move_to_end((voice, text))
            self.hits += 1
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
