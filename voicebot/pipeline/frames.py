"""Frames the call pipeline adds to pipecat's own.

pipecat's frames carry audio, text, VAD and interruptions; a call also needs to move a whole
caller utterance to the ASR, a dialogue reply with its actions to the TTS, and reports of
what the caller actually heard back up to the dialogue. System frames jump the queue (they
must: a pause on barge-in cannot wait behind seconds of queued audio).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipecat.frames.frames import DataFrame, SystemFrame

from voicebot.dialogue.api import DialogueReply


@dataclass
class CallerUtteranceFrame(DataFrame):
    """One finished caller turn: its audio (16-bit mono at ``sample_rate``) and/or keypad digits."""

    audio: bytes
    sample_rate: int
    turn_id: int
    start_ms: float  # caller speech onset, audio time
    end_ms: float  # last voiced audio, audio time
    dtmf: str = ""
    continues: int | None = None  # the turn this one continues (the caller went on after a pause)


@dataclass
class CallerTextFrame(DataFrame):
    """The caller's turn as text (ASR final, or typed in the in-app widget)."""

    text: str
    language: str
    turn_id: int
    end_ms: float = 0.0
    dtmf: str = ""
    asr_confidence: float | None = None
    dev_asr: bool = False
    continues: int | None = None  # the turn this one continues: the dialogue answers both as one


@dataclass
class BotReplyFrame(DataFrame):
    """A dialogue reply on its way to the TTS."""

    reply: DialogueReply
    turn_id: int


@dataclass
class BotSentenceAudioFrame(DataFrame):
    """Marks where a synthesized sentence's audio ends in the output stream."""

    text: str
    turn_id: int
    last: bool  # the reply's last sentence: actions run once it has been heard
    reply: DialogueReply | None = None


@dataclass
class PlaybackControlFrame(SystemFrame):
    """Pause or resume bot audio at the transport (for processors outside the turn taker;
    the turn taker uses :attr:`CallState.playback_gate`, which acts without a queue hop)."""

    action: Literal["pause", "resume"]


@dataclass
class PlaybackReportFrame(SystemFrame):
    """Upstream from the output: what of reply ``turn_id`` the caller has heard so far."""

    turn_id: int
    heard_text: str
    interrupted: bool
    finished: bool


@dataclass
class TurnSettledFrame(SystemFrame):
    """A caller turn needs no more work (no reply, empty transcript, or an error)."""

    turn_id: int
    reason: str = ""
    extra: dict = field(default_factory=dict)
