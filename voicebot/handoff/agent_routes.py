"""The desk's agent profiles and shift coverage: an agent edits their own shift, languages,
skills and status; a supervisor edits anyone's; every desk sees who is on shift per queue.

``GET  /handoff/api/agents``          the signed-in agent (a supervisor: every agent), with shift status
``POST /handoff/api/agents/{id}``     change ``languages``, ``skills``, ``hours``, ``timezone``, ``status``,
                                      ``translation``, ``name`` (yourself; a supervisor: anyone)
``GET  /handoff/api/coverage``        per queue: open, who is on shift, and when nobody is, why, until when
                                      and what callers get instead

Profiles are stored in the accounts database (they survive a restart); presence (status, load)
lives in the shared state. Bad values answer 400 with what to write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from voicebot.dialogue.nlu_types import LANGUAGES
from voicebot.logs import get_logger

from .auth import User
from .coverage import coverage, shift_status
from .hours import ShiftError, normalize_shift
from .routing import Agent

log = get_logger(__name__)

STATUSES = ("available", "away", "busy", "offline")


def _codes(value: Any, what: str, *, allowed: tuple[str, ...] | None = None, required: bool = False) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(x, str) for x in items):
        raise HTTPException(400, f"{what}: give a list or comma-separated text")
    codes = tuple(dict.fromkeys(x.strip().lower() for x in items if x.strip()))
    if required and not codes:
        raise HTTPException(400, f"{what}: give at least one")
    bad = [c for c in codes if allowed is not None and c not in allowed]
    if bad:
        raise HTTPException(400, f"{what}: {', '.join(bad)} not supported; use two-letter codes of {', '.join(allowed or ())}")
    if any(len(c) > 40 for c in codes):
        raise HTTPException(400, f"{what}: each name at most 40 characters")
    return codes


def changed_agent(agent: Agent, body: dict[str, Any], *, may_rename: bool) -> Agent:
    """``agent`` with the desk form's changes, validated; HTTP 400 naming the bad field."""
    changes: dict[str, Any] = {}
    if "languages" in body:
        changes["languages"] = _codes(body["languages"], "languages", allowed=LANGUAGES, required=True)
    if "skills" in body:
        changes["skills"] = _codes(body["skills"], "skills")
    if "status" in body:
        if body["status"] not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
        changes["status"] = body["status"]
    if "translation" in body:
        changes["translation"] = bool(body["translation"])
    if "name" in body and may_rename:
        name = str(body["name"]).strip()
        if not 1 <= len(name) <= 80:
            raise HTTPException(400, "name: 1 to 80 characters")
        changes["name"] = name
    try:
        if "hours" in body:
            changes["hours"] = normalize_shift(str(body["hours"]))
        if "timezone" in body:
            changes["timezone"] = str(body["timezone"]).strip()
        return replace(agent, **changes)  # Agent checks the shift against the time zone
    except ShiftError as exc:
        raise HTTPException(400, f"hours/timezone: {exc}") from None


def add_agent_routes(router: APIRouter, svc: Callable[[], Any], require_user: Callable[..., Any], guarded: list[Any],
                     settings: Any) -> None:
    """Mount the profile and coverage routes on the desk's router (``svc()`` gives the hand-off service)."""

    async def live(agent: Agent) -> Agent:
        """The stored profile with its presence (status, load) from the shared state."""
        current = await svc().state.get_agent(agent.id)
        return replace(agent, status=current.status, load=current.load) if current else agent

    def describe(a: Agent) -> dict[str, Any]:
        s = svc()
        return {"id": a.id, "name": a.name, "languages": list(a.languages), "skills": list(a.skills), "status": a.status,
                "load": a.load, "translation": a.translation, "supervisor": a.supervisor,
                **shift_status(a, s.bridge.now(), s.bridge.options.routing)}

    @router.get("/handoff/api/agents")
    async def agents(user: User = Depends(require_user)) -> dict[str, Any]:
        s = svc()
        stored = await asyncio.to_thread(s.accounts.list_agents) if user.supervisor else [user.agent]
        return {"agents": [describe(await live(a)) for a in stored], "you": user.id, "supervisor": user.supervisor}

    @router.post("/handoff/api/agents/{agent_id}", dependencies=guarded)
    async def edit(agent_id: str, request: Request, user: User = Depends(require_user)) -> dict[str, Any]:
        if agent_id != user.id and not user.supervisor:
            raise HTTPException(403, "you may change your own shift only; a supervisor changes other agents'")
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "send a JSON object") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "send a JSON object")
        s = svc()
        target = await asyncio.to_thread(s.accounts.get, agent_id)
        if target is None:
            raise HTTPException(404, f"no agent {agent_id!r}")
        agent = changed_agent(await live(target.agent), body, may_rename=user.supervisor)
        await asyncio.to_thread(s.accounts.update_profile, agent)
        if await s.state.get_agent(agent_id) is not None or "status" in body:
            await s.state.put_agent(agent)
        await s.state.publish({"type": "presence", "agent_id": agent_id, "status": agent.status})
        log.info("agent profile changed", extra={"agent": agent_id, "by": user.id, "fields": sorted(body)})
        return describe(agent)

    @router.get("/handoff/api/coverage")
    async def queues(user: User = Depends(require_user)) -> dict[str, Any]:
        s = svc()
        stored = {a.id: a for a in await asyncio.to_thread(s.accounts.list_agents)}
        for a in await s.state.agents():  # presence from the shared state, profile from the accounts
            base = stored.get(a.id, a)
            stored[a.id] = replace(base, status=a.status, load=a.load)
        shop_languages = tuple(getattr(getattr(settings, "shop", None), "languages", ()) or ())
        lines = coverage(list(stored.values()), s.bridge.now(), s.bridge.options.routing, s.options.voicemail, shop_languages,
                         takes_messages=s.bridge.voicemail is not None)
        return {"now": s.bridge.now().isoformat(timespec="minutes"), "queues": [c.to_dict() for c in lines]}
