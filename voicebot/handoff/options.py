"""The ``handoff:`` settings section (agent desk, sign-in, Talk) and its ``voicemail:`` part.

These classes are the settings themselves (``Settings.handoff``): their defaults are the only
ones, and environment variables such as ``VOICEBOT_HANDOFF__SESSION_TTL_S=3600`` or
``VOICEBOT_HANDOFF__VOICEMAIL__MAX_S=60`` are parsed into them strictly. Kept free of heavy
imports so ``voicebot.config`` stays cheap to load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from voicebot.config_types import CsvTuple, Flag, Section, Seconds, validate_section
from voicebot.schedule import Schedule

from .hours import schedule_from_text


def _queues(value: Any) -> Any:
    """From the environment: a JSON object ``{"es": "mon-fri 09:00-17:00 Europe/Madrid", ...}``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"write a JSON object of queue name -> hours, e.g. {{\"es\": \"mon-fri 09:00-17:00 Europe/Madrid\"}} ({exc})") from None
    return value


# Business hours: a schedule mapping (timezone, mon..sun, holidays) or a shift text with its zone last.
Hours = Annotated[Schedule, BeforeValidator(schedule_from_text)]


@dataclass(frozen=True)
class TalkOptions:
    """The desk's Talk legs (``settings.handoff``: ``talk_ice_addresses`` ...)."""

    ice_addresses: tuple[str, ...] = ()  # host candidates offered (tests: ("127.0.0.1",)); empty: aioice's choice
    ice_servers: tuple[str, ...] = ()  # stun:/turn: URLs; empty: host candidates only
    media_timeout_s: float = 10.0  # no audio from the agent's browser this long: the agent has left
    connect_timeout_s: float = 30.0  # no agent audio this long after the answer: the agent has left
    caller_buffer_ms: int = 200  # caller audio waiting for the agent's track beyond this is dropped


class VoicemailOptions(Section):
    """How messages are taken outside hours. Defaults are what a phone voicemail usually does."""

    model_config = Section.model_config | {"frozen": True}

    enabled: Flag = True  # False: no message is taken; the caller only hears routing's out-of-hours line
    instead_of_callback: Flag = False  # also take a message when routing says "callback" (the caller's number is known)
    max_s: Seconds = 120.0  # longest message; the recording is cut there
    end_silence_s: Seconds = 5.0  # this much silence after the caller has spoken ends the message
    no_speech_s: Seconds = 15.0  # nothing said this long after the tone: no message (nothing is stored)
    min_speech_ms: int = Field(300, ge=0)  # less voiced audio than this is no message
    sample_rate: int = 16000  # the WAV's rate: 16000 (the pipeline's) or 8000
    tone_hz: float = 880.0  # the beep: 440-1000 Hz
    tone_ms: int = Field(300, ge=50, le=2000)
    vad_aggressiveness: int = 2  # webrtcvad 0..3 (as the pipeline's VAD)
    prompt_timeout_s: Seconds = 30.0  # the prompt or beep not confirmed played by then (call clock): go on anyway
    transcript_wait_s: float = Field(4.0, ge=0)  # after the message, wait this long (call clock) for the ASR's last words

    @field_validator("sample_rate")
    @classmethod
    def _rate(cls, v: int) -> int:
        if v not in (8000, 16000):
            raise ValueError(f"handoff.voicemail.sample_rate must be 8000 or 16000, got {v}")
        return v

    @field_validator("tone_hz")
    @classmethod
    def _tone(cls, v: float) -> float:
        if not 440 <= v <= 1000:
            raise ValueError(f"handoff.voicemail.tone_hz must be 440-1000 Hz, got {v}")
        return v

    @field_validator("vad_aggressiveness")
    @classmethod
    def _vad(cls, v: int) -> int:
        if v not in (0, 1, 2, 3):
            raise ValueError(f"handoff.voicemail.vad_aggressiveness must be 0..3, got {v}")
        return v

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None) -> VoicemailOptions:
        """From a ``voicemail:`` mapping (strings as environment variables give them are parsed strictly)."""
        return validate_section(cls, raw or {}, "handoff.voicemail.")

    @classmethod
    def from_settings(cls, settings: Any) -> VoicemailOptions:
        handoff = getattr(settings, "handoff", None)
        if isinstance(handoff, HandoffOptions):
            return handoff.voicemail
        return cls.from_mapping((handoff or {}).get("voicemail") if isinstance(handoff, dict) else None)


class HandoffOptions(Section):
    """The hand-off bridge and the agent desk of one server (``handoff:``)."""

    state_url: str = "memory"  # or redis://127.0.0.1:6379/0 when several bot processes serve one team
    offer_timeout_s: Seconds = 20.0  # an offered agent who does not accept within this: the next one
    session_ttl_s: Seconds = 8 * 3600  # desk sign-in lasts this long
    secure_cookie: Flag = False  # set true behind HTTPS: the session cookie is then never sent over plain HTTP
    # Desk sign-in throttle: after this many failed sign-ins for one agent id, or from one client
    # address, within ``login_window_s``, further attempts are refused for ``login_lockout_s``.
    login_max_failures: int = Field(5, ge=1)
    login_window_s: Seconds = 300.0
    login_lockout_s: Seconds = 900.0
    # Every failed sign-in answers no sooner than this after the request came in, whether the
    # agent id exists or not (the password check itself costs ~50 ms; this hides the rest).
    login_failure_floor_s: float = Field(0.25, ge=0)
    # Talk (the agent's voice from the desk over WebRTC): see TalkOptions and voicebot.handoff.agent_media
    talk_ice_addresses: CsvTuple = ()  # host candidates offered; tests: ("127.0.0.1",)
    talk_ice_servers: CsvTuple = ()  # stun:/turn: URLs for desks outside the bot's network
    talk_media_timeout_s: Seconds = 10.0  # no audio from the agent's browser this long: the agent has left the call
    voicemail: VoicemailOptions = Field(default_factory=VoicemailOptions)
    # Business hours of every queue (holidays included): outside them no call is offered to agents
    # and callers get a voicemail, a callback or the bot. None: a queue is open whenever one of its
    # agents is on shift (each agent's own hours, ``voicebot agents add --hours``), unless the
    # shop's business hours (``shop.hours``) are set: then those.
    # E.g. {timezone: Europe/Madrid, sat: "10:00-14:00", holidays: [2026-12-25]} or "mon-fri 09:00-18:00 Europe/Madrid".
    hours: Hours | None = None
    # Hours of single queues, by name: a language ("es"), a skill ("returns") or both ("es:returns").
    queues: Annotated[dict[str, Hours], BeforeValidator(_queues)] = Field(default_factory=dict)

    def routing(self, shop_hours: Schedule | None = None) -> Any:
        """The routing options these settings give (offer timeout, queue hours); ``shop_hours``
        (the shop's business hours, when the merchant set them) stand in for unset ``hours``."""
        from .routing import RoutingOptions

        hours = self.hours if self.hours is not None else shop_hours
        return RoutingOptions(offer_timeout_s=self.offer_timeout_s, hours=hours, queue_hours=dict(self.queues))

    def talk(self) -> TalkOptions:
        """The desk's Talk legs' options these settings give."""
        return TalkOptions(ice_addresses=tuple(self.talk_ice_addresses), ice_servers=tuple(self.talk_ice_servers),
                           media_timeout_s=self.talk_media_timeout_s)
