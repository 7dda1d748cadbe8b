"""The widget's messages, both ways, and the signalling bodies: pure parse/serialize code.

Browser -> server (data channel, or WebSocket text frames):
  ``{"type": "text", "text": "..."}`` typed instead of spoken; ``{"type": "hangup"}``;
  ``{"type": "ping"}``; WebSocket only: ``{"type": "start", "token": "...", "sample_rate": 16000}``
  first, then binary frames of 16-bit mono PCM at that rate; or ``{"type": "start", "token": "...",
  "mode": "text"}``: a typed session (no microphone, no audio either way, captions only).
Server -> browser:
  ``{"type": "call", "call_id": ...}``, ``{"type": "state", "state": listening|bot_speaking|transferred|ended, ...}``,
  ``{"type": "caption", "who": caller|bot|agent, "text": ..., "turn_id": ..., "final": bool, "name": agent's name}``,
  ``{"type": "state", "state": "agent", "agent_name": ...}`` (a person took the call),
  ``{"type": "state", "state": "no_agent", "instead": voicemail|callback|bot, "next_open": ISO or null}``,
  ``{"type": "error", "code": ..., "message": ...}``, WebSocket only ``{"type": "clear"}`` (drop queued bot audio)
  and binary frames of bot audio (16-bit mono PCM at 16 kHz).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from voicebot.events import CallEvent

MAX_SIGNAL_BYTES = 64_000  # an SDP offer from Chromium is ~3-6 kB
MAX_MESSAGE_BYTES = 4_000
MAX_TEXT_CHARS = 500
WS_RATES = (8000, 16000, 24000, 48000)


class BadMessage(ValueError):
    """A message from the page that is refused; ``code`` goes back to the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Offer:
    token: str
    sdp: str
    type: str
    pc_id: str | None = None
    restart_pc: bool = False


@dataclass(frozen=True)
class Candidate:
    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None


@dataclass(frozen=True)
class CandidatePatch:
    token: str
    pc_id: str
    candidates: tuple[Candidate, ...]


def _json_object(body: bytes | str, limit: int) -> dict[str, Any]:
    if len(body) > limit:
        raise BadMessage("too_large", f"message of {len(body)} bytes is over the {limit}-byte limit")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage("malformed", f"message is not JSON: {exc}") from None
    except RecursionError:  # "[[[[..." nested past the decoder's depth
        raise BadMessage("malformed", "message is not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise BadMessage("malformed", "message must be a JSON object")
    return data


def _str(data: dict[str, Any], name: str, required: bool = True) -> str | None:
    v = data.get(name)
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v):
        raise BadMessage("malformed", f"field {name!r} must be a non-empty string")
    return v


def parse_offer(body: bytes, limit: int = MAX_SIGNAL_BYTES) -> Offer:
    """POST /inapp/offer: ``{token, sdp, type: "offer", pc_id?, restart_pc?}`` (pipecat's SmallWebRTC request + token)."""
    data = _json_object(body, limit)
    sdp, kind = _str(data, "sdp"), _str(data, "type")
    if kind != "offer":
        raise BadMessage("malformed", f"type must be 'offer', got {kind!r}")
    assert sdp is not None
    if not sdp.startswith("v=0") or "m=audio" not in sdp:
        raise BadMessage("malformed", "sdp is not an SDP offer with an audio section")
    return Offer(token=_str(data, "token") or "", sdp=sdp, type=kind, pc_id=_str(data, "pc_id", required=False),
                 restart_pc=bool(data.get("restart_pc", False)))


def parse_patch(body: bytes, limit: int = MAX_SIGNAL_BYTES) -> CandidatePatch:
    """PATCH /inapp/offer: ``{token, pc_id, candidates: [{candidate, sdp_mid, sdp_mline_index}]}`` (trickle ICE)."""
    data = _json_object(body, limit)
    raw = data.get("candidates")
    if not isinstance(raw, list) or len(raw) > 50:
        raise BadMessage("malformed", "candidates must be a list of at most 50 ICE candidates")
    out = []
    for c in raw:
        if not isinstance(c, dict) or not isinstance(c.get("candidate", ""), str):
            raise BadMessage("malformed", "each candidate must be an object with a 'candidate' string")
        idx = c.get("sdp_mline_index", c.get("sdpMLineIndex"))
        if idx is not None and not isinstance(idx, int):
            raise BadMessage("malformed", "sdp_mline_index must be an integer")
        out.append(Candidate(c.get("candidate", ""), c.get("sdp_mid", c.get("sdpMid")), idx))
    return CandidatePatch(token=_str(data, "token") or "", pc_id=_str(data, "pc_id") or "", candidates=tuple(out))


