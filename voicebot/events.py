"""Call events: the timeline of a call, in audio time.

Every channel emits the same events; the replay writes them to ``events.jsonl``, the call
recorder stores them, the benchmark computes its figures from them. ``t_ms`` is milliseconds
of *audio time* since the call started (the caller's audio clock), so a replay on a virtual
clock and a live call produce comparable timelines.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args
from collections.abc import Callable

EventKind = Literal[
    "call_start",  # data: call_id, channel, caller, pipeline, dev_models
    "vad_start",  # caller speech onset decided by the VAD (t_ms = decision time; data.onset_ms)
    "vad_stop",  # caller speech end decided by the VAD (data.end_ms = last voiced audio)
    "reonset",  # a louder burst within caller speech while the bot is paused (words after a breath)
    "early_pause",  # the bot's audio paused on caller sound before the VAD decided (data: onset_ms, loud, voiced)
    "sound_outlasts_bot",  # sound dismissed under the bot went on after its turn: it may be the caller answering
    "end_of_turn_check",  # the end-of-turn decision on a pause (data: verdict, text, partial)
    "early_check",  # the caller's level fell (before the VAD's stop): the end-of-turn check starts early (data: quiet_ms)
    "early_check_dropped",  # louder again before the VAD's stop: the early check is discarded
    "early_check_adopted",  # the VAD stopped with the caller still quiet: the early check is this turn's (data: end_ms)
    "turn_continues",  # the caller went on after a pause the check had taken for an end (data: paused_ms)
    "turn_end",  # end of the caller's turn decided (VAD stop + end-of-turn check)
    "turn_merged",  # a turn joined the one before it (the caller went on before the reply)
    "partial_transcript",  # data: text (a running transcript of the open turn)
    "transcript",  # data: text, language, final, asr_ms, dev_model
    "language",  # the call's language changed: data: language, previous, detected_prob
    "dtmf",  # data: digit
    "bot_reply",  # data: text, language, intent, dialogue_ms
    "bot_speech_start",  # first bot audio frame reached the transport
    "bot_speech_stop",  # data: heard_text (what the caller heard), interrupted
    "bot_paused",  # tentative barge-in: bot audio paused at the transport
    "bot_resumed",
    "interruption",  # the caller's barge-in was confirmed; bot turn cancelled
    "action",  # data: action (an ActionKind), reason or name, ...
    "transfer_result",  # a channel's transfer (REFER, redirect) answered: data: channel, target, ok
    "handoff_leg",  # the agent's own leg of an attended transfer: data: stage, agent, ...
    "amd",  # outbound: answering-machine detection decided: data: verdict, ...
    "amd_message_start",  # outbound: the machine's greeting ended, the message may start
    "error",  # data: where, message
    "call_end",  # data: reason, outcome
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))

# What the bot did, in an "action" event's ``data["action"]``.
ActionKind = Literal[
    "transfer",  # the dialogue handed the caller to a person (data: reason, queue, target)
    "hangup",  # the dialogue ended the call (data: reason)
    "note",  # something for the call record (data: name, data)
    "waiting_for_agent",  # in-app: the caller waits on the desk (data: queue, reason)
    "handoff",  # a step of the hand-off: queued, offered, accepted, bridged, ... (data: reason = the step)
    "back_to_bot",  # the agent handed the caller back
    "voicemail",  # the caller is leaving a message (data: reason = recording | why it ended)
]
ACTION_KINDS: frozenset[str] = frozenset(get_args(ActionKind))


@dataclass(frozen=True)
class CallEvent:
    t_ms: float
    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str | None:
        """For an "action" event, what was done (an :data:`ActionKind`); else None.

        Records written before the key was settled carry it as ``data["kind"]``."""
        if self.kind != "action":
            return None
        return self.data.get("action") or self.data.get("kind")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @staticmethod
    def from_json(line: str) -> CallEvent:
        d = json.loads(line)
        return CallEvent(t_ms=float(d["t_ms"]), kind=d["kind"], data=d.get("data") or {})


def check_event(kind: str, data: dict[str, Any]) -> None:
    """Refuse an event no reader knows: a misspelt kind, or an action without its ``action``."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown call event kind {kind!r}: add it to voicebot.events.EventKind")
    if kind == "action" and data.get("action") not in ACTION_KINDS:
        raise ValueError(f"an action event needs action= one of {sorted(ACTION_KINDS)}, got {data!r}")


EventSink = Callable[[CallEvent], None]


class EventLog:
    """Collects a call's events in order and fans them out to sinks (recorder, metrics, file)."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self._sinks: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, t_ms: float, kind: EventKind, /, **data: Any) -> CallEvent:
        check_event(kind, data)
        ev = CallEvent(t_ms=round(float(t_ms), 1), kind=kind, data=data)
        self.events.append(ev)
        for sink in self._sinks:
            sink(ev)
        return ev

    def of_kind(self, kind: EventKind) -> list[CallEvent]:
        return [e for e in self.events if e.kind == kind]
