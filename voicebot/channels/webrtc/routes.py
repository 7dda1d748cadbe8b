"""HTTP routes of the in-app voice button.

``GET /`` the demo page, ``GET /widget.js`` the widget, ``POST /inapp/offer`` (SDP offer +
session token -> SDP answer, as pipecat's SmallWebRTC ``/api/offer``), ``PATCH /inapp/offer``
(trickle ICE candidates), ``WS /inapp/ws`` (the PCM fallback), ``POST /inapp/demo-token``
(local demo only), ``GET /inapp/calls/{call_id}`` (a call's state, no content).

Every refusal is JSON ``{"error": {"code", "message"}}`` with a status the widget shows:
400 malformed, 401 token (missing/forged/expired), 403 origin, 404 unknown peer, 413 too
large, 503 busy. No refusal touches another call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response

from voicebot.logs import get_logger

from .links import WebRTCLink, WebSocketLink
from .protocol import BadMessage, parse_offer, parse_patch
from .service import InappCalls, InappOptions, Refused, admit, options_from
from .tokens import issue_token, normalize_origin, origin_allowed

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
DEMO_TOKEN_TTL_S = 300


def _own_origin(scheme: str, host: str | None) -> str | None:
    if not host:
        return None
    try:
        return normalize_origin(f"{scheme}://{host}")
    except ValueError:
        return None


def _error(exc: Refused) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, "too_large", f"signalling message of {declared} bytes is over the {limit}-byte limit")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, "too_large", f"signalling message is over the {limit}-byte limit")
    return body


def make_router(runtime: Any, *, options: InappOptions | None = None, spec: Any = None, transcriber: Any = None) -> APIRouter:
    """The in-app routes. ``options`` default to :func:`.service.options_from` (``settings.inapp`` or
    VOICEBOT_INAPP_SECRET / VOICEBOT_INAPP_ORIGINS). ``router.inapp_live`` lists the live calls."""
    opts = options or options_from(runtime.settings)
    live = InappCalls(opts.keep_results)
    router = APIRouter()
    router.inapp_live = live  # type: ignore[attr-defined]
    router.inapp_options = opts  # type: ignore[attr-defined]
    if opts.demo_enabled:
        log.warning("in-app demo mode: anyone who can open this server's page gets a session token; "
                    "set VOICEBOT_INAPP_SECRET (shared with the shop backend) before exposing it")

    def own(request: Request) -> str | None:
        public = getattr(getattr(runtime.settings, "server", None), "public_host", None)
        if public:
            return _own_origin("https", public)
        return _own_origin(request.url.scheme, request.headers.get("host"))

    def cors(request: Request, response: Response) -> Response:
        origin = request.headers.get("origin")
        if origin and origin_allowed(origin, opts.allowed_origins, own(request)):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "POST, PATCH, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "content-type"
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    @router.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @router.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @router.options("/inapp/{path:path}", include_in_schema=False)
    async def preflight(request: Request, path: str) -> Response:
        return cors(request, Response(status_code=204))

    @router.post("/inapp/demo-token")
    async def demo_token(request: Request) -> Response:
        """Local demo only: what a shop's backend does behind its login (see docs/inapp-sample)."""
        if not opts.demo_enabled:
            return _error(Refused(404, "not_found", "demo tokens are off: the shop's backend issues tokens"))
        origin = request.headers.get("origin")
        if not origin_allowed(origin, opts.allowed_origins, own(request)):
            return _error(Refused(403, "wrong_origin", f"origin {origin or 'none'} may not get demo tokens"))
        try:
            body = await _read_limited(request, 2000)
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")  # noqa: TRY004 - answered as a 400 below
            token = issue_token(opts.effective_secret, customer_id=data.get("customer_id") or "demo-customer",
                                customer_name=(data.get("name") or None), language=data.get("language") or None,
                                ttl_s=DEMO_TOKEN_TTL_S)
        except Refused as exc:
            return _error(exc)
        except ValueError as exc:
            return _error(Refused(400, "malformed", str(exc)))
        return cors(request, JSONResponse({"token": token, "expires_in": DEMO_TOKEN_TTL_S}))

    @router.post("/inapp/offer")
    async def offer(request: Request) -> Response:
        origin = request.headers.get("origin")
        try:
            body = await _read_limited(request, opts.max_signal_bytes)
            try:
                o = parse_offer(body, opts.max_signal_bytes)
            except BadMessage as exc:
                raise Refused(413 if exc.code == "too_large" else 400, exc.code, str(exc)) from None
            claims = admit(opts, o.token, origin, own(request))
            if o.pc_id:
                raise Refused(404, "call_not_found", "that call has ended or is unknown; start a new call")
            if len(live) >= opts.max_calls:
                raise Refused(503, "busy", "all lines are busy; please try again in a minute")
            live.claim_token(o.token, claims)
            link = WebRTCLink(runtime, opts, live, claims, origin, spec=spec, transcriber=transcriber)
            try:
                answer = await link.answer(o.sdp, o.type)
            except Exception as exc:  # noqa: BLE001 - a browser's bad input or a dead socket must not end the server
                live.release_token(o.token)
                log.warning("in-app offer failed", extra={"origin": origin, "error": repr(exc)})
                raise Refused(400, "bad_sdp", f"could not answer this offer: {exc}") from None
        except Refused as exc:
            log.warning("in-app offer refused", extra={"code": exc.code, "origin": origin, "reason": str(exc)})
            return cors(request, _error(exc))
        return cors(request, JSONResponse(answer))

    @router.patch("/inapp/offer")
    async def candidates(request: Request) -> Response:
        origin = request.headers.get("origin")
        try:
            body = await _read_limited(request, opts.max_signal_bytes)
            try:
                patch = parse_patch(body, opts.max_signal_bytes)
            except BadMessage as exc:
                raise Refused(400, exc.code, str(exc)) from None
            admit(opts, patch.token, origin, own(request))
            link = live.by_pc.get(patch.pc_id)
            if link is None:
                raise Refused(404, "call_not_found", "no live call for this pc_id")
            from aiortc.sdp import candidate_from_sdp

            for c in patch.candidates:
                cand = None
                if c.candidate:
                    try:
                        cand = candidate_from_sdp(c.candidate.removeprefix("candidate:"))
                    except Exception:  # noqa: BLE001 - a browser's bad input or a dead socket must not end the server
                        raise Refused(400, "malformed", f"unreadable ICE candidate {c.candidate[:80]!r}") from None
                    cand.sdpMid, cand.sdpMLineIndex = c.sdp_mid, c.sdp_mline_index
                await link.conn.add_ice_candidate(cand)
        except Refused as exc:
            return cors(request, _error(exc))
        return cors(request, Response(status_code=204))

    @router.get("/inapp/calls/{call_id}")
    async def call_status(call_id: str) -> Response:
        status = live.status(call_id)
        if status is None:
            return _error(Refused(404, "call_not_found", "no such in-app call"))
        return JSONResponse({k: v for k, v in status.items() if k != "captions"})

    @router.websocket("/inapp/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        public = getattr(getattr(runtime.settings, "server", None), "public_host", None)
        own_origin = _own_origin("https", public) if public else _own_origin(
            "https" if websocket.url.scheme == "wss" else "http", websocket.headers.get("host"))
        await WebSocketLink(websocket, runtime, opts, live, own_origin, spec=spec, transcriber=transcriber).run()

    return router
