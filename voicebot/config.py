"""Settings: one typed model for the whole program, from defaults, a YAML file and VOICEBOT_* variables.

Every section is a pydantic model whose defaults are the only ones (the dialogue, hand-off and
in-app sections are the option classes of those parts, imported here). Values are parsed
strictly wherever they come from: a yes/no key takes true/false, 1/0, yes/no or on/off, a
number must read as one, an unknown key is refused, and the error names the key and the
variable or file it came from. Secrets (``*auth_token``, ``*secret``, ``*password``) are
``SecretStr``: ``--print-config`` and logs show ``**********``.

Layering: defaults < YAML (``--config`` or $VOICEBOT_CONFIG) < ``VOICEBOT_SECTION__KEY``
variables (``__`` separates nesting levels: ``VOICEBOT_HANDOFF__VOICEMAIL__MAX_S=60``).
Lists from variables are comma-separated; mappings are JSON or ``key=value, key=value``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicebot.channels.twilio.protocol import MAX_MESSAGE_BYTES
from voicebot.channels.webrtc.options import InappOptions
from voicebot.config_types import (
    ConfigError,
    CsvTuple,
    Flag,
    Port,
    Secret,
    Section,
    Seconds,
    StrMap,
    describe,
    reveal,
)
from voicebot.dialogue.engine import DialogueOptions
from voicebot.handoff.options import HandoffOptions
from voicebot.outbound.options import OutboundOptions
from voicebot.shop import ShopSettings

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "VOICEBOT_"

__all__ = ["ROOT", "ConfigError", "Settings", "load_settings", "reveal"]


def _default_home() -> Path:
    return Path(os.environ.get("VOICEBOT_HOME", ROOT / "var"))


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: Port = 8080
    # Host name the outside world uses (Twilio, browsers). Behind ngrok or a load balancer the
    # request's own Host header is wrong, so TwiML and signatures use this when it is set.
    public_host: str | None = None
    # FastAPI's /docs, /redoc and /openapi.json. None: served only when bound to loopback
    # (a public bind does not advertise every route to whoever asks).
    api_docs: Flag | None = None
    # /metrics without the desk's sign-in (Prometheus cannot sign in). None: only on a loopback
    # bind; otherwise it needs a desk session (or run the scraper through a loopback-bound bot).
    public_metrics: Flag | None = None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def docs_enabled(self) -> bool:
        return self.loopback if self.api_docs is None else self.api_docs

    @property
    def metrics_public(self) -> bool:
        return self.loopback if self.public_metrics is None else self.public_metrics


class ModelSettings(Section):
    dir: Path = Field(default_factory=lambda: _default_home() / "models")
    asr: str = "whisper-base"  # a folder name under dir (dev models: whisper-base-dev)
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = Field(2, ge=1)
    # OS nice value of every thread but the event loop (ASR, TTS, the models' own pools), so the
    # loop that paces every call's audio gets the CPU first (voicebot/thread_priority.py). 0 = equal.
    compute_nice: int = Field(10, ge=0, le=19)
    # Build random-weight dev models when no real one is present (offline machines).
    build_dev_if_missing: Flag = True
    # Pre-render the shop's fixed sentences in every neural voice (voicebot.tts.warm) in a
    # background process at nice 19 when serve starts; calls read them from <home>/cache/tts.
    warm_voices: Flag = True


class TwilioSettings(Section):
    account_sid: str | None = None
    auth_token: Secret | None = None
    # Signature verification can only be switched off explicitly (local development).
    verify_signatures: Flag = True
    api_base_url: str | None = None  # tests point the REST client at a local stand-in
    hold_music_url: str | None = None  # played under the hold message while a caller waits for an agent
    # Largest media-stream WebSocket message read; bigger ones are dropped unread (Twilio's own
    # are ~0.4 kB; a start message with custom parameters a few kB).
    max_message_bytes: int = Field(MAX_MESSAGE_BYTES, ge=4096, le=16 * 1024 * 1024)


class SipSettings(Section):
    enabled: Flag = False
    host: str = "127.0.0.1"
    port: Port = 5070
    transports: CsvTuple = ("udp", "tcp")
    public_address: str | None = None
    rtp_port_min: int = Field(20000, ge=1024, le=65534)
    rtp_port_max: int = Field(20999, ge=1025, le=65535)
    allow_from: CsvTuple = ()  # peer addresses/CIDRs allowed; empty = any
    rtp_timeout_s: Seconds = 30.0
    max_calls: int = Field(200, ge=1)  # more concurrent calls get 503
    # New calls get 503 while the event loop wakes this late (smoothed over ~0.5 s): the bot is
    # past its capacity and one more call would make every call's audio late. 0 = never.
    overload_lag_s: float = Field(0.1, ge=0)
    # Messages per second per source address (with this burst); beyond, messages are dropped.
    rate_limit_per_s: Seconds = 200.0
    rate_limit_burst: int = Field(400, ge=1)
    # Transfers to humans: REFER to the SIP URI of the call's queue (language/skill), e.g.
    # {"es": "sip:es-agents@pbx.example.com"}, else to the default.
    transfer_targets: StrMap = Field(default_factory=dict)
    default_transfer_target: str | None = None
    # How a caller reaches a desk agent who has a SIP contact: "blind" (REFER; the bot leaves the
    # call) or "attended" (the bot calls the agent, briefs them while the caller holds, then
    # relays both legs' RTP until one hangs up; see voicebot/handoff/sip_attended.py).
    transfer_mode: Literal["blind", "attended"] = "blind"
    agent_answer_timeout_s: Seconds = 30.0  # attended: the agent's phone rings this long, then the caller is relayed
    hold_tone: Flag = True  # attended: a soft beep every 3 s while the caller waits; false = silence
    # Outbound registration to a trunk that requires it (digest auth); empty registrar = none.
    registrar: str | None = None
    username: str | None = None
    password: Secret | None = None
    # Send RTP to where the phone's RTP comes from (phones behind NAT advertising wrong addresses).
    comedia: Flag = False

    @field_validator("transports")
    @classmethod
    def _transports(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in v if t.lower() not in ("udp", "tcp")]
        if bad or not v:
            raise ValueError(f"transports are udp and/or tcp, not {list(v)}")
        return tuple(t.lower() for t in v)

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an address or CIDR network (e.g. 10.0.0.0/8)") from None
        return v

    @model_validator(mode="after")
    def _rtp_range(self) -> SipSettings:
        if self.rtp_port_min >= self.rtp_port_max:
            raise ValueError(f"sip.rtp_port_min ({self.rtp_port_min}) must be below sip.rtp_port_max ({self.rtp_port_max})")
        return self


class StoreSettings(Section):
    url: str = ""  # sqlite:///path or postgresql://...; empty = sqlite under home
    recordings: Flag = True
    recordings_dir: Path | None = None  # default: <home>/recordings
    recordings_disabled_channels: CsvTuple = ()  # e.g. ("webrtc",)
    recordings_disabled_prefixes: CsvTuple = ()  # caller number prefixes, e.g. ("+49",) where consent rules differ
    retention_days: int = Field(90, ge=1)  # calls and recordings older than this are deleted
    redact: Flag = True  # card numbers, emails, phone numbers masked in stored transcripts and in logs
    instance: str | None = None  # per process in a PostgreSQL fleet: a restart closes only its own calls


class Settings(BaseSettings):
    """The whole program's settings. Build it with :func:`load_settings`; ``Settings()`` is the defaults."""

    # Sources are layered by load_settings (YAML, then our strict environment reader), not by
    # pydantic-settings' own env source: that one skips unknown VOICEBOT_* names silently and
    # reads lists as JSON, and an operator's typo must be an error, not a silent default.
    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True, validate_default=True,
                                      arbitrary_types_allowed=True)

    home: Path = Field(default_factory=_default_home)
    pipeline: Path = ROOT / "pipelines" / "phone.yaml"
    voices: Path = ROOT / "voices" / "catalog.yaml"
    shop: ShopSettings = Field(default_factory=ShopSettings)  # voicebot.shop: name, languages served, business hours
    server: ServerSettings = Field(default_factory=ServerSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    sip: SipSettings = Field(default_factory=SipSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    inapp: InappOptions = Field(default_factory=InappOptions)
    dialogue: DialogueOptions = Field(default_factory=DialogueOptions)  # voicebot.dialogue.engine
    handoff: HandoffOptions = Field(default_factory=HandoffOptions)  # voicebot.handoff.options (incl. voicemail)
    outbound: OutboundOptions = Field(default_factory=OutboundOptions)  # voicebot.outbound.options (campaigns, AMD)

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, *_: Any, **__: Any) -> tuple[Any, ...]:
        return (init_settings,)

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.home / 'voicebot.sqlite3'}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, typed values; secrets as ``**********`` (what ``--print-config`` shows)."""
        return self.model_dump(mode="json")


def _env_overrides(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """``VOICEBOT_A__B__C=v`` -> ({"a": {"b": {"c": "v"}}}, {"a.b.c": "VOICEBOT_A__B__C"})."""
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if not all(parts):
            raise ConfigError(f"environment variable {name}: empty part between '__'; write VOICEBOT_SECTION__KEY")
        node = tree
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {'.'.join(parts[:-1])} is set as a value by another variable")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise ConfigError(f"environment variable {name}: {'.'.join(parts)} is a section; set its keys (…__KEY)")
        node[parts[-1]] = value
        sources[".".join(parts)] = name
    return tree, sources


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _flatten(data: Any, prefix: str = "") -> list[str]:
    if not isinstance(data, dict):
        return [prefix.rstrip(".")]
    return [k for key, v in data.items() for k in _flatten(v, f"{prefix}{key}.")]


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults < YAML file (``path`` or $VOICEBOT_CONFIG) < VOICEBOT_SECTION__KEY variables.

    Example: ``VOICEBOT_SERVER__PORT=9000``, ``VOICEBOT_TWILIO__AUTH_TOKEN=...``. Raises
    :class:`ConfigError` (a ValueError) naming every key it cannot use.
    """
    env = dict(os.environ if env is None else env)
    path = path or env.get("VOICEBOT_CONFIG")
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the settings file {path}: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"the settings file {path} must hold a mapping (section: {{key: value}}), not {type(loaded).__name__}")
        data = loaded or {}
        sources.update({k: str(path) for k in _flatten(data)})
    overrides, env_sources = _env_overrides(env)
    sources.update(env_sources)
    data = _merge(data, overrides)
    if "home" not in data and env.get("VOICEBOT_HOME"):
        data["home"] = env["VOICEBOT_HOME"]
        if "dir" not in (data.get("models") or {}):
            data.setdefault("models", {})
            if isinstance(data["models"], dict):
                data["models"]["dir"] = str(Path(env["VOICEBOT_HOME"]) / "models")
    try:
        return Settings(**data)
    except ValidationError as exc:
        exc._voicebot_model = Settings  # type: ignore[attr-defined]
        raise ConfigError(describe(exc, "", sources)) from None
