"""SDP (RFC 4566) and the offer/answer model (RFC 3264) for one audio stream, no I/O.

The bot speaks G.711 at 8 kHz only: PCMU (payload type 0) and PCMA (8), plus
telephone-event (RFC 4733) for keypad digits. A description keeps its lines in order,
so a parsed description serializes back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUPPORTED_CODECS = {"PCMU": 0, "PCMA": 8}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSE = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
_STATIC_NAMES = {0: "PCMU", 8: "PCMA"}


class SdpError(ValueError):
    """The body is not usable SDP."""


def _valid_connection(value: str) -> bool:
    """``IN IP4 203.0.113.1`` (optionally ``/ttl``): network type, address type and an address."""
    parts = value.split()
    return len(parts) == 3 and parts[0] == "IN" and parts[1] in ("IP4", "IP6") and bool(parts[2].split("/")[0])


@dataclass
class Media:
    kind: str
    port: int
    proto: str
    formats: list[str]
    lines: list[tuple[str, str]] = field(default_factory=list)  # every line after m=

    def attrs(self, name: str) -> list[str]:
        out = []
        for t, v in self.lines:
            if t == "a":
                key, _, val = v.partition(":")
                if key == name:
                    out.append(val)
        return out

    @property
    def connection(self) -> str | None:
        for t, v in self.lines:
            if t == "c":
                return v.split()[-1].split("/")[0]
        return None

    @property
    def direction(self) -> str | None:
        for t, v in self.lines:
            if t == "a" and v in DIRECTIONS:
                return v
        return None

    def rtpmap(self) -> dict[int, tuple[str, int]]:
        """payload type -> (encoding name upper-cased, clock rate); static types filled in."""
        out: dict[int, tuple[str, int]] = {}
        for fmt in self.formats:
            if fmt.isdecimal() and int(fmt) in _STATIC_NAMES:
                out[int(fmt)] = (_STATIC_NAMES[int(fmt)], 8000)
        for val in self.attrs("rtpmap"):
            pt, _, enc = val.partition(" ")
            parts = enc.split("/")
            if pt.isdecimal() and len(parts) >= 2 and parts[1].isdecimal():
                out[int(pt)] = (parts[0].upper(), int(parts[1]))
        return out


@dataclass
class SessionDescription:
    session: list[tuple[str, str]] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)

    @classmethod
    def parse(cls, body: bytes | str) -> SessionDescription:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        desc = cls()
        current: Media | None = None
        for raw in text.replace("\r\n", "\n").split("\n"):
            if not raw:
                continue
            if len(raw) < 2 or raw[1] != "=":
                raise SdpError(f"bad SDP line {raw[:40]!r}")
            t, v = raw[0], raw[2:]
            if t == "m":
                parts = v.split()
                if len(parts) < 4 or not parts[1].split("/")[0].isdecimal():
                    raise SdpError(f"bad m= line {v[:80]!r}")
                port = int(parts[1].split("/")[0])
                if port > 65535:
                    raise SdpError(f"m= port {port} is not a UDP port (0-65535)")
                current = Media(parts[0], port, parts[2], parts[3:])
                current.lines.append(("m", v))
                desc.media.append(current)
            elif t == "c" and not _valid_connection(v):
                raise SdpError(f"bad c= line {v[:80]!r}: write 'IN IP4 <address>' or 'IN IP6 <address>'")
            elif current is not None:
                current.lines.append((t, v))
            else:
                desc.session.append((t, v))
        if not desc.session or desc.session[0][0] != "v":
            raise SdpError("SDP must start with v=")
        return desc

    def serialize(self) -> bytes:
        lines = [f"{t}={v}" for t, v in self.session]
        for m in self.media:
            lines += [f"{t}={v}" for t, v in m.lines]
        return ("\r\n".join(lines) + "\r\n").encode()

    @property
    def connection(self) -> str | None:
        for t, v in self.session:
            if t == "c":
                return v.split()[-1].split("/")[0]
        return None

    @property
    def direction(self) -> str | None:
        for t, v in self.session:
            if t == "a" and v in DIRECTIONS:
                return v
        return None

    def audio(self) -> Media | None:
        return next((m for m in self.media if m.kind == "audio" and m.port != 0), None)


@dataclass(frozen=True)
class MediaParams:
    """What was agreed for the audio stream."""

    remote_host: str
    remote_port: int
    payload_type: int
    codec: str  # "PCMU" | "PCMA"
    dtmf_payload_type: int | None
    direction: str  # the direction of the *remote* side: sendrecv, sendonly, ...
    ptime_ms: int = 20

    @property
    def on_hold(self) -> bool:
        """The far end put us on hold (RFC 3264 8.4 and the legacy c=0.0.0.0 form)."""
        return self.direction in ("sendonly", "inactive") or self.remote_host in ("0.0.0.0", "::")


@dataclass(frozen=True)
class NoCommonCodec:
    """The offer has nothing the bot can speak: answer 488 with ``reason``."""

    reason: str


def negotiate(offer: SessionDescription, preferred: tuple[str, ...] = ("PCMU", "PCMA")) -> MediaParams | NoCommonCodec:
    """Pick the codec for an offer: the first in the offer's order that we support."""
    audio = offer.audio()
    if audio is None:
        return NoCommonCodec("no audio stream in the offer")
    if audio.proto.upper() not in ("RTP/AVP", "RTP/AVPF"):
        return NoCommonCodec(f"unsupported media transport {audio.proto} (only plain RTP/AVP)")
    rtpmap = audio.rtpmap()
    chosen: tuple[int, str] | None = None
    for fmt in audio.formats:
        if not fmt.isdecimal() or int(fmt) > 127:  # RTP payload types are 7 bits
            continue
        name, rate = rtpmap.get(int(fmt), ("", 0))
        if name in preferred and rate == 8000:
            chosen = (int(fmt), name)
            break
    if chosen is None:
        offered = ", ".join(f"{rtpmap.get(int(f), (f, 0))[0]}" for f in audio.formats if f.isdecimal())
        return NoCommonCodec(f"no common codec: offered {offered or 'none'}, we speak {'/'.join(preferred)} 8 kHz")
    dtmf = next(
        (pt for pt, (name, rate) in rtpmap.items() if name == "TELEPHONE-EVENT" and rate == 8000 and str(pt) in audio.formats and pt <= 127),
        None,
    )
    host = audio.connection or offer.connection
    if host is None:
        return NoCommonCodec("no c= connection address")
    ptime = next((int(p) for p in audio.attrs("ptime") if p.strip().isdecimal() and 10 <= int(p) <= 120), 20)
    direction = audio.direction or offer.direction or "sendrecv"
    return MediaParams(host, audio.port, chosen[0], chosen[1], dtmf, direction, ptime)


