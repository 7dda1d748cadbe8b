"""Voicemail on the agent desk: list, listen, mark done (behind the desk sign-in).

``make_router(runtime)`` is mounted by voicebot.server (``ROUTERS``), over the hand-off service
the composition root installed; voicemails are taken once :func:`.service.attach_voicemail` gave
the bridge its :class:`~.voicemail_call.VoicemailService` (the composition root does). Agents see the voicemails in their languages; supervisors see all. Routes:

- ``GET /handoff/api/voicemails?status=new|done|all`` (default ``new``), newest first;
- ``GET /handoff/api/voicemails/{call_id}/audio`` the WAV;
- ``POST /handoff/api/voicemails/{call_id}/done`` ``{"done": true}`` (false: back to new);
- ``GET /desk/voicemail.js`` the desk's voicemail panel.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from voicebot.logs import get_logger
from voicebot.web_guard import json_api_guard
from voicebot.records.model import Voicemail

from .auth import User
from .routes import require_user
from .service import attach_voicemail, installed

__all__ = ["attach_voicemail", "make_router"]

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def visible(user: User, languages: tuple[str, ...], vm: Voicemail) -> bool:
    """Supervisors see every voicemail; agents those in their languages."""
    return user.supervisor or (vm.language or "") in languages


def item(vm: Voicemail) -> dict[str, Any]:
    return {"call_id": vm.call_id, "language": vm.language, "caller": vm.caller, "channel": vm.channel, "queue": vm.queue,
            "duration_s": vm.duration_s, "created_at": vm.created_at, "transcript": vm.transcript, "summary": vm.summary,
            "end_reason": vm.end_reason, "status": vm.status, "done_by": vm.done_by, "done_at": vm.done_at,
            "audio_url": f"/handoff/api/voicemails/{vm.call_id}/audio"}  # fmt: skip


def make_router(runtime: Any) -> APIRouter:
    installed(runtime)
    router = APIRouter()

    def store() -> Any:
        records = getattr(runtime, "records", None)
        if records is None:
            raise HTTPException(503, "call records are off, so there are no voicemails: open the record store (store.url) and restart")
        return records.store

    async def languages(user: User) -> tuple[str, ...]:
        agent = await installed(runtime).state.get_agent(user.id) or user.agent
        return tuple(agent.languages)

    async def voicemail_for(user: User, call_id: str) -> Voicemail:
        vm = await asyncio.to_thread(store().get_voicemail, call_id)
        if vm is None or not visible(user, await languages(user), vm):
            raise HTTPException(404, "no such voicemail for you")  # 404, not 403: do not reveal others'
        return vm

    @router.get("/desk/voicemail.js")
    async def voicemail_js() -> FileResponse:
        return FileResponse(STATIC / "voicemail.js", media_type="text/javascript")

    @router.get("/handoff/api/voicemails")
    async def voicemails(status: str = "new", user: User = Depends(require_user)) -> dict[str, Any]:
        if status not in ("new", "done", "all"):
            raise HTTPException(400, "status must be new, done or all")
        langs = None if user.supervisor else list(await languages(user))
        rows = await asyncio.to_thread(store().voicemails, langs, None if status == "all" else status)
        return {"voicemails": [item(vm) for vm in rows]}

    @router.get("/handoff/api/voicemails/{call_id}/audio")
    async def audio(call_id: str, user: User = Depends(require_user)) -> Response:
        vm = await voicemail_for(user, call_id)
        path = Path(vm.path)
        if not await asyncio.to_thread(path.is_file):
            log.warning("voicemail audio missing", extra={"call_id": call_id, "path": vm.path})
            raise HTTPException(404, "the voicemail's audio file is gone (retention or deleted by hand)")
        return FileResponse(path, media_type="audio/wav", filename=f"voicemail-{call_id}.wav")

    @router.post("/handoff/api/voicemails/{call_id}/done",
                 dependencies=[Depends(json_api_guard(lambda: getattr(getattr(runtime.settings, "server", None), "public_host", None)))])
    async def done(call_id: str, request: Request, user: User = Depends(require_user)) -> Response:
        try:
            body = await request.json()
        except Exception:
            body = {}
        mark = bool(body.get("done", True)) if isinstance(body, dict) else True
        await voicemail_for(user, call_id)
        status = "done" if mark else "new"
        await asyncio.to_thread(store().set_voicemail_status, call_id, status, user.id, time.time())
        log.info("voicemail marked", extra={"call_id": call_id, "status": status, "agent": user.id})
        return JSONResponse({"ok": True, "status": status})

    return router
