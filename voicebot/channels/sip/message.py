"""SIP messages (RFC 3261 section 7): parse and serialize, no I/O.

Headers keep their original line so an untouched message serializes back byte for byte;
a header that is changed is written in the canonical ``Name: value`` form. Lookups accept
full and compact names (``v`` = Via, ``i`` = Call-ID, ...). Folded header lines (a line
starting with space or tab continues the previous one) are unfolded on parse.

Written here rather than taken from a library because no maintained Python SIP stack
installs on this machine (see ../shared/REAL-PEERS.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

SIP_VERSION = "SIP/2.0"
MAX_MESSAGE_BYTES = 65_535  # larger than any UDP datagram; a TCP peer sending more is broken

COMPACT_FORMS = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
    "v": "via", "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events",
    "x": "session-expires",
}
# Headers whose value is a comma-separated list that may also be split over several lines.
LIST_HEADERS = {"via", "route", "record-route", "contact", "allow", "supported", "require"}

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 407: "Proxy Authentication Required", 408: "Request Timeout",
    415: "Unsupported Media Type", 481: "Call/Transaction Does Not Exist", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
}

_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")


class SipParseError(ValueError):
    """The bytes are not a valid SIP message; ``reason`` is fit for a 400 reason phrase."""

    def __init__(self, reason: str, *, truncated: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.truncated = truncated


def canonical(name: str) -> str:
    """Lower-case full header name for lookups (``v`` -> ``via``)."""
    low = name.strip().lower()
    return COMPACT_FORMS.get(low, low)


@dataclass
class Header:
    name: str
    value: str
    raw: str | None = None  # the original line(s), kept for byte-exact serialization

    def line(self) -> str:
        return self.raw if self.raw is not None else f"{self.name}: {self.value}"


@dataclass
class Headers:
    """Ordered header list with case-insensitive, compact-form-aware access."""

    items: list[Header] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        key = canonical(name)
        for h in self.items:
            if canonical(h.name) == key:
                return h.value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, list headers split at top-level commas."""
        key = canonical(name)
        out: list[str] = []
        for h in self.items:
            if canonical(h.name) == key:
                out.extend(split_list(h.value) if key in LIST_HEADERS else [h.value])
        return out

    def set(self, name: str, value: str) -> None:
        """Replace the first header of that name (dropping later ones), or append."""
        key = canonical(name)
        found = False
        kept: list[Header] = []
        for h in self.items:
            if canonical(h.name) == key:
                if not found:
                    kept.append(Header(h.name, value))
                    found = True
                continue
            kept.append(h)
        if not found:
            kept.append(Header(name, value))
        self.items = kept

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        if first:
            self.items.insert(0, Header(name, value))
        else:
            self.items.append(Header(name, value))

    def remove(self, name: str) -> None:
        key = canonical(name)
        self.items = [h for h in self.items if canonical(h.name) != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Header]:
        return iter(self.items)

    def copy(self) -> Headers:
        return Headers([Header(h.name, h.value, h.raw) for h in self.items])


@dataclass
class SipMessage:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        return self.headers.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.headers.get("cseq") or ""
        parts = value.split()
        if len(parts) != 2 or not parts[0].isdecimal():
            raise SipParseError(f"bad CSeq {value!r}")
        return int(parts[0]), parts[1].upper()

    @property
    def from_addr(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("from") or "")

    @property
    def to_addr(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("to") or "")

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.get_all("via")]

    def first_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def serialize(self) -> bytes:
        """Bytes on the wire. Content-Length is set from the body unless it already matches."""
        length = self.headers.get("content-length")
        if length is None or not length.strip().isdecimal() or int(length) != len(self.body):
            self.headers.set("Content-Length", str(len(self.body)))
        head = "\r\n".join([self.first_line(), *(h.line() for h in self.headers)])
        return head.encode("utf-8") + b"\r\n\r\n" + self.body


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def first_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"


@dataclass
class SipResponse(SipMessage):
    status: int = 0
    reason: str = ""

    def first_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"


