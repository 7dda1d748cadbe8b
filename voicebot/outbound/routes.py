"""The outbound routes ``voicebot.server`` mounts: Twilio's webhooks for calls the bot placed,
and the supervisor's campaign pages under ``/outbound`` (behind the agent desk's sign-in, like
/qa; starting and pausing take a supervisor). Handlers that touch the store run it in threads.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from voicebot.web_guard import refuse_cross_site
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from voicebot.logs import get_logger

from . import campaigns, pages
from .service import OutboundService, service_for
from .timezones import UnknownCountry, local_time, zones_for
from .twilio_routes import make_twilio_router

log = get_logger(__name__)
PREFIX = "/outbound"


def _name(user: Any) -> str | None:
    if user is None or isinstance(user, str):
        return user
    for attr in ("name", "username", "id"):
        value = user.get(attr) if isinstance(user, dict) else getattr(user, attr, None)
        if value:
            return str(value)
    return str(user)


def _supervisor(user: Any) -> bool:
    return bool(user.get("supervisor") if isinstance(user, dict) else getattr(user, "supervisor", False))


def _same_origin(request: Request) -> None:
    refuse_cross_site(request)  # the same rule as the desk and the QA pages: no Origin/Referer is refused too


def make_pages_router(svc: OutboundService, require_user: Any) -> APIRouter:
    store = svc.store
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_user)])

    def must_supervise(user: Any) -> None:
        if not _supervisor(user):
            raise HTTPException(403, "starting and pausing campaigns takes a supervisor account (voicebot agents add NAME --supervisor)")

    @router.get("", response_class=HTMLResponse)
    def overview(user: Any = Depends(require_user), message: str = "") -> str:
        rows = [(c, store.summary(c.id)) for c in store.campaigns()]
        return pages.list_page(rows, PREFIX, _name(user), _supervisor(user), message)

    @router.get("/campaigns/{name}", response_class=HTMLResponse)
    def campaign(name: str, user: Any = Depends(require_user)) -> str:
        c = store.campaign(name)
        if c is None:
            raise HTTPException(404, f"no campaign {name!r}")
        summary = store.summary(name)
        targets = store.targets(name)
        local: dict[str, str] = {}
        for t in targets:
            if t.next_at:
                try:
                    local[f"{t.customer_id}:{t.order_id}"] = local_time(t.next_at, zones_for(t.country, svc.options.time_zones)[0])
                except UnknownCountry:
                    local[f"{t.customer_id}:{t.order_id}"] = pages.ts(t.next_at)
        return pages.campaign_page(c, summary, campaigns.outcome_rows(summary), targets, store.attempts(name), PREFIX, _name(user),
                                   _supervisor(user), local)

    @router.get("/campaigns/{name}/summary.json")
    def campaign_json(name: str) -> JSONResponse:
        c = store.campaign(name)
        if c is None:
            raise HTTPException(404, f"no campaign {name!r}")
        live = [{"attempt": a.id, "state": a.state, "call_id": a.call_id} for a in store.attempts(name, live=True)]
        return JSONResponse({"campaign": c.__dict__, **store.summary(name), "live": live})

    @router.post("/campaigns")
    async def start(request: Request, user: Any = Depends(require_user)) -> Response:
        _same_origin(request)
        must_supervise(user)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        try:
            days = int(form.get("days", "2"))
            today = datetime.fromtimestamp(svc.clock.now(), UTC).date()
            orders = await asyncio.to_thread(lambda: svc.orders)
            result = await campaigns.start(store, orders, form.get("name", "").strip(), form.get("rule", ""), days,
                                           form.get("channel", svc.options.channel), svc.clock.now(), today, by=_name(user))
        except ValueError as exc:  # CampaignError, CampaignConflict, a bad number
            return RedirectResponse(f"{PREFIX}?message={quote(str(exc))}", status_code=303)
        msg = (f"Campaign {result.campaign.id}: {result.selected} orders match, {result.added} new"
               + ("" if result.created else " (it existed: nobody already in it is called again)"))
        return RedirectResponse(f"{PREFIX}?message={quote(msg)}", status_code=303)

    async def set_status(request: Request, name: str, status: str, user: Any) -> Response:
        _same_origin(request)
        must_supervise(user)
        try:
            await campaigns.set_status(store, name, status, svc.clock.now())
        except campaigns.CampaignError as exc:
            raise HTTPException(409, str(exc)) from None
        log.info("campaign status set on the page", extra={"campaign": name, "status": status, "by": _name(user)})
        return RedirectResponse(f"{PREFIX}/campaigns/{quote(name)}", status_code=303)

    @router.post("/campaigns/{name}/pause")
    async def pause(request: Request, name: str, user: Any = Depends(require_user)) -> Response:
        return await set_status(request, name, "paused", user)

    @router.post("/campaigns/{name}/resume")
    async def resume(request: Request, name: str, user: Any = Depends(require_user)) -> Response:
        return await set_status(request, name, "running", user)

    return router


def make_router(runtime: Any, require_user: Any = None) -> APIRouter:
    """What ``voicebot.server`` mounts. Without call records there are no campaigns: empty."""
    svc = service_for(runtime)
    router = APIRouter()
    if svc is None:
        return router
    router.include_router(make_twilio_router(svc))
    require_user = require_user or getattr(runtime, "require_user", None)
    if require_user is None:

        def require_user() -> None:
            raise HTTPException(503, "campaign pages need the agent desk's sign-in (runtime.require_user)")

    router.include_router(make_pages_router(svc, require_user))
    return router
