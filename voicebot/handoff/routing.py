"""Who takes a caller: pure routing over agents, their languages, skills, hours and load.

``route(request, agents, now)`` returns a :class:`Decision` and never does I/O: the bridge
reads agents from the shared state, routes, and carries the decision out on the channel.
Hours are twofold: a queue's business hours (``handoff.hours`` / ``handoff.queues``, holidays
included) say when people take calls at all; each agent's own shift (``Agent.hours`` in their
time zone, :mod:`.hours`) says who is there. When nobody is, the decision says until when.

Order of preference:
1. an available agent who speaks the caller's language (and has the skill, when one is asked);
2. an available agent who uses live translation (``translation=True``) — the caller's words are
   translated for them and their typed replies are spoken in the caller's language;
3. every suitable agent is busy but on shift: queue, with a wait estimate;
4. nobody on shift: a callback request (the caller's number is known) or voicemail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from voicebot.dialogue.languages.handoff_lines import line as handoff_line
from voicebot.schedule import Schedule

from .hours import DEFAULT_SHIFT, legacy_shift, next_together, parse_shift

AgentStatus = Literal["available", "busy", "away", "offline"]
DecisionKind = Literal["agent", "agent_translated", "queue", "callback", "voicemail"]


@dataclass(frozen=True)
class Agent:
    """One human agent as routing sees them (presence lives in the shared state)."""

    id: str
    name: str
    languages: tuple[str, ...]  # ISO 639-1, best first
    skills: tuple[str, ...] = ()  # "returns", "payments", "vip", ...
    timezone: str = "UTC"  # IANA name
    hours: str = DEFAULT_SHIFT  # weekly shift in ``timezone``, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00" (see .hours)
    max_load: int = 1  # concurrent calls
    load: int = 0
    status: AgentStatus = "offline"
    translation: bool = False  # accepts calls in other languages through live translation
    contact: str | None = None  # phone number / SIP URI / "client:name" for a voice bridge; None = desk only
    supervisor: bool = False
    days: tuple[int, ...] | None = None  # only with the older ``hours=(start, end)`` form: weekdays (Monday = 0)

    def __post_init__(self) -> None:
        if not isinstance(self.hours, str):  # hours=(9, 17), days=(0, 1, 2, 3, 4): whole local hours
            object.__setattr__(self, "hours", legacy_shift(self.hours, self.days))
            object.__setattr__(self, "days", None)
        self.schedule  # noqa: B018 - an unreadable shift or time zone fails here, where it was given

    @property
    def schedule(self) -> Schedule:
        """The shift as a schedule in the agent's own time zone (cached per text and zone)."""
        return parse_shift(self.hours, self.timezone)

    def on_shift(self, now: datetime) -> bool:
        return self.schedule.is_open(now)

    def working_language(self, caller_language: str) -> str:
        """The language this agent reads and types on a call: the caller's when they speak it."""
        if caller_language in self.languages:
            return caller_language
        return self.languages[0] if self.languages else "en"

    @property
    def free(self) -> bool:
        return self.status == "available" and self.load < self.max_load


@dataclass(frozen=True)
class RouteRequest:
    call_id: str
    language: str
    skill: str | None = None  # queue name when it is a skill ("returns"), else None
    caller_number: str | None = None
    position: int = 0  # callers ahead of this one in the same queue
    exclude: frozenset[str] = frozenset()  # agents who already let this call time out


