"""The hand-off service of one bot process (bridge, desk accounts, Talk legs), and its installation.

The composition root (``voicebot.server.compose``) installs it once, before any router or
channel needs it: :func:`service_for` puts it on the runtime (``runtime.handoff``, read by the
desk's routes) with the hook every channel's calls attach (``runtime.attach_handoff``), and
:func:`attach_voicemail` gives its bridge the voicemail service (``runtime.voicemail``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from voicebot.config_types import validate_section
from voicebot.web_guard import SignInThrottle

from .agent_media import AgentMedia
from .auth import Accounts
from .bridge import BridgeOptions, HandoffBridge
from .hooks import ChannelHandoffs
from .options import HandoffOptions
from .state import HandoffState, make_state
from .translate import TextTranslator
from .voicemail_call import VoicemailService


@dataclass
class HandoffService:
    """What the desk's routes and the channels' calls share: tickets, the bridge, sign-in, Talk."""

    state: HandoffState
    bridge: HandoffBridge
    accounts: Accounts
    options: HandoffOptions = field(default_factory=HandoffOptions)
    media: AgentMedia = field(init=False)  # the desk's Talk legs held by this process
    ids: SignInThrottle = field(init=False)  # failed sign-ins per agent id
    addresses: SignInThrottle = field(init=False)  # ... and per client address (an office behind one NAT gets more)

    def __post_init__(self) -> None:
        self.media = AgentMedia(self.bridge, self.options.talk())
        o = self.options
        self.ids = SignInThrottle(o.login_max_failures, o.login_window_s, o.login_lockout_s)
        self.addresses = SignInThrottle(o.login_max_failures * 4, o.login_window_s, o.login_lockout_s)

    async def ensure_started(self) -> None:
        await self.bridge.start()


def shop_hours(settings: Any) -> Any:
    """The shop's business hours when the merchant set them (``shop.hours``), else None: the
    default weekday 9-17 UTC must not close queues that only their agents' shifts were meant to govern."""
    shop = getattr(settings, "shop", None)
    return shop.hours if "hours" in getattr(shop, "model_fields_set", ()) else None


def service_for(runtime: Any, options: HandoffOptions | None = None) -> HandoffService:
    """The runtime's hand-off service, installed on it now if it has none (``options``: else
    ``settings.handoff``): ``runtime.handoff``, and ``runtime.attach_handoff`` for the channels."""
    svc = getattr(runtime, "handoff", None)
    if svc is None:
        raw = getattr(runtime.settings, "handoff", None)
        opts = options or (raw if isinstance(raw, HandoffOptions) else validate_section(HandoffOptions, raw or {}, "handoff."))
        state = make_state(opts.state_url)
        bridge = HandoffBridge(state, BridgeOptions(routing=opts.routing(shop_hours(runtime.settings))),
                               translator=TextTranslator(whisper_provider=lambda: runtime.asr(runtime.spec())))
        accounts = Accounts(Path(runtime.settings.home) / "handoff.sqlite3", opts.session_ttl_s)
        svc = HandoffService(state, bridge, accounts, opts)
        runtime.handoff = svc
        runtime.attach_handoff = ChannelHandoffs(runtime, bridge)
    return svc


def installed(runtime: Any) -> HandoffService:
    """The hand-off service the composition root installed; 503 (the desk is not set up) without one."""
    svc = getattr(runtime, "handoff", None)
    if svc is None:
        raise HTTPException(503, "the agent desk is not set up in this process: install the hand-off service "
                                 "(voicebot.handoff.service.service_for) before mounting its routes")
    return svc


def attach_voicemail(runtime: Any) -> VoicemailService:
    """Give the runtime's hand-off bridge its voicemail service (once; the hand-off service is
    installed first if need be): messages are taken outside hours (``settings.handoff.voicemail``)."""
    bridge = service_for(runtime).bridge
    if bridge.voicemail is None:
        bridge.voicemail = VoicemailService.from_runtime(runtime)
    runtime.voicemail = bridge.voicemail
    return bridge.voicemail