def _describe(
    local_host: str, local_port: int, codecs: list[tuple[int, str]], dtmf_pt: int | None, direction: str, session_id: int, version: int
) -> SessionDescription:
    fmts = [str(pt) for pt, _ in codecs] + ([str(dtmf_pt)] if dtmf_pt is not None else [])
    ip = "IP6" if ":" in local_host else "IP4"
    desc = SessionDescription(
        session=[("v", "0"), ("o", f"voicebot {session_id} {version} IN {ip} {local_host}"), ("s", "voicebot"),
                 ("c", f"IN {ip} {local_host}"), ("t", "0 0")],
    )
    media = Media("audio", local_port, "RTP/AVP", fmts, [("m", f"audio {local_port} RTP/AVP {' '.join(fmts)}")])
    for pt, name in codecs:
        media.lines.append(("a", f"rtpmap:{pt} {name}/8000"))
    if dtmf_pt is not None:
        media.lines += [("a", f"rtpmap:{dtmf_pt} telephone-event/8000"), ("a", f"fmtp:{dtmf_pt} 0-16")]
    media.lines += [("a", "ptime:20"), ("a", direction)]
    desc.media.append(media)
    return desc


def make_answer(params: MediaParams, local_host: str, local_port: int, session_id: int, version: int = 1) -> bytes:
    """Answer SDP for agreed ``params``: one codec, telephone-event when offered, the reverse direction."""
    return _describe(
        local_host, local_port, [(params.payload_type, params.codec)], params.dtmf_payload_type,
        _REVERSE.get(params.direction, "sendrecv"), session_id, version,
    ).serialize()


def make_offer(local_host: str, local_port: int, session_id: int, version: int = 1, *, dtmf_pt: int = 101, direction: str = "sendrecv") -> bytes:
    """Offer SDP for an outbound call: PCMU, PCMA, telephone-event."""
    return _describe(local_host, local_port, [(0, "PCMU"), (8, "PCMA")], dtmf_pt, direction, session_id, version).serialize()
