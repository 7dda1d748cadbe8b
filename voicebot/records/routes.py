"""The QA pages, the analytics page and ``/metrics`` as a FastAPI router.

``make_qa_router(store, require_user)`` is the factory; ``require_user`` is the agent desk's
FastAPI dependency (it raises 401/403 or returns the signed-in user). ``make_router(runtime)``
is the hook ``voicebot.server`` mounts: it takes ``runtime.store`` and ``runtime.require_user``.
Handlers are plain ``def`` so FastAPI runs the (synchronous) store calls in its thread pool.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voicebot.logs import get_logger
from voicebot.web_guard import refuse_cross_site
from voicebot.records import pages
from voicebot.records.analytics import compute
from voicebot.records.export import export_scenario
from voicebot.records.metrics import render_metrics
from voicebot.records.model import OUTCOMES, Annotation, CallFilter
from voicebot.records.store import RecordStore

log = get_logger(__name__)


@dataclass(frozen=True)
class QaOptions:
    prefix: str = "/qa"
    metrics_path: str = "/metrics"
    # Prometheus cannot sign in to the desk; serve /metrics on an internal interface only, or
    # set this False to put it behind require_user too.
    metrics_public: bool = True
    metrics_window_s: float = 86400.0
    page_size: int = 100
    default_days: int = 14
    sign_in_path: str = "/desk"  # where a browser without a desk session is sent (with ?next= back here)


def user_name(user: Any) -> str | None:
    """A display name for whatever the desk's dependency returned."""
    if user is None or isinstance(user, str):
        return user
    for attr in ("name", "username", "email", "id"):
        value = user.get(attr) if isinstance(user, dict) else getattr(user, attr, None)
        if value:
            return str(value)
    return str(user)


def _day(value: str | None, field: str) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise HTTPException(400, f"{field} must be a date written YYYY-MM-DD, got {value!r}") from None


def is_supervisor(user: Any) -> bool:
    """A desk :class:`~voicebot.handoff.auth.User` with the supervisor role (or a mapping saying so)."""
    if isinstance(user, dict):
        return user.get("role") == "supervisor" or bool(user.get("supervisor"))
    return bool(getattr(user, "supervisor", False))


# user -> the call ids they may read (None: every call). Supervisors read every call; an agent
# only the calls they took on the desk (``Accounts.calls_taken_by``).
CallScope = Callable[[Any], "set[str] | None"]


def supervisors_only(user: Any) -> set[str] | None:
    """The scope when nothing records who took which call: supervisors see all, agents none."""
    return None if is_supervisor(user) else set()


