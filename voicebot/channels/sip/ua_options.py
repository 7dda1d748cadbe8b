"""What the SIP user agent is configured with: :class:`SipOptions` and the trunk registration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voicebot.config_types import reveal

from .rtp_session import RtpOptions
from .transaction import Timers

if TYPE_CHECKING:
    from voicebot.config import SipSettings

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, INFO"  # the methods we answer (Allow header)


@dataclass(frozen=True)
class RegistrationOptions:
    """Outbound registration to a trunk/PBX (``registrar`` e.g. ``sip:pbx.example.com:5060``)."""

    registrar: str
    username: str
    password: str
    aor: str | None = None  # defaults to sip:username@<registrar host>
    expires_s: int = 300
    retry_s: float = 30.0  # after a failed attempt


@dataclass(frozen=True)
class SipOptions:
    """Everything the user agent needs; defaults suit a bot on one host behind a PBX."""

    host: str = "127.0.0.1"  # address to bind SIP and RTP to
    port: int = 5070  # 0 = any free port (tests)
    transports: tuple[str, ...] = ("udp", "tcp")
    public_address: str | None = None  # address written in Via/Contact/SDP when behind NAT
    user: str = "bot"  # user part of our Contact
    user_agent: str = "voicebot"
    rtp: RtpOptions = field(default_factory=RtpOptions)
    allow_from: tuple[str, ...] = ()  # peer addresses/CIDRs allowed to send requests; empty = any
    # Messages per second per source address, with this burst; beyond, messages are dropped
    # unread. Behind kamailio every message comes from the proxy: size it for the proxy's rate.
    rate_limit_per_s: float = 200.0
    rate_limit_burst: int = 400
    max_calls: int = 200  # more concurrent calls get 503
    # Ring this long (180) before answering (200). Not 0: a proxy with parallel workers
    # (kamailio children) can deliver a 200 sent right behind the 180 before it.
    answer_delay_s: float = 0.1
    timers: Timers = field(default_factory=Timers)
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    registration: RegistrationOptions | None = None
    handler_grace_s: float = 5.0  # on stop, how long call handlers get to finish
    # New calls get 503 while the event loop runs this late (smoothed): past its capacity one
    # more call would make every call's audio late, so it is refused and the proxy tries
    # another bot. 0 = never (the library default; `voicebot serve` uses sip.overload_lag_s).
    overload_lag_s: float = 0.0

    @classmethod
    def from_settings(cls, sip: SipSettings, **overrides: object) -> SipOptions:
        """From the typed ``voicebot.config.SipSettings`` (the operator's defaults live there only)."""
        rtp = RtpOptions(host=sip.host, port_min=sip.rtp_port_min, port_max=sip.rtp_port_max, timeout_s=sip.rtp_timeout_s,
                         comedia=sip.comedia)
        registration = None
        password = reveal(sip.password)
        if sip.registrar:
            if not (sip.username and password):
                raise ValueError("sip.registrar is set: set sip.username and sip.password too (digest credentials of the trunk)")
            registration = RegistrationOptions(registrar=sip.registrar, username=sip.username, password=password)
        base = cls(host=sip.host, port=sip.port, transports=tuple(sip.transports), public_address=sip.public_address,
                   allow_from=tuple(sip.allow_from), rtp=rtp, registration=registration, max_calls=sip.max_calls,
                   rate_limit_per_s=sip.rate_limit_per_s, rate_limit_burst=sip.rate_limit_burst, overload_lag_s=sip.overload_lag_s)
        return _replace(base, **overrides)


def _replace(opts: SipOptions, **changes: object) -> SipOptions:
    import dataclasses

    return dataclasses.replace(opts, **changes)  # type: ignore[arg-type]
