"""Who is on shift for each queue, and what callers get when nobody is (for the desk; pure).

The desk shows this as a plain banner ("nobody on shift for es until Monday 09:00; phone
callers leave a voicemail, web chats stay with the bot") and under each agent's own shift
("you are off shift until ..."), from the same routing rules the bridge uses, so what the desk
says is what a caller gets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .hours import next_together, say_when
from .options import VoicemailOptions
from .routing import Agent, RoutingOptions, closed_reason


@dataclass
class QueueCoverage:
    queue: str
    open: bool  # inside the queue's business hours (True when it has none)
    hours: str | None  # the queue's hours, for people (None: follows the agents' shifts)
    on_shift: list[str] = field(default_factory=list)  # agents on shift and signed in (any status but offline)
    available: list[str] = field(default_factory=list)  # ... and free to take a call now
    reason: str = ""  # why nobody takes calls now ("" when someone does), as the log says it
    why: str = ""  # the same for the desk, when it is more than "nobody on shift": the queue closed, agents signed out
    next_open: str | None = None  # ISO: when someone next is on shift for it
    next_open_text: str | None = None  # the same for people: "on Monday at 09:00 (Europe/Madrid)"
    instead: dict[str, str] = field(default_factory=dict)  # caller kind -> what they get now: voicemail | callback | bot

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def instead_of_agent(voicemail: VoicemailOptions, takes_messages: bool = True) -> dict[str, str]:
    """What each kind of caller gets when nobody can take them (the bridge's rule, ``HandoffBridge._instead``).
    ``takes_messages``: this server runs the voicemail service (records with recordings on)."""
    recorded = "voicemail" if voicemail.enabled and takes_messages else None
    return {
        "phone": "voicemail" if recorded and voicemail.instead_of_callback else "callback",  # the number is known
        "phone_unknown_number": recorded or "bot",
        "web_voice": recorded or "bot",
        "web_text": "bot",  # a typed chat has no audio to leave a message with
    }


def queue_coverage(queue: str, agents: list[Agent], now: datetime, routing: RoutingOptions, voicemail: VoicemailOptions,
                   takes_messages: bool = True) -> QueueCoverage:
    hours = routing.hours_for(queue)
    is_open = hours is None or hours.is_open(now)
    language = queue.partition(":")[0]
    speakers = [a for a in agents if language in a.languages or a.translation]
    on_shift = [a for a in speakers if is_open and a.on_shift(now) and a.status != "offline"]
    cov = QueueCoverage(queue, is_open, hours.summary() if hours else None, sorted(a.name for a in on_shift),
                        sorted(a.name for a in on_shift if a.free))
    if not on_shift:
        cov.reason, next_open = closed_reason(language, queue, speakers, now, hours, is_open)
        cov.why = "" if cov.reason.startswith(f"no agent on shift for queue {queue} until") else cov.reason
        cov.next_open = next_open.isoformat(timespec="minutes") if next_open else None
        cov.next_open_text = say_when(next_open, now, "en")[0] if next_open else None
        cov.instead = instead_of_agent(voicemail, takes_messages)
    return cov


def coverage(agents: list[Agent], now: datetime, routing: RoutingOptions, voicemail: VoicemailOptions,
             languages: tuple[str, ...] = (), takes_messages: bool = True) -> list[QueueCoverage]:
    """One line per queue: each language an agent speaks or the shop serves, and each queue with its own hours."""
    queues = sorted({lang for a in agents for lang in a.languages} | set(languages) | set(routing.queue_hours))
    return [queue_coverage(q, agents, now, routing, voicemail, takes_messages) for q in queues]


def shift_status(agent: Agent, now: datetime, routing: RoutingOptions) -> dict[str, Any]:
    """An agent's own shift as the desk shows it: on shift now, and when the next shift starts or this one ends."""
    queue_hours = [routing.hours_for(lang) for lang in agent.languages] or [routing.hours]
    on_shift = agent.on_shift(now)
    starts = [t for h in queue_hours if (t := next_together(now, agent.schedule, h)) is not None]
    next_start = min(starts, key=lambda t: t.timestamp()) if starts and not on_shift else None
    ends = agent.schedule.next_close(now) if on_shift else None
    closed_queues = [lang for lang, h in zip(agent.languages, queue_hours) if h is not None and not h.is_open(now)]
    return {"on_shift": on_shift, "shift": agent.schedule.summary(), "hours": agent.hours, "timezone": agent.timezone,
            "next_shift": next_start.isoformat(timespec="minutes") if next_start else None,
            "next_shift_text": say_when(next_start, now, "en")[0] if next_start else None,
            "shift_ends": ends.isoformat(timespec="minutes") if ends else None,
            "shift_ends_text": say_when(ends, now, "en")[0] if ends else None,
            "closed_queues": closed_queues}