def make_qa_router(store: RecordStore, require_user: Callable[..., Any], options: QaOptions | None = None,
                   scope: CallScope = supervisors_only) -> APIRouter:
    opts = options or QaOptions()
    p = opts.prefix
    router = APIRouter()
    signed_in = _redirect_to_sign_in(require_user, opts.sign_in_path)
    qa = APIRouter(prefix=p, dependencies=[Depends(signed_in)])

    def call_or_404(call_id: str, user: Any):  # type: ignore[no-untyped-def]
        allowed = scope(user)
        call = store.get_call(call_id) if allowed is None or call_id in allowed else None
        if call is None:  # one answer for "no such call" and "not yours": ids of others' calls stay unconfirmed
            raise HTTPException(404, f"no call {call_id!r} in the records you may read (another agent's, deleted by retention, "
                                     "or never recorded here)")
        return call

    @qa.get("", response_class=HTMLResponse)
    def list_calls(request: Request, user: Any = Depends(signed_in)) -> str:
        q = request.query_params
        form = {k: q.get(k, "").strip()[:200] for k in ("q", "date_from", "date_to", "language", "outcome", "intent", "channel",
                                                         "handoff_reason", "agent", "interruptions")}
        until = _day(form["date_to"], "date_to")
        try:
            offset = max(0, int(q.get("offset", "0")))
            barge_ins = int(form["interruptions"]) if form["interruptions"] else None
        except ValueError:
            raise HTTPException(400, "offset and interruptions must be whole numbers") from None
        if form["outcome"] and form["outcome"] not in OUTCOMES:
            raise HTTPException(400, f"outcome must be one of {', '.join(OUTCOMES)}")
        allowed = scope(user)
        flt = CallFilter(since=_day(form["date_from"], "date_from"), until=until + 86400 if until is not None else None,
                         language=form["language"] or None, outcome=form["outcome"] or None, intent=form["intent"] or None,
                         channel=form["channel"] or None, ids=None if allowed is None else tuple(sorted(allowed)),
                         search=form["q"] or None, search_callers=_stored_number(form["q"]), handoff_reason=form["handoff_reason"] or None, agent=form["agent"] or None,
                         interruptions=barge_ins, limit=opts.page_size, offset=offset)  # fmt: skip
        return pages.list_page(store.list_calls(flt), form, p, user_name(user), opts.page_size, offset)

    @qa.get("/analytics", response_class=HTMLResponse)
    def analytics(days: int = opts.default_days, user: Any = Depends(signed_in)) -> str:
        if scope(user) is not None:  # figures over every call (and its turns' texts) are for supervisors
            raise HTTPException(403, "analytics over all calls are for supervisors")
        if not 1 <= days <= 366:
            raise HTTPException(400, "days must be between 1 and 366")
        since = time.time() - days * 86400
        figures = compute(store.list_calls(CallFilter(since=since, limit=1_000_000)), store.all_turns(since=since), store.all_actions(since=since))
        since_day = datetime.fromtimestamp(since, tz=UTC).strftime("%Y-%m-%d")  # the list page's filter for the same window
        return pages.analytics_page(figures, days, p, user_name(user), since_day)

    @qa.get("/calls/{call_id}", response_class=HTMLResponse)
    def call_page(call_id: str, user: Any = Depends(signed_in)) -> str:
        call = call_or_404(call_id, user)
        return pages.call_page(call, store.turns(call_id), store.events(call_id), store.actions(call_id), store.annotations(call_id),
                               store.recording(call_id), p, user_name(user))  # fmt: skip

    @qa.get("/calls/{call_id}/recording.wav")
    def recording(call_id: str, user: Any = Depends(signed_in)) -> FileResponse:
        call_or_404(call_id, user)
        rec = store.recording(call_id)
        if rec is None or not Path(rec.path).is_file():
            raise HTTPException(404, "this call has no recording (disabled for its channel or country, or deleted)")
        return FileResponse(rec.path, media_type="audio/wav", filename=f"{call_id}.wav")

    @qa.post("/calls/{call_id}/turns/{turn_index}/annotations")
    async def annotate(call_id: str, turn_index: int, request: Request, user: Any = Depends(signed_in)) -> Response:
        refuse_cross_site(request)
        body = (await request.body()).decode("utf-8", "replace")
        fields = parse_qs(body, keep_blank_values=True)
        note = (fields.get("note") or [""])[0].strip()[:2000]
        wrong = (fields.get("wrong") or [""])[0] in ("1", "on", "true")

        def save() -> None:
            call_or_404(call_id, user)
            if turn_index not in {t.index for t in store.turns(call_id)}:
                raise HTTPException(404, f"call {call_id!r} has no turn {turn_index}")
            store.annotate(Annotation(call_id=call_id, turn_index=turn_index, wrong=wrong, note=note, author=user_name(user), created_at=time.time()))

        await run_in_threadpool(save)
        log.info("turn annotated", extra={"call_id": call_id, "turn": turn_index, "wrong": wrong})
        if "application/json" in request.headers.get("accept", ""):
            return Response(status_code=204)
        return RedirectResponse(f"{p}/calls/{call_id}#turn-{turn_index}", status_code=303)

    @qa.get("/calls/{call_id}/scenario.zip")
    def scenario(call_id: str, user: Any = Depends(signed_in)) -> Response:
        call_or_404(call_id, user)
        with tempfile.TemporaryDirectory(prefix="voicebot-export-") as tmp:
            export_scenario(store, call_id, tmp)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(Path(tmp).iterdir()):
                    zf.write(f, f"call-{call_id}/{f.name}")
        return Response(buf.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="call-{call_id}.zip"'})  # fmt: skip

    def metrics() -> PlainTextResponse:
        since = time.time() - opts.metrics_window_s
        calls = store.list_calls(CallFilter(since=since, limit=1_000_000)) + store.open_calls()
        unique = list({c.id: c for c in calls}.values())
        figures = compute(unique, store.all_turns(since=since), store.all_actions(since=since))
        window = f"{opts.metrics_window_s / 3600:g}h"
        return PlainTextResponse(render_metrics(figures, window), media_type="text/plain; version=0.0.4; charset=utf-8")

    deps = [] if opts.metrics_public else [Depends(require_user)]
    router.add_api_route(opts.metrics_path, metrics, methods=["GET"], dependencies=deps, response_class=PlainTextResponse)
    router.include_router(qa)
    return router


def _stored_number(query: str) -> tuple[str, ...]:
    """A whole phone number searched for, as the records store it (numbers are kept redacted: ``+3461*****78``)."""
    from voicebot.records.redact import RedactionOptions, Redactor

    compact = query.replace(" ", "").replace("-", "")
    if not compact.lstrip("+").isdigit() or len(compact) < 8:
        return ()
    masked = Redactor(RedactionOptions()).caller_identity(compact)
    return tuple(dict.fromkeys(x for x in (compact, masked) if x))


def _redirect_to_sign_in(require_user: Callable[..., Any], sign_in_path: str) -> Callable[..., Any]:
    """``require_user``, except that a browser asking for a page without a desk session is sent to
    the sign-in page (``/desk?next=<this page>``) instead of getting the JSON refusal."""
    import inspect

    async def signed_in(request: Request) -> Any:
        try:
            kwargs = {"request": request} if "request" in inspect.signature(require_user).parameters else {}
            user = require_user(**kwargs)
            return await user if inspect.isawaitable(user) else user
        except HTTPException as exc:
            wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
            if exc.status_code != 401 or not wants_page:
                raise
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, "sign in to the agent desk first",
                                headers={"Location": f"{sign_in_path}?{urlencode({'next': target})}"}) from None

    return signed_in


