"""How an attempt ended, and what that means for the next one (the one place retry rules apply).

Every store call runs in a worker thread (the record store is synchronous), so the event
loop that carries calls never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from voicebot.logs import get_logger

from .options import OutboundOptions
from .store import OutboundStore

log = get_logger(__name__)

# Every outcome an attempt can end with (the supervisor page and the CLI list them in this order).
OUTCOMES = ("reached", "voicemail_left", "no_answer", "busy", "wrong_person", "opted_out", "handed_to_agent", "hung_up", "unverified",
            "failed", "invalid_number", "no_connect", "machine", "error", "interrupted", "canceled")
# Skips: the target is never called (final, written by the scheduler, not by a call).
SKIPS = ("do_not_call", "no_consent", "resolved", "unknown_time_zone", "called_by_other_campaign", "no_daytime")


def sip_failure_outcome(status: int) -> str:
    """A final SIP response to our INVITE (0: no response at all) -> the attempt's outcome."""
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):  # rang out, temporarily unavailable, or we cancelled after ringing
        return "no_answer"
    if status in (404, 410, 484, 604, 485):
        return "invalid_number"
    if status == 603:
        return "busy"  # declined by the callee: like busy, try later (never more than max_attempts)
    if status == 0:
        return "no_connect"
    return "failed"  # 403, 488, 5xx: the carrier or the far end refused; a later try may work


def twilio_status_outcome(call_status: str, sip_code: str | int | None = None) -> str | None:
    """A final CallStatus from Twilio's status callback -> outcome (None: the call itself decides)."""
    if call_status == "busy":
        return "busy"
    if call_status == "no-answer":
        return "no_answer"
    if call_status == "canceled":
        return "canceled"
    if call_status == "failed":
        try:
            return sip_failure_outcome(int(sip_code)) if sip_code not in (None, "") else "failed"  # type: ignore[arg-type]
        except ValueError:
            return "failed"
    return None  # completed: the call's own record says how it went


# Twilio REST error codes when creating a call (https://www.twilio.com/docs/api/errors).
TWILIO_INVALID_NUMBER = {21211, 21214, 21217, 21401, 21407, 13223, 13224}
TWILIO_FINAL = TWILIO_INVALID_NUMBER | {21215, 21216, 21219, 21210, 20003, 20404}


def twilio_error_outcome(code: int | None) -> str:
    return "invalid_number" if code in TWILIO_INVALID_NUMBER else "failed"


class Outcomes:
    """Writes attempt progress and ends; ``now`` is the scheduler's wall clock (virtual in tests)."""

    def __init__(self, store: OutboundStore, options: OutboundOptions, now: Callable[[], float]) -> None:
        self.store = store
        self.options = options
        self.now = now

    async def progress(self, attempt_id: str, **fields: Any) -> bool:
        return await asyncio.to_thread(self.store.update_attempt, attempt_id, **fields)

    async def finish(self, attempt_id: str, outcome: str, detail: dict[str, Any] | None = None, *, final: bool = False) -> bool:
        """End the attempt. Retried later when the outcome allows it, attempts remain and ``final``
        is not set (a Twilio error that no retry can fix)."""
        now = self.now()

        def write() -> bool:
            a = self.store.attempt(attempt_id)
            if a is None:
                log.error("outcome for an unknown outbound attempt", extra={"attempt": attempt_id, "outcome": outcome})
                return False
            delay = None if final or a.attempt_no >= self.options.max_attempts else self.options.retry_delay(outcome)
            ok = self.store.finish(attempt_id, outcome, dict(detail or {}), now, now + delay if delay is not None else None)
            if ok and outcome == "opted_out":
                self._opt_out(a.phone, a.customer_id, "said on the call", now)
            return ok

        ok = await asyncio.to_thread(write)
        log.info("outbound attempt ended", extra={"attempt": attempt_id, "outcome": outcome, "recorded": ok, "detail": detail or {}})
        return ok

    async def opt_out(self, phone: str, customer_id: str, reason: str) -> None:
        """Recorded the moment the customer asks (not at the end of the call)."""
        await asyncio.to_thread(self._opt_out, phone, customer_id, reason, self.now())

    def _opt_out(self, phone: str, customer_id: str, reason: str, now: float) -> None:
        self.store.add_dnc(phone, now, customer_id=customer_id, reason=reason, source="call")
        self.store.set_consent(customer_id, False, now, source="opt-out on a call")
