"""Outbound settings: ``outbound:`` in the settings file (``VOICEBOT_OUTBOUND__MAX_CONCURRENT=2``).

Every field is documented where it is declared; :func:`options_from_settings` refuses unknown
keys and impossible values with a message that says which key to fix.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .amd import AmdOptions

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


@dataclass
class OutboundOptions:
    """Who is called, when, how often and how fast, and how the call goes."""

    enabled: bool = False  # `voicebot serve` runs the campaigns marked running
    channel: str = "sip"  # sip | twilio
    caller_id: str | None = None  # the number the customer sees (Twilio From, SIP From user); Twilio needs it
    # SIP: where the INVITE goes: {number} is the customer's E.164 number. Through kamailio or a
    # trunk: "sip:{number}@trunk.example.com"; ``sip_proxy`` sends it via an outbound proxy.
    sip_target: str = "sip:{number}@127.0.0.1:5060"
    sip_proxy: str | None = None
    ring_timeout_s: float = 30.0  # ring this long, then give up (no answer)
    connect_timeout_s: float = 90.0  # no answer, busy or end after this long: the call never connected
    # Pacing: never more than this many outbound calls at once (leave room for inbound calls: the
    # process carries ~2 calls per 2 cores with Whisper base, see benchmarks/results/*-capacity),
    # and at most this many new calls per minute.
    max_concurrent: int = 1
    max_per_minute: float = 6.0
    poll_s: float = 5.0  # how often the scheduler looks for due calls
    # Local daytime: calls start only between these hours on these days (0 = Monday), in every time
    # zone of the customer's country (a US customer is called when it is daytime from New York to Los Angeles).
    call_hours: tuple[int, int] = (9, 20)
    call_days: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    time_zones: dict[str, list[str]] = field(default_factory=dict)  # country -> zones, overrides voicebot/outbound/timezones.py
    max_attempts: int = 3  # per customer and order in a campaign
    max_calls_per_customer_per_day: int = 2  # over every campaign
    retry_after_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETRY_AFTER))
    # Consent: with require_consent only customers with a recorded consent are called
    # (`voicebot campaign consent grant`); a revoked consent or the do-not-call list always wins.
    require_consent: bool = True
    identity: str = "name"  # name: "am I speaking with X?"; name_and_email: and the email on the account
    leave_voicemail: bool = True
    callback_number: str | None = None  # said in the voicemail ("call us back at ..."); none: "check your account"
    amd: AmdOptions = field(default_factory=AmdOptions)

    def __post_init__(self) -> None:
        problems = []
        if self.channel not in CHANNELS:
            problems.append(f"outbound.channel is {self.channel!r}: use sip or twilio")
        if self.identity not in IDENTITY_CHECKS:
            problems.append(f"outbound.identity is {self.identity!r}: use {' or '.join(IDENTITY_CHECKS)}")
        start, end = self.call_hours
        if not (0 <= start < end <= 24):
            problems.append(f"outbound.call_hours {self.call_hours} must be two hours start < end within 0..24")
        if not self.call_days or any(d not in range(7) for d in self.call_days):
            problems.append("outbound.call_days must list days 0 (Monday) .. 6 (Sunday)")
        if self.max_concurrent < 1 or self.max_per_minute <= 0 or self.max_attempts < 1:
            problems.append("outbound.max_concurrent, max_per_minute and max_attempts must be positive")
        if self.ring_timeout_s <= 0 or self.connect_timeout_s <= self.ring_timeout_s:
            problems.append("outbound.connect_timeout_s must be longer than ring_timeout_s (both positive)")
        if "{number}" not in self.sip_target:
            problems.append("outbound.sip_target must contain {number}, e.g. sip:{number}@trunk.example.com")
        if problems:
            raise ValueError("; ".join(problems))

    def retry_delay(self, outcome: str) -> float | None:
        """Seconds before the next try after ``outcome``; None when the outcome is final."""
        value = self.retry_after_s.get(outcome)
        return float(value) if value is not None else None


def _tuple(value: Any) -> tuple:
    if isinstance(value, str):
        return tuple(int(v) for v in value.replace("-", ",").split(",") if v.strip())
    return tuple(value)


def options_from_settings(settings: Any) -> OutboundOptions:
    """``settings.outbound`` (a mapping, possibly from VOICEBOT_OUTBOUND__* strings) validated."""
    raw = dict(getattr(settings, "outbound", None) or {})
    opts = OutboundOptions()
    known = {f.name: f for f in dataclasses.fields(opts)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ValueError(f"unknown outbound setting {key!r}; known: {sorted(known)}")
        default = getattr(opts, key)
        if key == "amd":
            amd_known = {f.name for f in dataclasses.fields(AmdOptions)}
            unknown = set(value) - amd_known
            if unknown:
                raise ValueError(f"unknown outbound.amd setting(s) {sorted(unknown)}; known: {sorted(amd_known)}")
            value = AmdOptions(**{k: type(getattr(AmdOptions(), k))(v) if not isinstance(getattr(AmdOptions(), k), tuple) else tuple(v)
                                  for k, v in value.items()})
        elif key == "retry_after_s":
            value = {**DEFAULT_RETRY_AFTER, **{k: float(v) for k, v in value.items()}}
        elif key in ("call_hours", "call_days"):
            value = _tuple(value)
        elif isinstance(default, bool):
            value = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        values[key] = value
    return dataclasses.replace(opts, **values)
