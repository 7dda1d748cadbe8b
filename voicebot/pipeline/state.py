"""Small per-call state shared by the call's processors (no models here: those are shared
process-wide by :class:`voicebot.runtime.Runtime`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from voicebot.clock import Clock
from voicebot.core import CallContext
from voicebot.events import ActionKind, EventKind, EventLog
from voicebot.pipeline.activity import Activity


@dataclass
class CallState:
    ctx: CallContext
    clock: Clock
    events: EventLog = field(default_factory=EventLog)
    activity: Activity = field(default_factory=Activity)
    language: str | None = None  # the call's language once settled (ASR or in-app token)
    audio_ms: float = 0.0  # caller audio time of the newest frame seen by the pipeline
    dev_models: list[str] = field(default_factory=list)
    bot_speaking: bool = False
    # The transport's playback gate, set by the turn taker and read by the output on every
    # 20 ms tick: "paused" (tentative barge-in) and "cut" (confirmed, until the interruption
    # has flushed the queues) stop the bot's audio at once, with no queue hop in between.
    playback_gate: str = "open"
    ended: bool = False
    end_reason: str = ""
    outcome: str = ""
    superseded: set[int] = field(default_factory=set)  # caller turns the caller went on from before the reply (not answered alone)
    expect: str | None = None  # what the bot's last reply asked for ("order_id", "yes_no", ...): biases the ASR

    def asr_prompt(self, language: str | None) -> str | None:
        """Whisper's initial prompt for the caller's next words: the shape of the expected answer,
        and for Mandarin simplified characters (Whisper base writes traditional ones unprimed)."""
        from voicebot.dialogue.asr_hints import initial_prompt

        lang = language or self.language or self.ctx.language or ""
        return initial_prompt(self.expect, lang) or ("以下是普通话的句子。" if lang == "zh" else None)

    def __post_init__(self) -> None:
        self._audio_advanced = asyncio.Event()

    def advance_audio(self, t_ms: float) -> None:
        """The pipeline has processed caller audio up to ``t_ms`` (a fast replay waits on this)."""
        self.audio_ms = max(self.audio_ms, t_ms)
        self._audio_advanced.set()

    async def wait_audio(self, t_ms: float, timeout: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        while self.audio_ms < t_ms - 0.5:
            self._audio_advanced.clear()
            left = until - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._audio_advanced.wait(), left)
            except TimeoutError:
                return False
        return True

    def emit(self, kind: EventKind, /, t_ms: float | None = None, **data: Any) -> None:
        self.events.emit(self.audio_ms if t_ms is None else t_ms, kind, **data)

    def emit_action(self, action: ActionKind, /, **data: Any) -> None:
        """An "action" event: what the bot did, in ``data["action"]``."""
        self.emit("action", action=action, **data)
