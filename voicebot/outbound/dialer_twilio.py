"""Outbound calls over Twilio: the REST Calls API places the call; when it is answered Twilio
fetches our TwiML (``<Connect><Stream>`` back to this bot, the plan in a ``<Parameter>``) and
the call runs on the ordinary Twilio channel; signed status callbacks report busy, no answer,
failures and the end (voicebot/outbound/twilio_routes.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from voicebot.channels.twilio.rest import OutboundCall, RestOptions, TwilioCallControl, TwilioCallRefused, TwilioRestError
from voicebot.channels.twilio.twiml import public_url
from voicebot.logs import get_logger

from .options import OutboundOptions
from .outcomes import TWILIO_FINAL, Outcomes, twilio_error_outcome
from .scheduler import CallPlan
from .store import Attempt

log = get_logger(__name__)

ANSWER_PATH = "/twilio/outbound/answer"
STATUS_PATH = "/twilio/outbound/status"


def twilio_control(settings: Any) -> TwilioCallControl:
    tw = settings.twilio
    return TwilioCallControl(RestOptions(tw.account_sid or "", tw.auth_token or "", tw.api_base_url))


class TwilioDialer:
    channel = "twilio"

    def __init__(self, control: TwilioCallControl, public_host: str | None, options: OutboundOptions, outcomes: Outcomes) -> None:
        if not public_host:
            raise ValueError("outbound calls over Twilio need server.public_host: Twilio fetches the call's TwiML and posts its status there")
        if not options.caller_id:
            raise ValueError("outbound calls over Twilio need outbound.caller_id: a number of your Twilio account (E.164) to call from")
        self.control = control
        self.public_host = public_host
        self.options = options
        self.outcomes = outcomes

    def urls(self, attempt_id: str) -> tuple[str, str]:
        query = {"attempt": attempt_id}
        return public_url(self.public_host, ANSWER_PATH, query=query), public_url(self.public_host, STATUS_PATH, query=query)

    async def place(self, plan: CallPlan) -> None:
        aid = plan.attempt.id
        answer, status = self.urls(aid)
        call = OutboundCall(to=plan.target.phone, from_=self.options.caller_id or "", url=answer, status_callback=status,
                            timeout_s=int(self.options.ring_timeout_s))
        try:
            sid = await self.control.create(call)
        except TwilioCallRefused as exc:
            await self.outcomes.finish(aid, twilio_error_outcome(exc.code), {"twilio_status": exc.status, "twilio_code": exc.code, "error": str(exc)},
                                       final=exc.code in TWILIO_FINAL)
            return
        except TwilioRestError as exc:  # Twilio unreachable: nothing was placed; try again later
            await self.outcomes.finish(aid, "failed", {"error": str(exc)})
            return
        await self.outcomes.progress(aid, call_id=sid, detail={"call_sid": sid})
        log.info("outbound twilio call placed", extra={"attempt": aid, "call_id": sid})

    async def cancel(self, attempt: Attempt) -> None:
        """The scheduler gave up on a call that never connected: make sure Twilio stops it too."""
        if attempt.call_id:
            await self.control.cancel(attempt.call_id)


def answer_query(attempt_id: str) -> str:
    return urlencode({"attempt": attempt_id})
