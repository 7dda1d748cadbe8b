"""Settings: documented defaults, overridden by a YAML file and then by VOICEBOT_* variables.

Each section is a small dataclass. Channels keep their own section here so an operator has
one file to read (``voicebot serve --print-config`` shows the result).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _default_home() -> Path:
    return Path(os.environ.get("VOICEBOT_HOME", ROOT / "var"))


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Host name the outside world uses (Twilio, browsers). Behind ngrok or a load balancer the
    # request's own Host header is wrong, so TwiML and signatures use this when it is set.
    public_host: str | None = None


@dataclass
class ModelSettings:
    dir: Path = field(default_factory=lambda: _default_home() / "models")
    asr: str = "whisper-base"  # a folder name under dir (dev models: whisper-base-dev)
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    # Build random-weight dev models when no real one is present (offline machines).
    build_dev_if_missing: bool = True


@dataclass
class TwilioSettings:
    account_sid: str | None = None
    auth_token: str | None = None
    # Signature verification can only be switched off explicitly (local development).
    verify_signatures: bool = True
    api_base_url: str | None = None  # tests point the REST client at a local stand-in
    hold_music_url: str | None = None  # played under the hold message while a caller waits for an agent


@dataclass
class SipSettings:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5070
    transports: tuple[str, ...] = ("udp", "tcp")
    public_address: str | None = None
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    allow_from: tuple[str, ...] = ()  # peer addresses/CIDRs allowed; empty = any
    rtp_timeout_s: float = 30.0
    # Transfers to humans: REFER to the SIP URI of the call's queue (language/skill), e.g.
    # {"es": "sip:es-agents@pbx.example.com"}, else to the default.
    transfer_targets: dict[str, str] = field(default_factory=dict)
    default_transfer_target: str | None = None
    # How a caller reaches a desk agent who has a SIP contact: "blind" (REFER; the bot leaves the
    # call) or "attended" (the bot calls the agent, briefs them while the caller holds, then
    # relays both legs' RTP until one hangs up; see voicebot/handoff/sip_attended.py).
    transfer_mode: str = "blind"
    agent_answer_timeout_s: float = 30.0  # attended: the agent's phone rings this long, then the caller is relayed
    hold_tone: bool = True  # attended: a soft beep every 3 s while the caller waits; False = silence
    # Outbound registration to a trunk that requires it (digest auth); empty registrar = none.
    registrar: str | None = None
    username: str | None = None
    password: str | None = None
    # Send RTP to where the phone's RTP comes from (phones behind NAT advertising wrong addresses).
    comedia: bool = False


@dataclass
class InappSettings:
    """The in-app voice button (voicebot/channels/webrtc). With no secret: demo mode, a random
    secret per process and only the server's own origin allowed."""

    secret: str | None = None  # HMAC secret shared with the shop's backend that issues session tokens
    allowed_origins: tuple[str, ...] = ()  # pages allowed to open calls (e.g. https://shop.example.com)
    demo_tokens: bool | None = None  # serve /inapp/demo-token (default: only in demo mode)
    max_calls: int = 50
    media_timeout_s: float = 10.0  # no audio from the browser this long: the call ends


@dataclass
class StoreSettings:
    url: str = ""  # sqlite:///path or postgresql://...; empty = sqlite under home
    recordings: bool = True
    recordings_dir: Path | None = None  # default: <home>/recordings
    recordings_disabled_channels: tuple[str, ...] = ()  # e.g. ("webrtc",)
    recordings_disabled_prefixes: tuple[str, ...] = ()  # caller number prefixes, e.g. ("+49",) where consent rules differ
    retention_days: int = 90  # calls and recordings older than this are deleted
    redact: bool = True  # card numbers, emails, phone numbers masked in stored transcripts and in logs
    instance: str | None = None  # per process in a PostgreSQL fleet: a restart closes only its own calls


@dataclass
class Settings:
    home: Path = field(default_factory=_default_home)
    pipeline: Path = ROOT / "pipelines" / "phone.yaml"
    voices: Path = ROOT / "voices" / "catalog.yaml"
    server: ServerSettings = field(default_factory=ServerSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    inapp: InappSettings = field(default_factory=InappSettings)
    # The customer-service dialogue's options (voicebot.dialogue.engine.DialogueOptions field
    # names: shop_name, order_store, order_api_url, greetings, llm: {...}); validated there.
    dialogue: dict[str, Any] = field(default_factory=dict)
    # The handoff bridge and agent desk (voicebot.handoff.routes.HandoffOptions field names:
    # state_url (memory:// or redis://...), offer_timeout_s, session_ttl_s, secure_cookie), and
    # ``voicemail``: messages outside hours (voicebot.handoff.voicemail.VoicemailOptions field
    # names: enabled, instead_of_callback, max_s (120), end_silence_s (5), no_speech_s (15),
    # sample_rate (16000 | 8000), tone_hz, tone_ms, ...), e.g. VOICEBOT_HANDOFF__VOICEMAIL__MAX_S=60.
    handoff: dict[str, Any] = field(default_factory=dict)
    # Outbound calls and campaigns (voicebot.outbound.options.OutboundOptions field names: enabled,
    # channel (sip | twilio), caller_id, sip_target, max_concurrent, max_per_minute, call_hours,
    # call_days, max_attempts, require_consent, callback_number, amd: {...}); validated there.
    outbound: dict[str, Any] = field(default_factory=dict)

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.home / 'voicebot.sqlite3'}"

    def as_dict(self) -> dict[str, Any]:
        def conv(v: Any) -> Any:
            if dataclasses.is_dataclass(v):
                return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, tuple):
                return list(v)
            return v

        return conv(self)


def _apply(obj: Any, values: dict[str, Any], where: str) -> None:
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in values.items():
        if key not in names:
            raise ValueError(f"unknown setting {where}{key!r}; known: {sorted(names)}")
        current = getattr(obj, key)
        if isinstance(current, dict) and isinstance(value, dict):
            setattr(obj, key, {**current, **value})
        elif dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"setting {where}{key} must be a mapping")
            _apply(current, value, f"{where}{key}.")
        else:
            setattr(obj, key, _coerce(current, value))


def _coerce(current: Any, value: Any) -> Any:
    if isinstance(current, bool):
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return bool(value)
    if isinstance(current, Path):
        return Path(value)
    if isinstance(current, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(value)
    return value


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults < YAML file (``path`` or $VOICEBOT_CONFIG) < VOICEBOT_SECTION__KEY variables.

    Example: ``VOICEBOT_SERVER__PORT=9000``, ``VOICEBOT_TWILIO__AUTH_TOKEN=...``.
    """
    env = dict(os.environ if env is None else env)
    settings = Settings()
    path = path or env.get("VOICEBOT_CONFIG")
    if path:
        data = yaml.safe_load(Path(path).read_text()) or {}
        _apply(settings, data, "")
    overrides: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("VOICEBOT_") or "__" not in key:
            continue
        parts = key[len("VOICEBOT_") :].lower().split("__")
        node = overrides
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    _apply(settings, overrides, "")
    if settings.sip.transfer_mode not in ("blind", "attended"):
        raise ValueError(f"sip.transfer_mode is {settings.sip.transfer_mode!r}: set it to blind (REFER) or attended (the bot calls and briefs the agent)")
    if "VOICEBOT_HOME" in env and not (path or "models" in overrides):
        settings.models.dir = settings.home / "models"
    return settings
