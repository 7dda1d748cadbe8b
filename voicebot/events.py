"""Call events: the timeline of a call, in audio time.

Every channel emits the same events; the replay writes them to ``events.jsonl``, the call
recorder stores them, the benchmark computes its figures from them. ``t_ms`` is milliseconds
of *audio time* since the call started (the caller's audio clock), so a replay on a virtual
clock and a live call produce comparable timelines.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from collections.abc import Callable

EventKind = Literal[
    "call_start",  # data: call_id, channel, caller, pipeline, dev_models
    "vad_start",  # caller speech onset decided by the VAD (t_ms = decision time; data.onset_ms)
    "vad_stop",  # caller speech end decided by the VAD (data.end_ms = last voiced audio)
    "turn_end",  # end of the caller's turn decided (VAD stop + end-of-turn check)
    "transcript",  # data: text, language, final, asr_ms, dev_model
    "dtmf",  # data: digit
    "bot_reply",  # data: text, language, intent, dialogue_ms
    "bot_speech_start",  # first bot audio frame reached the transport
    "bot_speech_stop",  # data: heard_text (what the caller heard), interrupted
    "bot_paused",  # tentative barge-in: bot audio paused at the transport
    "bot_resumed",
    "interruption",  # the caller's barge-in was confirmed; bot turn cancelled
    "action",  # data: kind (transfer|hangup|note), ...
    "error",  # data: where, message
    "call_end",  # data: reason, outcome
]


@dataclass(frozen=True)
class CallEvent:
    t_ms: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @staticmethod
    def from_json(line: str) -> CallEvent:
        d = json.loads(line)
        return CallEvent(t_ms=float(d["t_ms"]), kind=d["kind"], data=d.get("data") or {})


EventSink = Callable[[CallEvent], None]


class EventLog:
    """Collects a call's events in order and fans them out to sinks (recorder, metrics, file)."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self._sinks: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, t_ms: float, kind: str, /, **data: Any) -> CallEvent:
        ev = CallEvent(t_ms=round(float(t_ms), 1), kind=kind, data=data)
        self.events.append(ev)
        for sink in self._sinks:
            sink(ev)
        return ev

    def of_kind(self, kind: str) -> list[CallEvent]:
        return [e for e in self.events if e.kind == kind]
