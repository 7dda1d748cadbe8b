"""Plain record types shared by the stores, the recorder, the pages and the exporter (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["resolved_by_bot", "handed_off", "abandoned", "interrupted", "error", "voicemail"]
# voicemail: outside hours the caller left a message (voicebot.handoff.voicemail_call)
OUTCOMES: tuple[str, ...] = ("resolved_by_bot", "handed_off", "abandoned", "interrupted", "error", "voicemail")


@dataclass
class CallRecord:
    """One call. Times are UNIX seconds (UTC); ``ended_at``/``outcome`` stay None while it runs."""

    id: str
    channel: str
    started_at: float
    caller: str | None = None  # caller identity: E.164 number or in-app customer id (may be redacted)
    language: str | None = None
    ended_at: float | None = None
    outcome: str | None = None
    end_reason: str | None = None
    handoff_reason: str | None = None
    dev_models: bool = False
    pipeline: str | None = None
    instance: str | None = None  # the bot process that ran it (fleet recovery marks only its own)
    turn_count: int = 0
    interruptions: int = 0
    agent: str | None = None  # the agent who took the call (display name), from its hand-off steps


@dataclass
class TurnRecord:
    """One exchange: what the caller said and how the bot answered, timed in call audio ms.

    Index 0 is usually the greeting (bot only). A turn whose caller part is missing (a
    re-prompt after silence) has ``caller_text`` None.
    """

    call_id: str
    index: int
    caller_speech_start_ms: float | None = None
    caller_speech_end_ms: float | None = None
    asr_final_ms: float | None = None
    bot_reply_ms: float | None = None
    bot_first_audio_ms: float | None = None
    bot_speech_end_ms: float | None = None
    interrupted: bool = False
    caller_text: str | None = None
    caller_language: str | None = None
    caller_dtmf: str = ""
    bot_text: str | None = None
    bot_text_heard: str | None = None
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    sentiment: str | None = None
    complete: bool = False  # the bot finished (or was cut off); False = stored mid-turn
    # Who spoke the "bot" side: None = the bot's dialogue; "agent" = an agent's line (typed on the
    # desk, spoken by the bot) with ``agent_name``; "handoff" = the bridge's own line ("connected with Ana").
    speaker: str | None = None
    agent_name: str | None = None

    @property
    def response_ms(self) -> float | None:
        """End of caller speech to the bot's first audio (what the caller feels as latency)."""
        if self.caller_speech_end_ms is None or self.bot_first_audio_ms is None:
            return None
        return self.bot_first_audio_ms - self.caller_speech_end_ms


@dataclass
class EventRecord:
    call_id: str
    seq: int
    t_ms: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionRecord:
    call_id: str
    seq: int
    t_ms: float
    kind: str  # transfer | hangup | note
    name: str  # the Transfer reason, the HangUp reason or the Note name
    turn_index: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Annotation:
    """A QA mark on one turn."""

    call_id: str
    turn_index: int
    wrong: bool
    note: str = ""
    author: str | None = None
    created_at: float = 0.0
    id: int | None = None


@dataclass
class Recording:
    call_id: str
    path: str
    sample_rate: int
    channels: int = 2  # left: caller, right: bot


@dataclass
class CallFilter:
    """What the QA list filters on; None means any. Dates are UNIX seconds, ``until`` exclusive."""

    since: float | None = None
    until: float | None = None
    language: str | None = None
    outcome: str | None = None
    intent: str | None = None
    channel: str | None = None
    ids: tuple[str, ...] | None = None  # only these calls (what a desk agent may see); None: any
    search: str | None = None  # words in a transcript, a caller number or id, an order id (case-insensitive)
    search_callers: tuple[str, ...] = ()  # with ``search``: caller values that also match (a number as stored, redacted)
    handoff_reason: str | None = None
    agent: str | None = None  # calls this agent took (their id or display name)
    interruptions: int | None = None  # calls with exactly this many barge-ins (the analytics chart's bars)
    limit: int = 200
    offset: int = 0


@dataclass
class Voicemail:
    """A message a caller left outside hours (one per call; the WAV is mono 16-bit PCM).

    ``caller`` is kept whole (agents call back on it); ``transcript`` is redacted like the
    call's turns. ``end_reason``: hash | hangup | silence | max_length | shutdown.
    """

    call_id: str
    created_at: float  # UNIX seconds, when the message started (after the tone)
    duration_s: float
    path: str
    sample_rate: int
    language: str | None = None
    caller: str | None = None
    channel: str | None = None
    queue: str | None = None
    transcript: str | None = None
    summary: str | None = None  # the hand-off context (reason, what the bot knew)
    end_reason: str | None = None
    status: str = "new"  # new | done
    done_by: str | None = None
    done_at: float | None = None