def split_list(value: str) -> list[str]:
    """Split ``a, <sip:b,c>;x="y,z", d`` at commas outside quotes and angle brackets."""
    out: list[str] = []
    depth_angle = 0
    in_quote = False
    start = 0
    i = 0
    while i < len(value):
        ch = value[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            depth_angle += 1
        elif ch == ">":
            depth_angle = max(0, depth_angle - 1)
        elif ch == "," and depth_angle == 0:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    last = value[start:].strip()
    if last:
        out.append(last)
    return [v for v in out if v]


def parse_params(text: str) -> dict[str, str | None]:
    """``;a=1;lr;b="x"`` -> {"a": "1", "lr": None, "b": "x"} (names lower-cased)."""
    params: dict[str, str | None] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, val = part.partition("=")
        params[name.strip().lower()] = val.strip().strip('"') if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass
class SipUri:
    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips", "tel"):
            raise SipParseError(f"not a SIP URI: {text!r}")
        rest, _, hdrs = rest.partition("?")
        if scheme.lower() == "tel":
            number, _, params = rest.partition(";")
            return cls("tel", user=number, host="", params=parse_params(params), headers=hdrs)
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            userinfo, hostpart = "", rest
        hostport, _, params = hostpart.partition(";")
        user, _, password = userinfo.partition(":")
        host, port = split_hostport(hostport)
        if not host:
            raise SipParseError(f"SIP URI without host: {text!r}")
        return cls(scheme.lower(), user or None, password or None, host, port, parse_params(params), hdrs)

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user}{format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        hdrs = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{host}{port}{format_params(self.params)}{hdrs}"


def split_hostport(text: str) -> tuple[str, int | None]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_s = text.partition(":")
    if port_s:
        if not port_s.isdecimal() or not 0 < int(port_s) < 65536:
            raise SipParseError(f"bad port in {text!r}")
        return host, int(port_s)
    return host, None


@dataclass
class NameAddr:
    """From/To/Contact/Route value: ``"Name" <uri>;tag=x`` or ``uri;tag=x``."""

    uri: str
    display: str = ""
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if not text:
            raise SipParseError("empty address header")
        if "<" in text:
            display, _, rest = text.partition("<")
            uri, close, params = rest.partition(">")
            if not close:
                raise SipParseError(f"unclosed '<' in {text!r}")
            return cls(uri.strip(), display.strip().strip('"'), parse_params(params))
        uri, _, params = text.partition(";")  # without <>, params belong to the header
        return cls(uri.strip(), "", parse_params(params))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def sip_uri(self) -> SipUri:
        return SipUri.parse(self.uri)

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        proto, _, rest = text.strip().partition(" ")
        parts = proto.split("/")
        if len(parts) != 3 or parts[0].upper() != "SIP":
            raise SipParseError(f"bad Via {text!r}")
        sent_by, _, params = rest.strip().partition(";")
        host, port = split_hostport(sent_by)
        if not host:
            raise SipParseError(f"Via without host: {text!r}")
        return cls(parts[2].upper(), host, port, parse_params(params))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"SIP/2.0/{self.transport} {host}{port}{format_params(self.params)}"


def parse_message(data: bytes, *, stream: bool = False) -> SipMessage:
    """Parse one SIP message.

    On a datagram (``stream=False``) a body longer than Content-Length is cut to it
    (RFC 3261 18.3) and a missing Content-Length means "the rest". On a stream the caller
    has framed the message with :func:`frame_stream`. Raises :class:`SipParseError`.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError("message too large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")  # tolerate bare LF (RFC 3261 7.5 is CRLF)
        if not sep:
            raise SipParseError("no blank line after headers (truncated?)", truncated=True)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0]:
        lines.pop(0)  # RFC 3261 7.5: ignore leading CRLFs
    if not lines:
        raise SipParseError("empty message")
    msg = _parse_start_line(lines[0])
    msg.headers = _parse_headers(lines[1:])
    for required in ("via", "from", "to", "call-id", "cseq"):
        if msg.headers.get(required) is None:
            raise SipParseError(f"missing {required} header")
    _cseq = msg.cseq  # validates
    if isinstance(msg, SipRequest) and _cseq[1] != msg.method:
        raise SipParseError("CSeq method does not match request method")
    if not msg.vias:  # validates every Via; an empty one ("Via:") leaves nowhere to answer
        raise SipParseError("missing via header")
    length = msg.headers.get("content-length")
    if length is not None:
        if not length.strip().isdecimal():
            raise SipParseError(f"bad Content-Length {length!r}")
        n = int(length)
        if len(body) < n:
            raise SipParseError(f"body truncated: Content-Length {n}, got {len(body)}", truncated=True)
        body = body[:n]
    elif stream:
        raise SipParseError("Content-Length is required on stream transports")
    msg.body = body
    return msg


def _parse_start_line(line: str) -> SipMessage:
    if line.startswith(SIP_VERSION + " "):
        _, code, reason = (line.split(" ", 2) + [""])[:3]
        if not (code.isdecimal() and len(code) == 3 and 100 <= int(code) <= 699):
            raise SipParseError(f"bad status line {line!r}")
        return SipResponse(status=int(code), reason=reason)
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] != SIP_VERSION:
        raise SipParseError(f"bad request line {line[:80]!r}")
    method, uri, _ = parts
    if not _TOKEN.match(method):
        raise SipParseError(f"bad method {method[:20]!r}")
    if ":" not in uri:
        raise SipParseError(f"bad Request-URI {uri[:80]!r}")
    return SipRequest(method=method.upper(), uri=uri)


def _parse_headers(lines: list[str]) -> Headers:
    headers = Headers()
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not headers.items:
                raise SipParseError("continuation line before any header")
            prev = headers.items[-1]
            prev.value = f"{prev.value} {line.strip()}".strip()
            prev.raw = f"{prev.raw}\r\n{line}"
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or not _TOKEN.match(name.strip()):
            raise SipParseError(f"malformed header line {line[:60]!r}")
        headers.items.append(Header(name.strip(), value.strip(), line))
    # A folded header cannot be written back byte-exact in its original shape and still be
    # parsed by strict peers, so re-emit folded headers unfolded.
    for h in headers.items:
        if h.raw is not None and "\r\n" in h.raw:
            h.raw = None
    return headers


def frame_stream(buffer: bytes) -> tuple[bytes | None, bytes]:
    """Cut one message off a TCP byte stream: (message or None when incomplete, rest).

    Leading CRLFs (RFC 5626 keep-alives) are skipped. Raises :class:`SipParseError` when
    the stream cannot be framed (no or bad Content-Length, oversized headers): the
    connection must then be closed.
    """
    buffer = buffer.lstrip(b"\r\n")
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_BYTES:
            raise SipParseError("header block too large")
        return None, buffer
    head = buffer[:end].decode("utf-8", "replace")
    length: int | None = None
    for line in head.split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and canonical(name) == "content-length":
            if not value.strip().isdecimal():
                raise SipParseError(f"bad Content-Length {value.strip()!r}")
            length = int(value.strip())
    if length is None:
        raise SipParseError("Content-Length is required on stream transports")
    total = end + 4 + length
    if total > MAX_MESSAGE_BYTES:
        raise SipParseError("message too large")
    if len(buffer) < total:
        return None, buffer
    return buffer[:total], buffer[total:]


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    contact: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> SipResponse:
    """A response to ``request`` (RFC 3261 8.2.6): Via/From/To/Call-ID/CSeq copied, To-tag
    added when given and absent, Record-Route copied on dialog-creating responses."""
    headers = Headers()
    for h in request.headers:
        key = canonical(h.name)
        if key in ("via", "from", "call-id", "cseq"):
            headers.items.append(Header(h.name, h.value, h.raw))
        elif key == "to":
            value = h.value
            if to_tag and "tag" not in NameAddr.parse(value).params:
                value = f"{value};tag={to_tag}"
            headers.items.append(Header(h.name, value))
        elif key == "record-route" and 100 < status < 300:
            headers.items.append(Header(h.name, h.value, h.raw))
    if contact:
        headers.add("Contact", contact)
    for name, value in extra or []:
        headers.add(name, value)
    if content_type and body:
        headers.add("Content-Type", content_type)
    headers.add("Content-Length", str(len(body)))
    return SipResponse(headers=headers, body=body, status=status, reason=reason or REASONS.get(status, "Unknown"))