def agent_from_dict(d: dict[str, Any]) -> Agent:
    """An agent from stored JSON (Redis, the accounts' profiles), older ``hours=[9, 17], days=[...]`` rows included."""
    d = dict(d)
    for key in ("languages", "skills"):
        d[key] = tuple(d.get(key) or ())
    if not isinstance(d.get("hours", DEFAULT_SHIFT), str):
        d["hours"] = legacy_shift(d["hours"], d.get("days"))
    d.pop("days", None)
    known = set(Agent.__dataclass_fields__)
    return Agent(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    queue: str
    agents: tuple[str, ...] = ()  # agents to offer the call to, best first
    wait_s: float | None = None  # honest estimate; None = cannot say
    reason: str = ""
    next_open: datetime | None = None  # callback/voicemail: when an agent is next on shift for this queue (None: unknown)


@dataclass(frozen=True)
class RoutingOptions:
    avg_handle_s: float = 300.0  # average handled-call length; the wait estimate scales with it
    offer_timeout_s: float = 20.0  # an offered call not accepted in this time goes to the next agent
    hours: Schedule | None = None  # every queue's business hours (None: open whenever an agent is on shift)
    queue_hours: Mapping[str, Schedule] = field(default_factory=dict)  # per queue ("es", "returns", "es:returns")

    def hours_for(self, queue: str) -> Schedule | None:
        """A queue's hours: its own (``es:returns``, then ``returns``, then ``es``), else the common ones."""
        language, _, skill = queue.partition(":")
        for name in (queue, skill, language):
            if name and name in self.queue_hours:
                return self.queue_hours[name]
        return self.hours


def queue_name(language: str, skill: str | None) -> str:
    """A queue per language and skill: ``es``, ``es:returns``."""
    return f"{language}:{skill}" if skill and skill != language else language


def _score(a: Agent) -> tuple[int, str]:
    return (a.load, a.id)  # least loaded first; stable by id


def route(req: RouteRequest, agents: list[Agent], now: datetime, options: RoutingOptions = RoutingOptions()) -> Decision:
    queue = queue_name(req.language, req.skill)
    pool = [a for a in agents if a.id not in req.exclude and (not req.skill or req.skill in a.skills)]
    if req.skill and not pool:  # nobody has the skill: any agent beats no agent
        pool = [a for a in agents if a.id not in req.exclude]
    hours = options.hours_for(queue)
    queue_open = hours is None or hours.is_open(now)
    on_shift = [a for a in pool if queue_open and a.on_shift(now) and a.status != "offline"]
    speakers = [a for a in on_shift if req.language in a.languages]
    translators = [a for a in on_shift if req.language not in a.languages and a.translation]
    free_speakers = sorted((a for a in speakers if a.free), key=_score)
    if free_speakers:
        return Decision("agent", queue, tuple(a.id for a in free_speakers), wait_s=0.0, reason="speaks the caller's language")
    free_translators = sorted((a for a in translators if a.free), key=_score)
    if free_translators:
        return Decision("agent_translated", queue, tuple(a.id for a in free_translators), wait_s=0.0,
                        reason="no free agent speaks the language; live translation")
    staffed = speakers or translators
    if staffed:
        # Busy agents free up at about one handle time each: the caller waits for their turn in line.
        capacity = sum(a.max_load for a in staffed)
        wait = options.avg_handle_s * (req.position + 1) / capacity
        return Decision("queue", queue, tuple(a.id for a in sorted(staffed, key=_score)), wait_s=round(wait),
                        reason="every suitable agent is busy")
    why, next_open = closed_reason(req.language, queue, pool, now, hours, queue_open)
    if req.caller_number:
        return Decision("callback", queue, reason=why, next_open=next_open)
    return Decision("voicemail", queue, reason=why, next_open=next_open)


def closed_reason(language: str, queue: str, pool: list[Agent], now: datetime, hours: Schedule | None,
                  queue_open: bool) -> tuple[str, datetime | None]:
    """Why nobody takes this queue's call now, and when someone next will (their shift inside the queue's hours)."""
    able = [a for a in pool if language in a.languages or a.translation]
    starts = [t for a in able if (t := next_together(now, a.schedule, hours)) is not None]
    next_open = min(starts, key=lambda t: t.timestamp()) if starts else None
    until = f" until {next_open.isoformat(timespec='minutes')}" if next_open else ""
    if not queue_open and hours is not None:
        return f"queue {queue} closed ({hours.summary()}){until}", next_open
    if not able:
        return f"no agent speaks {language} or takes translated calls", None
    signed_out = sorted(a.id for a in able if a.on_shift(now))
    if signed_out:
        return f"no agent on shift for queue {queue} is signed in to the desk ({', '.join(signed_out)} on shift)", None
    return f"no agent on shift for queue {queue}{until}", next_open


def without(decision: Decision, agent_id: str) -> Decision:
    return replace(decision, agents=tuple(a for a in decision.agents if a != agent_id))


def caller_message(key: str, language: str, **values: object) -> tuple[str, str]:
    """``(text, language)`` of what the caller hears about the decision (``{wait}``: whole minutes),
    from the language pack's ``handoff.yaml`` (``routing:``); a line the pack lacks is English."""
    wait = values.pop("wait_s", None)
    if wait is not None:
        values["wait"] = max(1, round(float(wait) / 60))  # type: ignore[arg-type]
    said = handoff_line("routing", key, language)
    return said.text.format(**values), said.language


@dataclass
class QueueStats:
    """Observed handle times, so the wait estimate follows reality rather than a constant."""

    handled_s: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.handled_s = (self.handled_s + [seconds])[-50:]

    def options(self, base: RoutingOptions) -> RoutingOptions:
        if len(self.handled_s) < 3:
            return base
        return replace(base, avg_handle_s=sum(self.handled_s) / len(self.handled_s))
