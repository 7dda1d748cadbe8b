"""Shared hand-off state: agent presence, tickets (calls waiting for or with a person), events.

:class:`HandoffState` is the interface. :class:`MemoryState` serves one bot process;
:class:`RedisState` lets several bot processes serve one team (redis-py's asyncio client).
``claim`` is atomic in both: of two agents accepting the same call exactly one gets it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from voicebot.core import ContextPacket

from .routing import Agent, agent_from_dict

TicketState = Literal["queued", "offered", "accepted", "bridged", "ended", "abandoned", "returned", "callback", "voicemail"]
OPEN_STATES = ("queued", "offered")
LIVE_STATES = ("queued", "offered", "accepted", "bridged")


@dataclass
class Ticket:
    """One caller handed to people. Kept after the call ends (the record of what happened)."""

    call_id: str
    channel: str
    language: str
    queue: str
    context: ContextPacket = field(default_factory=ContextPacket)
    state: TicketState = "queued"
    offered_to: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None  # who took it, as the caller and QA see them
    mode: str = ""  # "voice" (Dial/REFER/WebRTC) or "relay" (agent types, the bot speaks)
    translated: bool = False
    wait_s: float | None = None
    next_open: str | None = None  # nobody on shift: when someone next is (ISO, the queue's or agent's zone)
    created_at: float = field(default_factory=time.time)
    history: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)  # live lines after the hand-off

    def __post_init__(self) -> None:
        if not isinstance(self.context, ContextPacket):  # read back from JSON
            self.context = ContextPacket.from_dict(self.context)

    def log(self, what: str, **data: Any) -> None:
        self.history.append({"t": round(time.time(), 3), "what": what, **data})

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @staticmethod
    def from_json(text: str | bytes) -> Ticket:
        return Ticket(**json.loads(text))


def agent_to_json(agent: Agent) -> str:
    return json.dumps(asdict(agent))


def agent_from_json(text: str | bytes) -> Agent:
    return agent_from_dict(json.loads(text))


class HandoffState(Protocol):
    async def put_agent(self, agent: Agent) -> None: ...
    async def get_agent(self, agent_id: str) -> Agent | None: ...
    async def agents(self) -> list[Agent]: ...
    async def change_load(self, agent_id: str, delta: int) -> None: ...
    async def put_ticket(self, ticket: Ticket) -> None: ...
    async def get_ticket(self, call_id: str) -> Ticket | None: ...
    async def tickets(self) -> list[Ticket]: ...
    async def claim(self, call_id: str, agent_id: str) -> bool:
        """Atomically give an open ticket to ``agent_id``; False if someone else has it or it is closed."""
    async def publish(self, event: dict[str, Any]) -> None: ...
    def subscribe(self) -> AsyncIterator[dict[str, Any]]: ...
    async def aclose(self) -> None: ...


class MemoryState:
    """In-process state (one bot process). The lock makes ``claim`` atomic for threads too."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.Lock()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    async def put_agent(self, agent: Agent) -> None:
        with self._lock:
            self._agents[agent.id] = agent

    async def get_agent(self, agent_id: str) -> Agent | None:
        return self._agents.get(agent_id)

    async def agents(self) -> list[Agent]:
        return list(self._agents.values())

    async def change_load(self, agent_id: str, delta: int) -> None:
        from dataclasses import replace

        with self._lock:
            if a := self._agents.get(agent_id):
                self._agents[agent_id] = replace(a, load=max(0, a.load + delta))

    async def put_ticket(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets[ticket.call_id] = Ticket.from_json(ticket.to_json())  # a copy: no aliasing

    async def get_ticket(self, call_id: str) -> Ticket | None:
        t = self._tickets.get(call_id)
        return Ticket.from_json(t.to_json()) if t else None

    async def tickets(self) -> list[Ticket]:
        return [Ticket.from_json(t.to_json()) for t in self._tickets.values()]

    async def claim(self, call_id: str, agent_id: str) -> bool:
        with self._lock:
            t = self._tickets.get(call_id)
            if t is None or t.state not in OPEN_STATES:
                return False
            t.state, t.agent_id = "accepted", agent_id
            t.log("accepted", agent=agent_id)
            return True

    async def publish(self, event: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            q.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._subscribers.discard(q)

    async def aclose(self) -> None:
        pass


# KEYS[1] = ticket key; ARGV[1] = agent id, ARGV[2] = now. Runs atomically inside Redis.
_CLAIM_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local t = cjson.decode(raw)
if t['state'] ~= 'queued' and t['state'] ~= 'offered' then return 0 end
t['state'] = 'accepted'
t['agent_id'] = ARGV[1]
table.insert(t['history'], {t = tonumber(ARGV[2]), what = 'accepted', agent = ARGV[1]})
redis.call('SET', KEYS[1], cjson.encode(t))
return 1
"""

_LOAD_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local a = cjson.decode(raw)
a['load'] = math.max(0, a['load'] + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], cjson.encode(a))
return 1
"""


class RedisState:
    """State in Redis for several bot processes (``redis://host:port/db``)."""

    def __init__(self, url: str, prefix: str = "voicebot:handoff:") -> None:
        import redis.asyncio as redis  # optional dependency: pip install redis

        self.redis = redis.from_url(url)
        self.prefix = prefix
        self._claim = self.redis.register_script(_CLAIM_LUA)
        self._load = self.redis.register_script(_LOAD_LUA)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def put_agent(self, agent: Agent) -> None:
        await self.redis.set(self._k("agent", agent.id), agent_to_json(agent))
        await self.redis.sadd(self._k("agents"), agent.id)

    async def get_agent(self, agent_id: str) -> Agent | None:
        raw = await self.redis.get(self._k("agent", agent_id))
        return agent_from_json(raw) if raw else None

    async def agents(self) -> list[Agent]:
        ids = sorted(x.decode() for x in await self.redis.smembers(self._k("agents")))
        raws = await self.redis.mget([self._k("agent", i) for i in ids]) if ids else []
        return [agent_from_json(r) for r in raws if r]

    async def change_load(self, agent_id: str, delta: int) -> None:
        # cjson turns empty Lua tables into {} rather than []; tuples of agents are never empty
        # except skills/days, which agent_from_json turns back into tuples either way.
        await self._load(keys=[self._k("agent", agent_id)], args=[delta])

    async def put_ticket(self, ticket: Ticket) -> None:
        await self.redis.set(self._k("ticket", ticket.call_id), ticket.to_json())
        await self.redis.sadd(self._k("tickets"), ticket.call_id)

    async def get_ticket(self, call_id: str) -> Ticket | None:
        raw = await self.redis.get(self._k("ticket", call_id))
        return _ticket(raw) if raw else None

    async def tickets(self) -> list[Ticket]:
        ids = sorted(x.decode() for x in await self.redis.smembers(self._k("tickets")))
        raws = await self.redis.mget([self._k("ticket", i) for i in ids]) if ids else []
        return [_ticket(r) for r in raws if r]

    async def claim(self, call_id: str, agent_id: str) -> bool:
        return bool(await self._claim(keys=[self._k("ticket", call_id)], args=[agent_id, time.time()]))

    async def publish(self, event: dict[str, Any]) -> None:
        await self.redis.publish(self._k("events"), json.dumps(event, ensure_ascii=False, default=str))

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self._k("events"))
        try:
            async for msg in pubsub.listen():
                if msg.get("type") == "message":
                    yield json.loads(msg["data"])
        finally:
            await pubsub.aclose()

    async def aclose(self) -> None:
        await self.redis.aclose()


def _ticket(raw: bytes) -> Ticket:
    d = json.loads(raw)
    d["context"] = d.get("context") or {}  # cjson encodes an empty table as {}: Ticket reads lists back itself
    for key in ("history", "transcript"):  # ... but an empty list comes back as {}
        if not isinstance(d.get(key), list):
            d[key] = []
    return Ticket(**d)


def make_state(url: str | None) -> HandoffState:
    """``None``/``""``/``memory`` = in-process; ``redis://...`` = Redis."""
    if not url or url == "memory":
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisState(url)
    raise ValueError(f"handoff state URL {url!r}: use 'memory' or redis://host:port/db")