def make_router(source: Any, require_user: Callable[..., Any] | None = None, options: QaOptions | None = None) -> APIRouter:
    """``make_router(store, require_user)``, or ``make_router(runtime)`` as ``voicebot.server`` mounts it.

    With a runtime: pages over ``runtime.store`` behind ``runtime.require_user``; an agent reads
    the calls they took on the desk, a supervisor every call; ``/metrics`` is public only where
    ``settings.server`` allows it. Without a store the router is empty (records off). Without
    ``require_user`` the pages answer 503: call records hold personal data and are never served
    without the desk's sign-in.
    """
    scope: CallScope = supervisors_only
    if isinstance(source, RecordStore):
        store: RecordStore | None = source
    else:
        store = getattr(source, "store", None)
        require_user = require_user or getattr(source, "require_user", None)
        server = getattr(getattr(source, "settings", None), "server", None)
        if options is None and server is not None:
            options = QaOptions(metrics_public=server.metrics_public)
        scope = _desk_scope(source)
    if store is None:
        return APIRouter()
    if require_user is None:

        def require_user() -> None:
            raise HTTPException(503, "QA pages need the agent desk's sign-in: set runtime.require_user (see docs/records.md)")

    return make_qa_router(store, require_user, options, scope)


def _desk_scope(runtime: Any) -> CallScope:
    """Agents read the calls they accepted on the desk (recorded by the desk's accounts)."""

    def scope(user: Any) -> set[str] | None:
        if is_supervisor(user):
            return None
        handoff = getattr(runtime, "handoff", None)
        accounts = getattr(handoff, "accounts", None)
        agent_id = user.get("id") if isinstance(user, dict) else getattr(user, "id", None)
        if accounts is None or not agent_id:
            return set()
        return set(accounts.calls_taken_by(str(agent_id)))

    return scope
