"""The agent desk: sign-in, presence, queue, accept, context card, live transcript, typed replies,
and Talk (the agent's voice over WebRTC, :mod:`.agent_media`).

``make_router(runtime)`` is mounted by voicebot.server. ``require_user`` is a FastAPI dependency
other pages (QA) reuse: it returns the signed-in :class:`~.auth.User` or answers 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import FileResponse, JSONResponse

from voicebot.channels.webrtc.protocol import MAX_SIGNAL_BYTES, Offer, parse_offer
from voicebot.channels.webrtc.tokens import normalize_origin, origin_allowed
from voicebot.logs import get_logger
from voicebot.web_guard import json_api_guard, request_origin

from .agent_media import TalkRefused
from .agent_routes import add_agent_routes
from .auth import AuthError, User
from .context import build_card
from .coverage import shift_status
from .options import HandoffOptions
from .service import HandoffService, installed, service_for, shop_hours
from .state import Ticket

__all__ = ["HandoffOptions", "HandoffService", "make_router", "require_user", "service_for", "shop_hours"]

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "desk_session"


def _token(request: Request | WebSocket) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return request.cookies.get(COOKIE)


async def require_user(request: Request) -> User:
    """FastAPI dependency: the signed-in agent or supervisor; 401 otherwise."""
    svc = installed(request.app.state.runtime)
    try:
        return await asyncio.to_thread(svc.accounts.user_for, _token(request))
    except AuthError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from None


def visible(user: User, t: Ticket) -> bool:
    """An agent sees their own calls and open calls they could take; a supervisor sees all."""
    if user.supervisor or t.agent_id == user.id:
        return True
    if t.agent_id is not None:
        return False
    a = user.agent
    return t.state in ("queued", "offered") and (t.language in a.languages or a.translation)


def _summary(t: Ticket) -> dict[str, Any]:
    return {"call_id": t.call_id, "state": t.state, "language": t.language, "queue": t.queue, "channel": t.channel,
            "offered_to": t.offered_to, "agent_id": t.agent_id, "agent_name": t.agent_name, "wait_s": t.wait_s,
            "next_open": t.next_open, "created_at": t.created_at,
            "reason": t.context.reason or None, "summary": t.context.summary, "translated": t.translated}


def make_router(runtime: Any) -> APIRouter:
    """The desk's pages and API over the runtime's hand-off service (installed by the composition
    root, :func:`.service.service_for`; a missing one is an error here, not created)."""
    installed(runtime)
    router = APIRouter()

    def svc() -> HandoffService:
        return installed(runtime)

    # Every state-changing desk call: from the desk's own page, as JSON (see voicebot.web_guard).
    guarded = [Depends(json_api_guard(lambda: getattr(getattr(runtime.settings, "server", None), "public_host", None)))]

    @router.get("/desk")
    async def desk() -> FileResponse:
        return FileResponse(STATIC / "desk.html", media_type="text/html")

    @router.get("/desk/desk.js")
    async def desk_js() -> FileResponse:
        return FileResponse(STATIC / "desk.js", media_type="text/javascript")

    @router.get("/desk/shifts.js")
    async def shifts_js() -> FileResponse:
        return FileResponse(STATIC / "shifts.js", media_type="text/javascript")

    @router.post("/handoff/api/login", dependencies=guarded)
    async def login(request: Request) -> Response:
        started = time.monotonic()
        body = await _json(request)
        s = svc()
        agent_id = str(body.get("id", ""))[:200]
        address = request.client.host if request.client else "unknown"
        keys = (f"id:{agent_id}", f"ip:{address}")

        async def refused(status: int, message: str, **headers: str) -> Response:
            # Every refusal answers after the same floor, known id or not (scrypt ran, or did not).
            await asyncio.sleep(max(0.0, s.options.login_failure_floor_s - (time.monotonic() - started)))
            return JSONResponse({"error": message}, status_code=status, headers=headers)

        wait = max(s.ids.retry_after(keys[0]), s.addresses.retry_after(keys[1]))
        if wait > 0:
            log.warning("desk sign-in locked out", extra={"agent": agent_id, "client": address, "retry_after_s": round(wait)})
            return await refused(429, f"too many failed sign-ins; try again in {max(1, round(wait / 60))} min",
                                 **{"Retry-After": str(int(wait) + 1)})
        try:
            token, user = await asyncio.to_thread(s.accounts.sign_in, agent_id, str(body.get("password", "")))
        except AuthError as exc:
            s.ids.failed(keys[0])
            s.addresses.failed(keys[1])
            log.info("desk sign-in failed", extra={"agent": agent_id, "client": address})
            return await refused(401, str(exc))
        s.ids.succeeded(keys[0])
        await s.ensure_started()
        current = await s.state.get_agent(user.id)
        await s.state.put_agent(replace(user.agent, status="available", load=current.load if current else 0))
        resp = JSONResponse({"id": user.id, "name": user.agent.name, "role": user.role, "languages": list(user.agent.languages)})
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=s.options.secure_cookie, max_age=int(s.options.session_ttl_s))
        return resp

    @router.post("/handoff/api/logout", dependencies=guarded)
    async def logout(request: Request, user: User = Depends(require_user)) -> Response:
        s = svc()
        await asyncio.to_thread(s.accounts.sign_out, _token(request) or "")
        await _set_status(s, user, "offline")
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(COOKIE)
        return resp

    @router.get("/handoff/api/me")
    async def me(user: User = Depends(require_user)) -> dict[str, Any]:
        s = svc()
        a = await s.state.get_agent(user.id) or user.agent
        return {"id": user.id, "name": a.name, "role": user.role, "languages": list(a.languages), "status": a.status,
                "load": a.load, "translation": a.translation, "skills": list(a.skills),
                **shift_status(a, s.bridge.now(), s.bridge.options.routing)}

    add_agent_routes(router, svc, require_user, guarded, runtime.settings)

    @router.post("/handoff/api/status", dependencies=guarded)
    async def status(request: Request, user: User = Depends(require_user)) -> dict[str, Any]:
        body = await _json(request)
        st = body.get("status", "available")
        if st not in ("available", "away", "offline", "busy"):
            raise HTTPException(400, "status must be available, away, busy or offline")
        s = svc()
        langs = body.get("languages")
        if langs is not None:
            langs = tuple(x.strip() for x in langs if isinstance(x, str) and len(x.strip()) == 2)
            if not langs:
                raise HTTPException(400, "give at least one two-letter language code")
        await _set_status(s, user, st, langs)
        return {"ok": True, "status": st}

    @router.get("/handoff/api/queue")
    async def queue(user: User = Depends(require_user)) -> dict[str, Any]:
        s = svc()
        me_agent = await s.state.get_agent(user.id) or user.agent
        u = replace(user, agent=me_agent)
        items = [_summary(t) for t in await s.state.tickets() if visible(u, t)]
        items.sort(key=lambda x: x["created_at"])
        return {"calls": items}

    async def _ticket_for(user: User, call_id: str) -> Ticket:
        s = svc()
        t = await s.state.get_ticket(call_id)
        me_agent = await s.state.get_agent(user.id) or user.agent
        if t is None or not visible(replace(user, agent=me_agent), t):
            raise HTTPException(404, "no such call for you")  # 404, not 403: do not reveal others' calls
        return t

    @router.get("/handoff/api/calls/{call_id}")
    async def card(call_id: str, user: User = Depends(require_user)) -> dict[str, Any]:
        s = svc()
        t = await _ticket_for(user, call_id)
        a = await s.state.get_agent(user.id) or user.agent
        c = await build_card(call_id, t.context, t.language, a.working_language(t.language), s.bridge.translator)
        return {"ticket": _summary(t), "card": c.to_dict(), "live": t.transcript, "history": t.history}

    @router.post("/handoff/api/calls/{call_id}/accept", dependencies=guarded)
    async def accept(call_id: str, user: User = Depends(require_user)) -> Response:
        s = svc()
        await _ticket_for(user, call_id)
        a = await s.state.get_agent(user.id) or user.agent
        if not await s.bridge.accept(call_id, a):
            return JSONResponse({"ok": False, "error": "another agent took this call, or it has ended"}, status_code=409)
        await asyncio.to_thread(s.accounts.note_taken, call_id, user.id)  # the call's record is theirs to read in QA
        return JSONResponse({"ok": True})

    @router.post("/handoff/api/calls/{call_id}/say", dependencies=guarded)
    async def say(call_id: str, request: Request, user: User = Depends(require_user)) -> Response:
        body = await _json(request)
        text = str(body.get("text", "")).strip()
        if not text or len(text) > 1000:
            raise HTTPException(400, "type 1 to 1000 characters")
        s = svc()
        a = await s.state.get_agent(user.id) or user.agent
        try:
            line = await s.bridge.agent_text(call_id, a, text)
        except PermissionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"ok": True, "line": line})

    @router.post("/handoff/api/calls/{call_id}/release", dependencies=guarded)
    async def release(call_id: str, request: Request, user: User = Depends(require_user)) -> Response:
        body = await _json(request)
        s = svc()
        a = await s.state.get_agent(user.id) or user.agent
        try:
            await s.bridge.release(call_id, a, bool(body.get("back_to_bot")))
        except PermissionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        return JSONResponse({"ok": True})

    def own_origin(request: Request) -> str | None:
        public = getattr(getattr(runtime.settings, "server", None), "public_host", None)
        return _origin("https", public) if public else _origin(request.url.scheme, request.headers.get("host"))

    @router.post("/handoff/api/calls/{call_id}/talk", dependencies=guarded)
    async def talk(call_id: str, request: Request, user: User = Depends(require_user)) -> Response:
        """The desk's SDP offer (agent's microphone) -> aiortc's answer (caller's audio); JSON errors."""
        origin = request.headers.get("origin")
        try:
            own = own_origin(request)
            if not origin_allowed(origin, (), own):
                raise TalkRefused(403, f"Talk works only from the desk this bot serves: open it at {own or 'the bot'}/desk "
                                       f"(server.public_host), not from origin {origin or 'none'}")
            offer = parse_talk_offer(await _read_limited(request, MAX_SIGNAL_BYTES))
            _leg, answer = await svc().media.open(call_id, user.id, offer.sdp, offer.type)
        except TalkRefused as exc:
            log.warning("talk refused", extra={"call_id": call_id, "agent": user.id, "status": exc.status, "reason": str(exc)})
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse(answer)

    @router.delete("/handoff/api/calls/{call_id}/talk", dependencies=guarded)
    async def stop_talking(call_id: str, user: User = Depends(require_user)) -> Response:
        """The agent hangs up Talk; the call goes on (typed replies, or Talk again)."""
        media = svc().media
        leg = media.legs.get(call_id)
        if leg is None or (leg.agent_id != user.id and not user.supervisor):
            return JSONResponse({"ok": False, "error": "you are not talking on this call"}, status_code=404)
        await media.close(call_id, "agent_hung_up_talk")
        return JSONResponse({"ok": True})

    @router.websocket("/handoff/ws")
    async def ws(websocket: WebSocket) -> None:
        s = svc()
        public = getattr(getattr(runtime.settings, "server", None), "public_host", None)
        came_from = request_origin(websocket)  # type: ignore[arg-type]  # headers only
        if came_from is not None and came_from not in {h.lower() for h in (websocket.headers.get("host"), public) if h}:
            await websocket.close(code=1008)  # another site's page must not read the desk's events
            return
        try:
            user = await asyncio.to_thread(s.accounts.user_for, _token(websocket))
        except AuthError:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await s.ensure_started()
        events = s.state.subscribe()
        try:
            async def pump() -> None:
                async for event in events:
                    if user.supervisor or event.get("agent_id") in (None, user.id) or event.get("offered_to") == user.id:
                        await websocket.send_json(event)

            async def reader() -> None:
                while True:
                    await websocket.receive_text()  # pings; a closed socket raises

            tasks = [asyncio.create_task(pump()), asyncio.create_task(reader())]
            await websocket.send_json({"type": "hello", "agent_id": user.id})
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            for t in done:  # a desk that went away ends its reader with WebSocketDisconnect: expected
                if not t.cancelled():
                    t.exception()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()
            # The desk is gone: no more offers; a live call goes back to the bot, the caller told.
            await _set_status(s, user, "offline")
            await s.bridge.agent_gone(user.id)

    @router.post("/handoff/twilio/queue-result")
    async def queue_result(request: Request) -> Response:
        """Twilio <Enqueue action=...>: the caller left the queue (QueueResult=hangup, bridged, ...)."""
        from voicebot.channels.twilio.signature import SignatureVerifier

        tw = runtime.settings.twilio
        form = await request.form()
        check = SignatureVerifier(tw.auth_token, runtime.settings.server.public_host, tw.verify_signatures).check(str(request.url), request.headers, form)
        if not check.ok:
            return Response(status_code=403)
        if form.get("QueueResult") in ("hangup", "error", "system-error"):
            await svc().bridge.caller_hung_up(str(form.get("CallSid", "")))
        return Response("<Response/>", media_type="application/xml")

    return router


async def _set_status(s: HandoffService, user: User, status: str, languages: tuple[str, ...] | None = None) -> None:
    current = await s.state.get_agent(user.id) or user.agent
    agent = replace(current, status=status, languages=languages or current.languages)  # type: ignore[arg-type]
    await s.state.put_agent(agent)
    if languages:
        await asyncio.to_thread(s.accounts.update_profile, agent)
    await s.state.publish({"type": "presence", "agent_id": user.id, "status": status})


def _origin(scheme: str, host: str | None) -> str | None:
    if not host:
        return None
    try:
        return normalize_origin(f"{scheme}://{host}")
    except ValueError:
        return None


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TalkRefused(413, f"signalling message of {declared} bytes is over the {limit}-byte limit")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TalkRefused(413, f"signalling message is over the {limit}-byte limit")
    return body


def parse_talk_offer(body: bytes) -> Offer:
    """``{sdp, type: "offer"}`` from the desk (the in-app offer's shape; the session cookie replaces the token)."""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            data = {**data, "token": "desk-session"}
        return parse_offer(json.dumps(data).encode(), MAX_SIGNAL_BYTES + 100)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TalkRefused(413 if getattr(exc, "code", "") == "too_large" else 400, f"bad talk offer: {exc}") from None


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except Exception:
        raise HTTPException(400, "send a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "send a JSON object")
    return body
