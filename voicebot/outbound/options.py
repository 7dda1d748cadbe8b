"""Outbound settings: ``outbound:`` in the settings file (``VOICEBOT_OUTBOUND__MAX_CONCURRENT=2``).

Part of the typed settings model (:mod:`voicebot.config`): unknown keys and impossible values
are refused with a message that names the key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from voicebot.config_types import Flag, Section, Seconds, validate_section

from .amd import AmdOptions

def _ints(value: Any) -> Any:
    """``"8-21"`` or ``"0,1,2"`` (an environment variable) -> a tuple of ints."""
    if isinstance(value, str):
        return tuple(int(v) for v in value.replace("-", ",").split(",") if v.strip())
    return value


def _with_default_retries(value: Any) -> Any:
    return {**DEFAULT_RETRY_AFTER, **dict(value)} if isinstance(value, dict) else value


CHANNELS = ("sip", "twilio")
IDENTITY_CHECKS = ("name", "name_and_email")
DAY_SECONDS = 86400.0

# How long after each outcome a customer may be called again for the same order (seconds);
# an outcome missing here is final (reached, opted out, wrong person, voicemail left...).
DEFAULT_RETRY_AFTER: dict[str, float] = {
    "no_answer": 4 * 3600.0,
    "busy": 20 * 60.0,
    "no_connect": 3600.0,  # the call never connected (no status, no answer from the network)
    "failed": 6 * 3600.0,  # a temporary carrier failure (5xx); a bad number is final
    "hung_up": 24 * 3600.0,  # a person picked up and hung up before the news
    "unverified": 24 * 3600.0,  # could not confirm who answered
    "interrupted": 3600.0,  # this process stopped during the call
    "error": 3600.0,
    "machine": 4 * 3600.0,  # an answering machine and leave_voicemail is off
    "canceled": 3600.0,
}


class OutboundOptions(Section):
    """Who is called, when, how often and how fast, and how the call goes."""

    enabled: Flag = False  # `voicebot serve` runs the campaigns marked running
    channel: Literal["sip", "twilio"] = "sip"
    caller_id: str | None = None  # the number the customer sees (Twilio From, SIP From user); Twilio needs it
    # SIP: where the INVITE goes: {number} is the customer's E.164 number. Through kamailio or a
    # trunk: "sip:{number}@trunk.example.com"; ``sip_proxy`` sends it via an outbound proxy.
    sip_target: str = "sip:{number}@127.0.0.1:5060"
    sip_proxy: str | None = None
    ring_timeout_s: Seconds = 30.0  # ring this long, then give up (no answer)
    connect_timeout_s: Seconds = 90.0  # no answer, busy or end after this long: the call never connected
    # Pacing: never more than this many outbound calls at once (leave room for inbound calls, see
    # benchmarks/results/*-capacity), and at most this many new calls per minute.
    max_concurrent: int = Field(1, ge=1)
    max_per_minute: float = Field(6.0, gt=0)
    poll_s: Seconds = 5.0  # how often the scheduler looks for due calls
    # Local daytime: calls start only between these hours on these days (0 = Monday), in every time
    # zone of the customer's country (a US customer is called when it is daytime from New York to Los Angeles).
    call_hours: Annotated[tuple[int, int], BeforeValidator(_ints)] = (9, 20)
    call_days: Annotated[tuple[int, ...], BeforeValidator(_ints)] = (0, 1, 2, 3, 4, 5)
    time_zones: dict[str, list[str]] = Field(default_factory=dict)  # country -> zones, overrides voicebot/outbound/timezones.py
    max_attempts: int = Field(3, ge=1)  # per customer and order in a campaign
    max_calls_per_customer_per_day: int = Field(2, ge=1)  # over every campaign
    retry_after_s: Annotated[dict[str, float], BeforeValidator(_with_default_retries)] = Field(default_factory=lambda: dict(DEFAULT_RETRY_AFTER))
    # Consent: with require_consent only customers with a recorded consent are called
    # (`voicebot campaign consent grant`); a revoked consent or the do-not-call list always wins.
    require_consent: Flag = True
    identity: Literal["name", "name_and_email"] = "name"  # name: "am I speaking with X?"; name_and_email: and the email on the account
    leave_voicemail: Flag = True
    callback_number: str | None = None  # said in the voicemail ("call us back at ..."); none: "check your account"
    amd: AmdOptions = Field(default_factory=AmdOptions)

    @model_validator(mode="after")
    def _check(self) -> OutboundOptions:
        problems = []
        start, end = self.call_hours
        if not (0 <= start < end <= 24):
            problems.append(f"outbound.call_hours {self.call_hours} must be two hours start < end within 0..24")
        if not self.call_days or any(d not in range(7) for d in self.call_days):
            problems.append("outbound.call_days must list days 0 (Monday) .. 6 (Sunday)")
        if self.connect_timeout_s <= self.ring_timeout_s:
            problems.append("outbound.connect_timeout_s must be longer than ring_timeout_s")
        if "{number}" not in self.sip_target:
            problems.append("outbound.sip_target must contain {number}, e.g. sip:{number}@trunk.example.com")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def retry_delay(self, outcome: str) -> float | None:
        """Seconds before the next try after ``outcome``; None when the outcome is final."""
        value = self.retry_after_s.get(outcome)
        return float(value) if value is not None else None


def options_from_settings(settings: Any) -> OutboundOptions:
    """``settings.outbound``, validated (the settings model already holds it typed)."""
    raw = getattr(settings, "outbound", None)
    return validate_section(OutboundOptions, raw, "outbound.")