def parse_client_message(raw: bytes | str) -> dict[str, Any]:
    """A data-channel / WebSocket text message from the page, validated."""
    data = _json_object(raw, MAX_MESSAGE_BYTES)
    kind = data.get("type")
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadMessage("malformed", "a text message needs a non-empty 'text'")
        text = " ".join("".join(ch for ch in text if ch.isprintable()).split())
        if len(text) > MAX_TEXT_CHARS:
            raise BadMessage("too_large", f"typed text is limited to {MAX_TEXT_CHARS} characters")
        return {"type": "text", "text": text}
    if kind in ("hangup", "ping"):
        return {"type": kind}
    if kind == "start":
        rate = data.get("sample_rate", 16000)
        if rate not in WS_RATES:
            raise BadMessage("malformed", f"sample_rate must be one of {WS_RATES}")
        mode = data.get("mode", "voice")
        if mode not in ("voice", "text"):
            raise BadMessage("malformed", "mode must be 'voice' or 'text'")
        return {"type": "start", "token": _str(data, "token"), "sample_rate": rate, "mode": mode}
    raise BadMessage("unknown_type", f"unknown message type {kind!r}")


def error_message(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def event_messages(ev: CallEvent) -> list[dict[str, Any]]:
    """What the widget shows for one call event (captions of both sides, the call's state)."""
    d = ev.data
    if ev.kind == "transcript" and d.get("text"):
        return [{"type": "caption", "who": "caller", "text": d["text"], "turn_id": d.get("turn_id"), "final": True,
                 "typed": bool(d.get("typed")), "language": d.get("language")}]
    if ev.kind == "bot_reply" and d.get("text"):
        if d.get("speaker") == "agent":  # an agent's typed line: shown as theirs, by name
            return [{"type": "caption", "who": "agent", "name": d.get("agent_name"), "text": d["text"], "turn_id": d.get("turn_id"),
                     "final": False, "language": d.get("language")}]
        return [{"type": "caption", "who": "bot", "text": d["text"], "turn_id": d.get("turn_id"), "final": False,
                 "language": d.get("language")}]
    if ev.kind == "bot_speech_start":
        return [{"type": "state", "state": "bot_speaking", "turn_id": d.get("turn_id")}]
    if ev.kind == "bot_speech_stop":
        out: list[dict[str, Any]] = [{"type": "state", "state": "listening"}]
        if d.get("interrupted"):  # the caption becomes what the caller actually heard
            out.insert(0, {"type": "caption", "who": "bot", "text": d.get("heard_text", ""), "turn_id": d.get("turn_id"),
                           "final": True, "interrupted": True})
        return out
    if ev.action == "transfer":
        return [{"type": "state", "state": "transferred", "queue": d.get("queue")}]
    if ev.action == "handoff":
        return _handoff_messages(d)
    if ev.kind == "call_end":
        return [{"type": "state", "state": "ended", "reason": d.get("reason"), "outcome": d.get("outcome")}]
    return []


def _handoff_messages(d: dict[str, Any]) -> list[dict[str, Any]]:
    """What the widget shows for a hand-off step (voicebot.handoff.bridge.note)."""
    step = d.get("reason")
    if step == "queued":
        return [{"type": "state", "state": "transferred", "queue": d.get("queue"), "wait_s": d.get("wait_s")}]
    if step == "bridged":
        return [{"type": "state", "state": "agent", "agent_name": d.get("agent_name"), "translated": bool(d.get("translated"))}]
    if step == "no_agent":
        return [{"type": "state", "state": "no_agent", "instead": d.get("instead"), "next_open": d.get("next_open"),
                 "queue": d.get("queue")}]
    if step == "returned":  # nobody answered, or the agent sent the caller back: the bot again
        return [{"type": "state", "state": "listening", "back_to_bot": True}]
    return []
