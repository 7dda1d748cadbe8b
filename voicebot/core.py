"""The call's vocabulary: the words every layer uses about one call.

Channels, the pipeline, the dialogue, hand-off and the call records all speak about the same
few things: which call this is (:class:`CallContext`), what the bot decided to do with it
(:data:`CallAction`: :class:`Transfer`, :class:`HangUp`, :class:`Note`) and what a person
taking the call over needs to know (:class:`ContextPacket`). They live here, below every
layer, so that no layer imports another one just to name a call. The call's timeline is in
:mod:`voicebot.events` and its time in :mod:`voicebot.clock`; this module imports neither.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

Channel = Literal["direct", "replay", "twilio", "sip", "webrtc", "websocket", "text"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)


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


@dataclass
class CallerCard:
    """Who the caller is, as far as the bot found out (the agent must not ask again)."""

    number: str | None = None
    customer_id: str | None = None
    name: str | None = None  # only once verified, or what an in-app token said
    verified: bool = False
    verified_by: str | None = None  # how: "order_and_postcode", "caller_number", ...


@dataclass
class ContextPacket:
    """Everything a human agent needs so the caller does not repeat themselves.

    The dialogue fills it when it hands a caller over; hand-off keeps it on the ticket, stores
    it as JSON (:meth:`to_dict`, :meth:`from_dict`) and builds the agent's card from it. A
    dialogue that knows nothing (the minimal one) sends none: the card then shows the call's
    own transcript.
    """

    reason: str = ""  # why the caller is handed over ("caller_asked", "frustration", ...)
    caller: CallerCard = field(default_factory=CallerCard)
    language: str = ""  # the caller's language, ISO 639-1
    # What was said, in order: {"role": "caller"|"bot", "text": ..., and "language"/"dtmf" where known}.
    transcript: list[dict[str, Any]] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)  # order ids discussed
    cases: list[dict[str, Any]] = field(default_factory=list)  # {"reference", "kind", "order_id"} created on the call
    sentiment: str = "neutral"  # the latest: "positive" | "neutral" | "negative" | "angry"
    frustration: float = 0.0
    bot_said: list[str] = field(default_factory=list)
    promised: list[str] = field(default_factory=list)  # what the bot said a person would do
    summary: str = ""  # the dialogue's own one-line summary (English)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ContextPacket:
        """Read a stored packet back; keys it does not know are dropped, missing ones default."""
        data = dict(data or {})
        caller = data.get("caller") if isinstance(data.get("caller"), dict) else {}
        card = CallerCard(**{k: v for k, v in caller.items() if k in {f.name for f in fields(CallerCard)}})
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data and f.name != "caller":
                v = data[f.name]
                # Redis' cjson turns an empty list into {}: a list field reads back as a list.
                values[f.name] = (v if isinstance(v, list) else []) if f.default_factory is list else v
        return cls(**values, caller=card)


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a human. The call's channel decides how (REFER, <Enqueue>, desk)."""

    reason: str  # "caller_asked" | "frustration" | "not_understood" | "policy" | ...
    queue: str = "general"  # routing queue: language/skill (e.g. "es", "returns")
    target: str | None = None  # an explicit number or SIP URI, when the flow knows one
    context: ContextPacket | None = None  # for the agent; None when the dialogue knows nothing to add
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


CallAction = Transfer | HangUp | Note
