"""What the turn engine asks its adapter to do: one small type per action.

:class:`voicebot.turns.engine.TurnEngine` is pure: each observation returns a list of
:data:`TurnAction`. The adapter (:class:`voicebot.turns.processor.TurnTaker`, or the barge-in
benchmark) carries them out: gate the bot's audio, hand an utterance on, run speculative
transcription or the end-of-turn check off the event loop, and emit call events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from voicebot.events import EventKind


@dataclass
class Utterance:
    """One caller turn's audio (or keypad entry), in the caller's audio time."""

    audio: bytes
    start_ms: float
    end_ms: float
    dtmf: str = ""
    transcript: str | None = None  # the speculative transcript of exactly this audio, when one finished
    continues: bool = False  # the caller went on after a pause: this continues the previous turn


@dataclass(frozen=True)
class PauseBot:
    """Tentative barge-in: stop the bot's audio at the transport, keep its place."""

    onset_ms: float  # when the caller's sound began
    kind: Literal["pause"] = "pause"


@dataclass(frozen=True)
class ResumeBot:
    """The sound was not the caller taking the turn: play on from where the bot paused."""

    reason: str  # "not_confirmed", "backchannel", "no_words", "early_unconfirmed", ...
    kind: Literal["resume"] = "resume"


@dataclass(frozen=True)
class InterruptBot:
    """Barge-in confirmed: cancel the bot's turn."""

    reason: str  # "speech_confirmed" | "words" | "dtmf"
    onset_ms: float
    voiced_ms: float | None = None  # "speech_confirmed": how much voiced speech confirmed it
    word: str | None = None  # "words": the first word that was not a backchannel
    continues: bool = False  # the caller went on from their previous turn (its reply is withdrawn)
    kind: Literal["interrupt"] = "interrupt"

    def event_data(self) -> dict[str, Any]:
        """The "interruption" event's data: only what this barge-in has."""
        data: dict[str, Any] = {"reason": self.reason, "onset_ms": self.onset_ms}
        if self.voiced_ms is not None:
            data["voiced_ms"] = self.voiced_ms
        if self.word is not None:
            data["word"] = self.word
        if self.continues:
            data["continues"] = True
        return data


@dataclass(frozen=True)
class EndTurn:
    """The caller's turn is over: hand the utterance to transcription and the dialogue."""

    utterance: Utterance
    reason: str  # "complete" | "incomplete" | "timeout" | "silence" | "dtmf" | ...
    kind: Literal["utterance"] = "utterance"


@dataclass(frozen=True)
class TranscribePartial:
    """Transcribe the paused-for speech so far: do its words take the turn? Answer with ``partial_result(seq, ...)``."""

    seq: int
    audio: bytes
    kind: Literal["partial"] = "partial"


@dataclass(frozen=True)
class CheckTurnEnd:
    """Is the caller done? Answer with ``check_result(seq, ...)`` (the words, smart-turn's probability, or both)."""

    seq: int
    audio: bytes
    text: bool  # the policy wants the words (a speculative transcript)
    smart_turn: bool  # the policy wants smart-turn's probability
    kind: Literal["check"] = "check"


@dataclass(frozen=True)
class EmitEvent:
    """A call event the engine observed (``vad_start``, ``turn_continues``, ...)."""

    event: EventKind
    data: dict[str, Any] = field(default_factory=dict)
    kind: Literal["emit"] = "emit"


TurnAction = PauseBot | ResumeBot | InterruptBot | EndTurn | TranscribePartial | CheckTurnEnd | EmitEvent
