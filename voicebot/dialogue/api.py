"""The dialogue boundary: what the call pipeline gives the dialogue and what it gets back.

This is the final interface between the pipeline (any channel) and the dialogue module.
The dialogue never imports a channel: it returns *actions* and the call carries them out
on its own channel (a Twilio redirect, a SIP REFER, an agent joining a WebRTC session).

One :class:`DialogueEngine` per process holds the shared, heavy parts (knowledge base,
order store, NLU tables); it hands out one small :class:`DialogueSession` per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Channel = Literal["direct", "replay", "twilio", "sip", "webrtc", "websocket", "text"]


@dataclass(frozen=True)
class CallContext:
    """What is known about a call before anyone speaks."""

    call_id: str
    channel: Channel = "direct"
    caller_number: str | None = None  # E.164 where the channel knows it (Twilio From, SIP From)
    called_number: str | None = None
    customer_id: str | None = None  # from an in-app session token
    customer_name: str | None = None
    language: str | None = None  # a language the channel already knows (in-app token), ISO 639-1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallerTurn:
    """One finished caller turn, as the pipeline hands it to the dialogue."""

    text: str  # the ASR transcript (or typed text); may be empty when only DTMF was given
    language: str  # ISO 639-1 code the pipeline settled on for this call
    dtmf: str = ""  # keypad digits collected during the turn, in order
    asr_confidence: float | None = None  # mean token probability, when the ASR gives one
    is_dev_asr: bool = False  # the transcript came from a random-weight dev model


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a human. The call's channel decides how (REFER, <Enqueue>, desk)."""

    reason: str  # "caller_asked" | "frustration" | "not_understood" | "policy" | ...
    queue: str = "general"  # routing queue: language/skill (e.g. "es", "returns")
    target: str | None = None  # an explicit number or SIP URI, when the flow knows one
    context: dict[str, Any] = field(default_factory=dict)  # the context packet for the agent
    kind: Literal["transfer"] = "transfer"


@dataclass(frozen=True)
class HangUp:
    """End the call once the reply has been heard to its last word."""

    reason: str = "completed"
    kind: Literal["hangup"] = "hangup"


@dataclass(frozen=True)
class Note:
    """Something the dialogue did that belongs in the call record (order looked up, refund created)."""

    name: str  # e.g. "order_lookup", "refund_requested", "identity_verified", "guard_blocked"
    data: dict[str, Any] = field(default_factory=dict)
    kind: Literal["note"] = "note"


Action = Transfer | HangUp | Note


@dataclass(frozen=True)
class DialogueReply:
    """What the bot says next (in ``language``) and what it does after saying it."""

    text: str
    language: str
    actions: tuple[Action, ...] = ()
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
