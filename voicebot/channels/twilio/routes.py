"""FastAPI routes Twilio calls: the voice webhook, status callbacks, the media stream, hold TwiML.

Every route checks ``X-Twilio-Signature`` first; a forged or missing signature gets an empty
403 and nothing else happens.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket

from voicebot.logs import get_logger

from . import twiml
from .signature import SignatureVerifier, url_as_signed
from .stream import CallFactory, LiveStreams, StreamOptions, TwilioStreamHandler

log = get_logger(__name__)

XML = "application/xml"
# CallStatus values after which the call is over (Twilio voice status callback).
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def _forbidden() -> Response:
    return Response(status_code=403)


def make_router(
    runtime: Any,
    *,
    call_factory: CallFactory | None = None,
    stream_options: StreamOptions | None = None,
    live: LiveStreams | None = None,
) -> APIRouter:
    """The Twilio routes for one server.

    ``runtime.settings`` (voicebot.config.Settings) gives the public host and Twilio settings.
    ``call_factory`` makes the call for each stream; by default a CallSession on the runtime
    (:func:`.channel.call_factory`). ``live`` lists the live streams (tests may pass their own).
    """
    settings = runtime.settings
    public_host: str | None = settings.server.public_host
    verifier = SignatureVerifier(settings.twilio.auth_token, public_host, settings.twilio.verify_signatures)
    live = live if live is not None else LiveStreams()
    options = stream_options or StreamOptions(max_message_bytes=settings.twilio.max_message_bytes)
    if call_factory is None:
        from .channel import call_factory as default_factory  # needs voicebot.call (the pipeline)

        call_factory = default_factory(runtime)
    factory: CallFactory = call_factory
    router = APIRouter()

    def host_for(request: Request) -> str:
        """The host Twilio reaches us on: configured, else forwarded, else the request's own."""
        if public_host:
            return public_host
        return url_as_signed(str(request.url), request.headers).split("://", 1)[1].split("/", 1)[0]

    async def verified_form(request: Request) -> dict[str, str] | None:
        form = await request.form() if request.method == "POST" else None
        result = verifier.check(str(request.url), request.headers, form)
        if not result.ok:
            log.warning(
                "twilio webhook refused: bad signature",
                extra={"path": request.url.path, "reason": result.reason, "signed_url": result.url,
                       "call_id": form.get("CallSid") if form else None},
            )
            return None
        return {k: str(v) for k, v in form.items()} if form is not None else {}

    @router.post("/twilio/voice")
    async def voice(request: Request) -> Response:
        form = await verified_form(request)
        if form is None:
            return _forbidden()
        try:
            call = twiml.IncomingCall.from_form(form)
        except ValueError as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        if not public_host:
            log.warning(
                "server.public_host is not set; the stream URL uses the request's host",
                extra={"call_id": call.call_sid, "host": host_for(request)},
            )
        log.info("twilio call", extra={"call_id": call.call_sid, "caller": call.caller, "called": call.called})
        return Response(twiml.connect_stream(host_for(request), call), media_type=XML)

    @router.post("/twilio/status")
    async def status(request: Request) -> Response:
        form = await verified_form(request)
        if form is None:
            return _forbidden()
        call_sid = form.get("CallSid", "")
        call_status = form.get("CallStatus", "")
        stream_event = form.get("StreamEvent", "")
        handler = live.get(call_sid)
        log.info(
            "twilio status",
            extra={"call_id": call_sid, "call_status": call_status, "stream_event": stream_event,
                   "stream_error": form.get("StreamError"), "live": handler is not None},
        )
        if handler is not None:
            if call_status in FINAL_STATUSES:
                handler.end_from_status(f"twilio_{call_status}")
            elif stream_event in ("stream-error", "stream-stopped"):
                handler.end_from_status(stream_event.replace("-", "_"))
        return Response(status_code=204)

    @router.api_route("/twilio/hold", methods=["GET", "POST"])
    async def hold(request: Request, lang: str = "en") -> Response:
        if await verified_form(request) is None:
            return _forbidden()
        return Response(twiml.hold(lang), media_type=XML)

    @router.websocket("/twilio/stream")
    async def stream(websocket: WebSocket) -> None:
        result = verifier.check(str(websocket.url), websocket.headers, None, websocket=True)
        if not result.ok:
            log.warning(
                "twilio stream refused: bad signature", extra={"reason": result.reason, "signed_url": result.url}
            )
            await websocket.close(code=1008)  # before accept: the server answers HTTP 403
            return
        await websocket.accept()
        await TwilioStreamHandler(websocket, factory, live, options).run()

    return router
