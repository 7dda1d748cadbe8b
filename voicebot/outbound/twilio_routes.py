"""Twilio's webhooks for calls the bot placed, signed like every Twilio webhook here.

- ``POST /twilio/outbound/answer?attempt=ID``: the callee answered; the TwiML connects the call's
  media to this bot's stream with the plan (who, which order, why) as a ``<Parameter>``. An
  attempt that is unknown or already over gets ``<Hangup/>``: nothing is said twice.
- ``POST /twilio/outbound/status?attempt=ID``: the call's progress (initiated, ringing,
  in-progress, completed; busy, no-answer, failed, canceled end the attempt here; a completed
  call that never reached our stream ends as ``no_connect``, otherwise its own record decides).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from twilio.twiml.voice_response import VoiceResponse

from voicebot.channels.twilio import twiml
from voicebot.channels.twilio.channel import PARAM_OUTBOUND
from voicebot.channels.twilio.signature import SignatureVerifier
from voicebot.logs import get_logger

from .dialer_twilio import ANSWER_PATH, STATUS_PATH
from .outcomes import twilio_status_outcome
from .scheduler import CallPlan

log = get_logger(__name__)
XML = "application/xml"


def make_twilio_router(service: Any) -> APIRouter:
    settings = service.runtime.settings
    verifier = SignatureVerifier(settings.twilio.auth_token, settings.server.public_host, settings.twilio.verify_signatures)
    store, outcomes = service.store, service.outcomes
    router = APIRouter()

    async def signed_form(request: Request) -> dict[str, str] | None:
        form = await request.form()
        result = verifier.check(str(request.url), request.headers, form)
        if not result.ok:
            log.warning("twilio outbound webhook refused: bad signature", extra={"path": request.url.path, "reason": result.reason})
            return None
        return {k: str(v) for k, v in form.items()}

    def hangup() -> Response:
        r = VoiceResponse()
        r.hangup()
        return Response(str(r), media_type=XML)

    @router.post(ANSWER_PATH)
    async def answer(request: Request, attempt: str = "") -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        a = await asyncio.to_thread(store.attempt, attempt)
        if a is None or a.state == "ended":
            log.warning("answer for an unknown or finished outbound attempt; hanging up", extra={"attempt": attempt, "call_id": form.get("CallSid")})
            return hangup()
        t = await asyncio.to_thread(store.target, a.campaign_id, a.customer_id, a.order_id)
        if t is None:
            return hangup()
        plan = CallPlan(a, t).extra(service.options)
        call = twiml.IncomingCall(call_sid=form.get("CallSid", ""), caller=form.get("To", t.phone), called=form.get("From", ""))
        host = settings.server.public_host or request.url.netloc
        return Response(twiml.connect_stream(host, call, {PARAM_OUTBOUND: json.dumps(plan, separators=(",", ":"))}), media_type=XML)

    @router.post(STATUS_PATH)
    async def status(request: Request, attempt: str = "") -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        call_status = form.get("CallStatus", "")
        log.info("twilio outbound status", extra={"attempt": attempt, "call_id": form.get("CallSid"), "call_status": call_status,
                                                  "sip_code": form.get("SipResponseCode"), "error_code": form.get("ErrorCode")})
        a = await asyncio.to_thread(store.attempt, attempt)
        if a is None:
            return Response(status_code=204)
        detail = {k: form[k] for k in ("CallSid", "CallStatus", "SipResponseCode", "ErrorCode", "CallDuration") if form.get(k)}
        if call_status == "ringing":
            await outcomes.progress(attempt, state="ringing")
        outcome = twilio_status_outcome(call_status, form.get("SipResponseCode"))
        if outcome is not None:
            await outcomes.finish(attempt, outcome, detail, final=outcome == "invalid_number")
        elif call_status == "completed" and a.state in ("dialing", "ringing"):
            # Answered (or not) but our stream never started: the bot never spoke on it.
            await outcomes.finish(attempt, "no_connect", {**detail, "why": "the call ended before the bot's stream started"})
        return Response(status_code=204)

    return router
