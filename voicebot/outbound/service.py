"""The outbound side of one bot process: campaign store, outcomes, dialers and the scheduler.

``service_for(runtime)`` creates it once (``runtime.outbound``) when the process keeps call
records (campaigns live in the same database). Twilio streams of calls the bot placed get
their call agent through :meth:`OutboundService.wrap_twilio_factory`, whichever process of a
fleet they reach; the scheduler runs only where ``outbound.enabled`` is set (``start``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from voicebot.clock import Clock, WallClock
from voicebot.logs import get_logger

from .call_agent import OutboundCallAgent
from .options import OutboundOptions, options_from_settings
from .outcomes import Outcomes
from .scheduler import Scheduler, default_instance
from .store import OutboundStore

log = get_logger(__name__)


class OutboundService:
    def __init__(self, runtime: Any, options: OutboundOptions, store: OutboundStore, *, clock: Clock | None = None,
                 instance: str | None = None) -> None:
        self.runtime = runtime
        self.options = options
        self.store = store
        self.clock = clock or WallClock()
        self.instance = instance or getattr(runtime.settings.store, "instance", None) or default_instance()
        self.outcomes = Outcomes(store, options, self.clock.now)
        self.agents: dict[str, OutboundCallAgent] = {}  # live calls by attempt id (the page, tests)
        self.scheduler: Scheduler | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def orders(self) -> Any:
        """The dialogue's order store (campaigns select from it; calls read it). Loads the
        dialogue engine on first use: call it from a thread or after warm-up."""
        self.check_pipeline()
        return self.runtime.dialogue(self.runtime.spec()).store

    def check_pipeline(self) -> None:
        spec = self.runtime.spec()
        if spec.dialogue.engine != "builtin":
            raise ValueError(f"outbound calls need the built-in dialogue; pipeline {spec.name} uses {spec.dialogue.engine!r} "
                             "(set dialogue.engine: builtin in the pipeline file)")

    def wrap_twilio_factory(self, factory: Any) -> Any:
        def make(info: Any, sender: Any) -> Any:
            call = factory(info, sender)
            plan = call.session.ctx.extra.get("outbound")
            if plan and plan.get("attempt"):
                agent = OutboundCallAgent(plan, self.options, self.outcomes, on_ended=lambda _o, a=str(plan["attempt"]): self.agents.pop(a, None))
                agent.attach(call.session)
                self.agents[str(plan["attempt"])] = agent
            return call

        return make

    def dialers(self, sip_channel: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if sip_channel is not None:
            from .dialer_sip import SipDialer

            out["sip"] = SipDialer(sip_channel, self.options, self.outcomes)
        tw = self.runtime.settings.twilio
        if tw.account_sid and tw.auth_token:
            from .dialer_twilio import TwilioDialer, twilio_control

            try:
                out["twilio"] = TwilioDialer(twilio_control(self.runtime.settings), self.runtime.settings.server.public_host, self.options, self.outcomes)
            except ValueError as exc:
                log.error("outbound over Twilio unavailable", extra={"why": str(exc)})
        return out

    async def start(self, sip_channel: Any = None) -> None:
        """Run the scheduler in this process (``outbound.enabled``)."""
        self.check_pipeline()
        dialers = self.dialers(sip_channel)
        if self.options.channel not in dialers:
            log.error("the outbound channel has no dialer here: calls of its campaigns wait", extra={
                "channel": self.options.channel, "fix": "sip: run `voicebot serve --sip`; twilio: set twilio.account_sid/auth_token, "
                "server.public_host and outbound.caller_id"})
        self.scheduler = Scheduler(self.store, self.orders, dialers, self.options, clock=self.clock, instance=self.instance)
        self._task = asyncio.get_running_loop().create_task(self.scheduler.run(self._stop), name="outbound-scheduler")
        log.info("outbound scheduler running", extra={"instance": self.instance, "dialers": sorted(dialers),
                                                      "max_concurrent": self.options.max_concurrent})

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
        if self.scheduler is not None:
            await self.scheduler.drain(10)


def service_for(runtime: Any) -> OutboundService | None:
    """The runtime's outbound service, created on first use; None without call records."""
    svc = getattr(runtime, "outbound", None)
    if svc is None:
        records = getattr(runtime, "records", None)
        if records is None:
            return None
        options = options_from_settings(runtime.settings)
        svc = OutboundService(runtime, options, OutboundStore(records.store))
        runtime.outbound = svc
    return svc
