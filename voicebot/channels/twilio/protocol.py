"""Twilio Media Streams messages: parse what Twilio sends, serialize what the bot sends.

Pure functions over typed dataclasses, no I/O. Formats: Twilio's "Media Streams - WebSocket
Messages" (connected, start, media, dtmf, mark, stop from Twilio; media, mark, clear to it).
Twilio sends ``sequenceNumber``, ``chunk`` and ``timestamp`` as decimal strings.

Why not only pipecat's ``TwilioFrameSerializer``: its ``deserialize`` turns media and dtmf into
frames and returns ``None`` for everything else — it ignores ``connected``, ``start``, ``mark``
and ``stop``, swallows malformed JSON with a log line, raises on base64 garbage, and checks no
stream SID or sequence number; its hang-up on ``EndFrame`` needs account credentials and
its own aiohttp call. The stream handler needs every message, typed, with an error it can log
against the call SID. Outbound ``media``/``clear`` are byte-for-byte what the serializer emits
(tests check this); DTMF digits are validated with pipecat's ``KeypadEntry`` like it does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

MULAW_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = MULAW_RATE * FRAME_MS // 1000  # 160 mu-law bytes = 20 ms
# Largest message the decoder reads (settings: twilio.max_message_bytes). Twilio's media
# messages are ~0.4 kB and a start message with custom parameters a few kB; a bigger one is
# refused before JSON or base64 decoding so one peer cannot make the event loop chew megabytes.
MAX_MESSAGE_BYTES = 64 * 1024


class ProtocolError(ValueError):
    """A message that breaks the Media Streams protocol; ``kind`` names the problem."""

    def __init__(self, kind: str, message: str, event: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # too_large | malformed_json | not_an_object | unknown_event | missing_field | bad_value | bad_base64
        self.event = event


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str
    event: str = "connected"


@dataclass(frozen=True)
class MediaFormat:
    encoding: str = "audio/x-mulaw"
    sample_rate: int = MULAW_RATE
    channels: int = 1


@dataclass(frozen=True)
class Start:
    sequence_number: int
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: MediaFormat = field(default_factory=MediaFormat)
    event: str = "start"


@dataclass(frozen=True)
class Media:
    sequence_number: int
    stream_sid: str
    chunk: int
    timestamp_ms: int  # ms since the stream started
    payload: bytes  # raw mu-law bytes, 8 kHz mono
    track: str = "inbound"
    event: str = "media"


@dataclass(frozen=True)
class Dtmf:
    sequence_number: int
    stream_sid: str
    digit: str
    track: str = "inbound_track"
    event: str = "dtmf"


@dataclass(frozen=True)
class Mark:
    sequence_number: int
    stream_sid: str
    name: str
    event: str = "mark"


@dataclass(frozen=True)
class Stop:
    sequence_number: int
    stream_sid: str
    call_sid: str = ""
    account_sid: str = ""
    event: str = "stop"


Message = Connected | Start | Media | Dtmf | Mark | Stop
EVENTS = ("connected", "start", "media", "dtmf", "mark", "stop")


def _get(obj: dict[str, Any], key: str, event: str, where: str = "") -> Any:
    if key not in obj or obj[key] is None:
        raise ProtocolError("missing_field", f"{event} message without {where}{key}", event)
    return obj[key]


def _str(obj: dict[str, Any], key: str, event: str, where: str = "") -> str:
    value = _get(obj, key, event, where)
    if not isinstance(value, str) or not value:
        raise ProtocolError("bad_value", f"{event}: {where}{key} must be a non-empty string, got {value!r}", event)
    return value


def _int(obj: dict[str, Any], key: str, event: str, where: str = "") -> int:
    value = _get(obj, key, event, where)
    try:
        number = int(value)  # Twilio sends decimal strings; accept ints too
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 reads as infinity
        raise ProtocolError("bad_value", f"{event}: {where}{key} must be an integer, got {value!r}", event) from None
    if isinstance(value, bool) or number < 0:
        raise ProtocolError("bad_value", f"{event}: {where}{key} must be a non-negative integer, got {value!r}", event)
    return number


def _obj(obj: dict[str, Any], key: str, event: str) -> dict[str, Any]:
    value = _get(obj, key, event)
    if not isinstance(value, dict):
        raise ProtocolError("bad_value", f"{event}: {key} must be an object", event)
    return value


def parse_message(data: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """One WebSocket text message from Twilio -> a typed message, or :class:`ProtocolError`."""
    if len(data) > max_bytes:  # characters or bytes: either bounds the work below
        raise ProtocolError("too_large", f"message of {len(data)} characters is over the {max_bytes}-byte limit; dropped unread")
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("malformed_json", f"not JSON: {exc}") from None
    except RecursionError:  # "[[[[..." nested past the decoder's depth
        raise ProtocolError("malformed_json", "not JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ProtocolError("not_an_object", f"expected a JSON object, got {type(raw).__name__}")
    event = raw.get("event")
    if event not in EVENTS:
        raise ProtocolError("unknown_event", f"unknown event {event!r}; known: {', '.join(EVENTS)}", str(event))
    if event == "connected":
        return Connected(protocol=str(raw.get("protocol", "")), version=str(raw.get("version", "")))
    seq = _int(raw, "sequenceNumber", event)
    if event == "start":
        body = _obj(raw, "start", event)
        fmt = body.get("mediaFormat") or {}
        params = body.get("customParameters") or {}
        if not isinstance(fmt, dict) or not isinstance(params, dict):
            raise ProtocolError("bad_value", "start: mediaFormat and customParameters must be objects", event)
        media_format = MediaFormat(
            encoding=str(fmt.get("encoding", "audio/x-mulaw")),
            sample_rate=_int(fmt, "sampleRate", event, "start.mediaFormat.") if "sampleRate" in fmt else MULAW_RATE,
            channels=_int(fmt, "channels", event, "start.mediaFormat.") if "channels" in fmt else 1,
        )
        tracks = body.get("tracks") or ["inbound"]
        if not isinstance(tracks, list):
            raise ProtocolError("bad_value", "start: tracks must be a list", event)
        return Start(
            sequence_number=seq,
            stream_sid=_str(body, "streamSid", event, "start.") if "streamSid" in body else _str(raw, "streamSid", event),
            call_sid=_str(body, "callSid", event, "start."),
            account_sid=str(body.get("accountSid", "")),
            tracks=tuple(str(t) for t in tracks),
            custom_parameters={str(k): "" if v is None else str(v) for k, v in params.items()},
            media_format=media_format,
        )
    sid = _str(raw, "streamSid", event)
    if event == "media":
        body = _obj(raw, "media", event)
        payload_b64 = _get(body, "payload", event, "media.")
        if not isinstance(payload_b64, str):
            raise ProtocolError("bad_base64", "media.payload must be a base64 string", event)
        try:
            payload = base64.b64decode(payload_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("bad_base64", f"media.payload is not base64: {exc}", event) from None
        return Media(
            sequence_number=seq,
            stream_sid=sid,
            chunk=_int(body, "chunk", event, "media."),
            timestamp_ms=_int(body, "timestamp", event, "media."),
            payload=payload,
            track=str(body.get("track", "inbound")),
        )
    if event == "dtmf":
        body = _obj(raw, "dtmf", event)
        digit = _str(body, "digit", event, "dtmf.")
        from pipecat.audio.dtmf.types import KeypadEntry  # here: the settings import this module's limit, not pipecat

        try:
            KeypadEntry(digit)
        except ValueError:
            raise ProtocolError("bad_value", f"dtmf: {digit!r} is not a keypad digit (0-9, *, #)", event) from None
        return Dtmf(sequence_number=seq, stream_sid=sid, digit=digit, track=str(body.get("track", "inbound_track")))
    if event == "mark":
        body = _obj(raw, "mark", event)
        return Mark(sequence_number=seq, stream_sid=sid, name=_str(body, "name", event, "mark."))
    body = raw.get("stop") or {}
    if not isinstance(body, dict):
        raise ProtocolError("bad_value", "stop: stop must be an object", event)
    return Stop(
        sequence_number=seq,
        stream_sid=sid,
        call_sid=str(body.get("callSid", "")),
        account_sid=str(body.get("accountSid", "")),
    )


# -- what the bot sends -------------------------------------------------------------------------


def media_message(stream_sid: str, mulaw: bytes) -> str:
    """Outbound audio: raw mu-law 8 kHz bytes (the sender cuts them in 20 ms frames)."""
    payload = base64.b64encode(mulaw).decode("ascii")
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    """Twilio echoes this mark once every media message sent before it has been played."""
    if not name:
        raise ValueError("mark name is empty")
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Drop the bot audio Twilio has buffered; Twilio then echoes every pending mark."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


def split_frames(mulaw: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Cut mu-law audio into 20 ms frames (the last one may be shorter)."""
    return [mulaw[i : i + frame_bytes] for i in range(0, len(mulaw), frame_bytes)]
