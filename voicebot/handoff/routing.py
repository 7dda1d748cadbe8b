"""Who takes a caller: pure routing over agents, their languages, skills, hours and load.

``route(request, agents, now)`` returns a :class:`Decision` and never does I/O: the bridge
reads agents from the shared state, routes, and carries the decision out on the channel.

Order of preference:
1. an available agent who speaks the caller's language (and has the skill, when one is asked);
2. an available agent who uses live translation (``translation=True``) — the caller's words are
   translated for them and their typed replies are spoken in the caller's language;
3. every suitable agent is busy but on shift: queue, with a wait estimate;
4. nobody on shift: a callback request (the caller's number is known) or voicemail.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

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
    hours: tuple[int, int] = (9, 17)  # local working hours [start, end)
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # local weekdays worked (Monday = 0)
    max_load: int = 1  # concurrent calls
    load: int = 0
    status: AgentStatus = "offline"
    translation: bool = False  # accepts calls in other languages through live translation
    contact: str | None = None  # phone number / SIP URI / "client:name" for a voice bridge; None = desk only
    supervisor: bool = False

    def on_shift(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        start, end = self.hours
        in_hours = time(start % 24) <= local.time() < time(end % 24) if end < 24 else local.hour >= start
        return local.weekday() in self.days and in_hours

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


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    queue: str
    agents: tuple[str, ...] = ()  # agents to offer the call to, best first
    wait_s: float | None = None  # honest estimate; None = cannot say
    reason: str = ""


@dataclass(frozen=True)
class RoutingOptions:
    avg_handle_s: float = 300.0  # average handled-call length; the wait estimate scales with it
    offer_timeout_s: float = 20.0  # an offered call not accepted in this time goes to the next agent


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
    on_shift = [a for a in pool if a.on_shift(now) and a.status != "offline"]
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
    if req.caller_number:
        return Decision("callback", queue, reason="no agent on shift; callback to the caller's number")
    return Decision("voicemail", queue, reason="no agent on shift and no number to call back")


def without(decision: Decision, agent_id: str) -> Decision:
    return replace(decision, agents=tuple(a for a in decision.agents if a != agent_id))


# What the caller hears about the decision, in their language ({wait} is a whole number of minutes).
MESSAGES: dict[str, dict[DecisionKind | str, str]] = {
    "en": {
        "agent": "A colleague will be with you in a moment.",
        "agent_translated": "A colleague will be with you in a moment. Their messages are translated for you automatically.",
        "queue": "All our colleagues are busy. Your estimated wait is about {wait} minutes.",
        "callback": "Our team is not available right now. We will call you back at this number during opening hours.",
        "voicemail": "Our team is not available right now. Please leave a message after the tone.",
        "timeout": "Sorry, my colleague could not answer. I am trying someone else.",
        "back_to_bot": "I am sorry, no colleague could take your call. I am back with you; how can I help?",
        "connected": "You are now connected with {name}.",
        "agent_left": "Your colleague has been disconnected. I am back with you.",
    },
    "es": {
        "agent": "Un compañero le atenderá en un momento.",
        "agent_translated": "Un compañero le atenderá en un momento. Sus mensajes se le traducirán automáticamente.",
        "queue": "Todos nuestros compañeros están ocupados. La espera estimada es de unos {wait} minutos.",
        "callback": "Nuestro equipo no está disponible ahora. Le llamaremos a este número en horario de atención.",
        "voicemail": "Nuestro equipo no está disponible ahora. Deje su mensaje después de la señal.",
        "timeout": "Lo siento, mi compañero no ha podido contestar. Intento con otra persona.",
        "back_to_bot": "Lo siento, ningún compañero ha podido atenderle. Sigo con usted; ¿en qué puedo ayudarle?",
        "connected": "Ya está conectado con {name}.",
        "agent_left": "Su compañero se ha desconectado. Sigo con usted.",
    },
    "de": {
        "agent": "Ein Kollege ist gleich für Sie da.",
        "agent_translated": "Ein Kollege ist gleich für Sie da. Seine Nachrichten werden automatisch für Sie übersetzt.",
        "queue": "Alle Kollegen sind im Gespräch. Die geschätzte Wartezeit beträgt etwa {wait} Minuten.",
        "callback": "Unser Team ist gerade nicht erreichbar. Wir rufen Sie während der Öffnungszeiten unter dieser Nummer zurück.",
        "voicemail": "Unser Team ist gerade nicht erreichbar. Bitte hinterlassen Sie nach dem Ton eine Nachricht.",
        "timeout": "Entschuldigung, mein Kollege konnte nicht antworten. Ich versuche es bei jemand anderem.",
        "back_to_bot": "Leider konnte kein Kollege Ihren Anruf annehmen. Ich bin wieder für Sie da; wie kann ich helfen?",
        "connected": "Sie sind jetzt mit {name} verbunden.",
        "agent_left": "Ihr Kollege wurde getrennt. Ich bin wieder für Sie da.",
    },
    "fr": {
        "agent": "Un collègue va vous répondre dans un instant.",
        "agent_translated": "Un collègue va vous répondre dans un instant. Ses messages vous seront traduits automatiquement.",
        "queue": "Tous nos collègues sont occupés. L'attente estimée est d'environ {wait} minutes.",
        "callback": "Notre équipe n'est pas disponible. Nous vous rappellerons à ce numéro pendant les heures d'ouverture.",
        "voicemail": "Notre équipe n'est pas disponible. Laissez un message après le bip.",
        "timeout": "Désolé, mon collègue n'a pas pu répondre. J'essaie quelqu'un d'autre.",
        "back_to_bot": "Désolé, aucun collègue n'a pu prendre votre appel. Je reste avec vous ; comment puis-je vous aider ?",
        "connected": "Vous êtes maintenant en ligne avec {name}.",
        "agent_left": "Votre collègue a été déconnecté. Je reste avec vous.",
    },
}


def caller_message(key: str, language: str, **values: object) -> tuple[str, str]:
    """``(text, language)`` of a caller-facing line; languages without a table get English."""
    lang = language if language in MESSAGES else "en"
    wait = values.pop("wait_s", None)
    if wait is not None:
        values["wait"] = max(1, round(float(wait) / 60))  # type: ignore[arg-type]
    return MESSAGES[lang][key].format(**values), lang


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
