"""Outbound calls over SIP: the bot's own user agent places the INVITE (``SipUserAgent.dial``,
the same UAC code the attended transfer uses to call an agent), and the answered leg runs
the ordinary call pipeline through the SIP channel's bridge (records, barge-in, hand-off),
with the outbound call agent attached.

Through kamailio or a trunk: ``outbound.sip_target: sip:{number}@trunk`` or ``sip_proxy``.
"""

from __future__ import annotations

from typing import Any

from voicebot.channels.sip.ua import SipCallFailed
from voicebot.logs import get_logger

from .call_agent import OutboundCallAgent
from .options import OutboundOptions
from .outcomes import Outcomes, sip_failure_outcome
from .scheduler import CallPlan

log = get_logger(__name__)


class SipDialer:
    channel = "sip"

    def __init__(self, sip_channel: Any, options: OutboundOptions, outcomes: Outcomes) -> None:
        self.sip = sip_channel  # voicebot.channels.sip.channel.SipChannel (started)
        self.options = options
        self.outcomes = outcomes
        self.agents: dict[str, OutboundCallAgent] = {}  # attempt id -> the live call's agent (tests, the page)

    def target_uri(self, phone: str) -> str:
        number = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
        if len(number.lstrip("+")) < 5:
            raise ValueError(f"{phone!r} is not a phone number")
        return self.options.sip_target.format(number=number)

    async def place(self, plan: CallPlan) -> None:
        aid = plan.attempt.id
        try:
            uri = self.target_uri(plan.target.phone)
        except ValueError as exc:
            await self.outcomes.finish(aid, "invalid_number", {"error": str(exc)}, final=True)
            return
        await self.outcomes.progress(aid, state="ringing", detail={"uri": uri})
        try:
            call = await self.sip.ua.dial(uri, from_user=self.options.caller_id or None, timeout_s=self.options.ring_timeout_s,
                                          via=self.options.sip_proxy)
        except SipCallFailed as exc:
            outcome = sip_failure_outcome(exc.status)
            await self.outcomes.finish(aid, outcome, {"sip_status": exc.status, "sip_reason": exc.reason, "uri": uri},
                                       final=outcome == "invalid_number")
            return
        except (OSError, ValueError) as exc:  # no RTP port free, an unparseable target
            await self.outcomes.finish(aid, "failed", {"error": str(exc), "uri": uri})
            return
        call.context_extra = {"outbound": plan.extra(self.options)}
        bridge = self.sip.make_bridge(call)
        agent = OutboundCallAgent(plan.extra(self.options), self.options, self.outcomes)
        agent.attach(bridge.session)
        self.agents[aid] = agent
        self.sip.calls[call.call_id] = bridge
        log.info("outbound sip call answered", extra={"attempt": aid, "call_id": call.call_id, "uri": uri})
        try:
            await bridge.run()
        finally:
            self.sip.calls.pop(call.call_id, None)
            if await agent.wait() is None:  # the call never reached its end event: the attempt must not stay open
                await self.outcomes.finish(aid, "error", {"error": "the call ended without an outcome", "call_id": call.call_id})
            self.agents.pop(aid, None)
