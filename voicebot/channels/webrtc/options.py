"""The ``inapp:`` settings section: the in-app voice button's secret, origins and limits.

This class is the setting itself (``Settings.inapp``), parsed strictly from YAML or
``VOICEBOT_INAPP__*`` variables; it imports nothing heavy so ``voicebot.config`` stays light.
"""

from __future__ import annotations

import secrets

from pydantic import Field, PrivateAttr, field_validator

from voicebot.config_types import CsvTuple, Flag, Secret, Section, Seconds, reveal

from .protocol import MAX_SIGNAL_BYTES

MIN_SECRET_CHARS = 16


class InappOptions(Section):
    """The in-app channel's settings (defaults suit the local demo)."""

    # HMAC secret shared with the shop's backend. None: a random secret for this process and the
    # demo token endpoint on (local demo only: set VOICEBOT_INAPP__SECRET in production).
    secret: Secret | None = None
    # Page origins allowed to start calls (https://shop.example). Empty: the bot server's own origin only.
    allowed_origins: CsvTuple = ()
    demo_tokens: Flag | None = None  # the /inapp/demo-token endpoint; None: on exactly when no secret is set
    token_max_ttl_s: int = Field(3600, ge=1)  # a token claiming a longer life is refused
    max_signal_bytes: int = Field(MAX_SIGNAL_BYTES, ge=1024)
    max_calls: int = Field(50, ge=0)  # live in-app calls per process; more get a clear "busy" error
    media_timeout_s: Seconds = 10.0  # no audio from the browser this long (network dropped): the call ends
    connect_timeout_s: Seconds = 30.0  # WebRTC not connected this long after the answer: the call ends
    ws_start_timeout_s: Seconds = 10.0  # WebSocket fallback: the `start` message must come within this
    text_idle_timeout_s: Seconds = 900.0  # a typed session (no microphone) ends after this long with nothing typed
    # Host candidates aiortc offers (tests: ("127.0.0.1",), as aioice skips loopback). Empty: aioice's own choice.
    ice_addresses: CsvTuple = ()
    ice_servers: CsvTuple = ()  # e.g. stun:stun.example:3478; empty: host candidates only
    keep_results: int = Field(100, ge=0)  # ended calls kept in memory for /inapp/calls/{id} (the store keeps them all)
    _process_secret: str = PrivateAttr(default_factory=lambda: secrets.token_urlsafe(32))

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, v: Secret | None) -> Secret | None:
        text = reveal(v)
        if text is not None and len(text) < MIN_SECRET_CHARS:
            raise ValueError(f"inapp.secret must be at least {MIN_SECRET_CHARS} characters (use e.g. `openssl rand -hex 32`)")
        return v if text else None

    @property
    def effective_secret(self) -> str:
        return reveal(self.secret) or self._process_secret

    @property
    def demo_enabled(self) -> bool:
        return (not self.secret) if self.demo_tokens is None else self.demo_tokens
