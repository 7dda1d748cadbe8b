"""The dialogue boundary: what the call pipeline gives the dialogue and what it gets back.

This is the final interface between the pipeline (any channel) and the dialogue module.
The dialogue never imports a channel: it returns *actions* and the call carries them out
on its own channel (a Twilio redirect, a SIP REFER, an agent joining a WebRTC session).

The call's own words (:class:`~voicebot.core.CallContext`, the actions) are in :mod:`voicebot.core`.
One :class:`DialogueEngine` per process holds the shared, heavy parts (knowledge base,
order store, NLU tables); it hands out one small :class:`DialogueSession` per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from voicebot.core import CallAction, CallContext, HangUp, Transfer


@dataclass(frozen=True)
class CallerTurn:
    """One finished caller turn, as the pipeline hands it to the dialogue."""

    text: str  # the ASR transcript (or typed text); may be empty when only DTMF was given
    language: str  # ISO 639-1 code the pipeline settled on for this call
    dtmf: str = ""  # keypad digits collected during the turn, in order
    asr_confidence: float | None = None  # mean token probability, when the ASR gives one
    is_dev_asr: bool = False  # the transcript came from a random-weight dev model


@dataclass(frozen=True)
class DialogueReply:
    """What the bot says next (in ``language``) and what it does after saying it."""

    text: str
    language: str
    actions: tuple[CallAction, ...] = ()
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    sentiment: str | None = None  # "positive" | "neutral" | "negative" | "angry"
    # What the bot just asked for, so the pipeline can bias the recogniser toward that shape
    # (a Whisper initial prompt, hotwords; asr_hints.initial_prompt gives one per language):
    # "order_id", "yes_no", "email", "phone", or None.
    expect: str | None = None

    @property
    def transfer(self) -> Transfer | None:
        return next((a for a in self.actions if isinstance(a, Transfer)), None)

    @property
    def hangup(self) -> HangUp | None:
        return next((a for a in self.actions if isinstance(a, HangUp)), None)


@runtime_checkable
class DialogueSession(Protocol):
    """Per-call dialogue state. Cheap to create; holds no model."""

    async def greet(self) -> DialogueReply:
        """The bot's opening line (the bot speaks first)."""

    async def respond(self, turn: CallerTurn) -> DialogueReply:
        """The reply to a finished caller turn."""

    def bot_was_interrupted(self, heard_text: str) -> None:
        """The caller barged in: only ``heard_text`` of the last reply was actually played.

        The session must rewrite its history so the last bot message is what the caller heard.
        """


@runtime_checkable
class DialogueEngine(Protocol):
    """Process-wide dialogue resources; loaded once, shared by every call."""

    def new_session(self, call: CallContext) -> DialogueSession: ...
