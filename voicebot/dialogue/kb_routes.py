"""The knowledge-base and catalogue page (``/shop/kb``) and its JSON API, for supervisors.

Signed in with the agent desk's accounts (``runtime.require_user``: the same session cookie);
only the supervisor role may read or change the knowledge base. Changes go through
:class:`~voicebot.dialogue.kb_editor.KbEditor`: checked, written, and served to new calls at once.
State-changing requests must come from this server's own page, as JSON (``voicebot.web_guard``).
"""

from __future__ import annotations

import asyncio
import html
import inspect
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from ..web_guard import json_api_guard
from .engine import options_from_settings
from .kb_editor import KbEditError, KbEditor

STATIC = Path(__file__).resolve().parent / "static"
PAGE = "/shop/kb"

_REFUSED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Knowledge base</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;line-height:1.5}}</style></head>
<body><h1>Knowledge base</h1><p role="alert">{message}</p><p><a href="/desk">Open the agent desk to sign in</a>, then come back to
<a href="{page}">{page}</a>.</p></body></html>"""


def _is_supervisor(user: Any) -> bool:
    if isinstance(user, dict):
        return user.get("role") == "supervisor" or bool(user.get("supervisor"))
    return bool(getattr(user, "supervisor", False)) or getattr(user, "role", None) == "supervisor"


def make_router(runtime: Any) -> APIRouter:
    router = APIRouter()
    settings = runtime.settings
    editor = KbEditor(settings, options_from_settings(settings), engines=getattr(runtime, "loaded_engines", lambda: []))
    guarded = [Depends(json_api_guard(lambda: getattr(getattr(settings, "server", None), "public_host", None)))]

    async def user_of(request: Request) -> Any:
        require = getattr(runtime, "require_user", None)
        if require is None:
            raise HTTPException(503, "the knowledge-base page needs the agent desk's sign-in, which is not available")
        user = require(request)
        return await user if inspect.isawaitable(user) else user

    async def supervisor(request: Request) -> Any:
        user = await user_of(request)
        if not _is_supervisor(user):
            raise HTTPException(403, "only supervisors may change the knowledge base")
        return user

    @router.get(PAGE, response_class=HTMLResponse)
    async def page(request: Request) -> HTMLResponse:
        try:
            await supervisor(request)
        except HTTPException as exc:
            message = "Sign in as a supervisor to edit the knowledge base." if exc.status_code == 401 else html.escape(str(exc.detail))
            return HTMLResponse(_REFUSED.format(message=message, page=PAGE), status_code=exc.status_code)
        return HTMLResponse((STATIC / "kb.html").read_text(encoding="utf-8"))

    @router.get("/shop/kb.js")
    async def script() -> FileResponse:
        return FileResponse(STATIC / "kb.js", media_type="text/javascript")

    @router.get("/shop/api/kb", dependencies=[Depends(supervisor)])
    async def listing() -> dict[str, Any]:
        return await asyncio.to_thread(editor.listing)

    async def run(fn: Any, *args: Any) -> JSONResponse:
        try:
            return JSONResponse({"ok": True, **await asyncio.to_thread(fn, *args)})
        except KbEditError as exc:
            return JSONResponse({"ok": False, "problems": exc.problems}, status_code=exc.status)

    @router.put("/shop/api/kb/entries/{entry_id}", dependencies=[*guarded, Depends(supervisor)])
    async def save(entry_id: str, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"ok": False, "problems": ["send the entry as JSON"]}, status_code=400)
        return await run(editor.save, body, entry_id.strip())

    @router.delete("/shop/api/kb/entries/{entry_id}", dependencies=[*guarded, Depends(supervisor)])
    async def remove(entry_id: str) -> JSONResponse:
        return await run(editor.remove, entry_id)

    @router.post("/shop/api/kb/reload", dependencies=[*guarded, Depends(supervisor)])
    async def reload() -> JSONResponse:
        return await run(editor.reload)

    return router
