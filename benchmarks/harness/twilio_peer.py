"""Twilio's side of a bidirectional Media Stream, over a real WebSocket (tests and the bench).

Written from Twilio's published message formats ("Media Streams - WebSocket Messages"), not
from voicebot's protocol module, so the two check each other. By default it echoes each
``mark`` at once (a player that keeps up) or, with ``hold_marks``, when told to. With
``player=True`` it behaves like Twilio's player on a live call: received media plays in order,
20 ms a frame, from when it arrives; a ``mark`` is echoed once the audio before it has played
(:meth:`advance` is called as time goes by); ``clear`` cuts the frame playing, drops the rest
and echoes pending marks at once. :attr:`played` then is what the caller heard, and when.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

import websockets
from twilio.request_validator import RequestValidator

FRAME_BYTES = 160  # 20 ms of mu-law at 8 kHz


def sign(auth_token: str, url: str, params: dict[str, str] | None = None) -> str:
    """The X-Twilio-Signature Twilio would send for ``url`` (+ POST params), via the twilio library."""
    return RequestValidator(auth_token).compute_signature(url, params or {})


@dataclass
class PlayedFrame:
    """One 20 ms frame of bot audio at Twilio's player: [start, end) in loop time."""

    start: float
    end: float
    mulaw: bytes


@dataclass
class Received:
    media: list[bytes] = field(default_factory=list)  # mu-law payloads, in order
    media_times: list[float] = field(default_factory=list)  # loop time each media arrived
    marks: list[str] = field(default_factory=list)  # mark names received
    clears: int = 0
    clear_times: list[float] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)


class TwilioStreamClient:
    """One stream. ``hold_marks=True`` delays mark echoes until :meth:`play_out` (a slow player)."""

    def __init__(self, url: str, *, stream_sid: str = "MZ0001", call_sid: str = "CA0001",
                 account_sid: str = "AC0001", hold_marks: bool = False, player: bool = False) -> None:
        self.url = url
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.hold_marks = hold_marks
        self.player = player
        self.played: list[PlayedFrame] = []  # player mode: what was (or is being) played, in order
        self.play_end = 0.0  # player mode: loop time the last queued frame finishes playing
        self._due_marks: list[tuple[float, str]] = []  # player mode: (echo time, name), in order
        self.seq = 0
        self.chunk = 0
        self.received = Received()
        self._held_marks: list[str] = []
        self._changed = asyncio.Condition()
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    async def connect(self, headers: dict[str, str] | None = None) -> None:
        self.ws = await websockets.connect(self.url, additional_headers=headers or {}, open_timeout=5)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                msg = json.loads(text)
                self.received.raw.append(msg)
                event = msg.get("event")
                if event == "media":
                    assert msg["streamSid"] == self.stream_sid
                    payload = base64.b64decode(msg["media"]["payload"], validate=True)
                    now = asyncio.get_running_loop().time()
                    self.received.media.append(payload)
                    self.received.media_times.append(now)
                    if self.player:
                        start = max(now, self.play_end)
                        self.play_end = start + FRAME_BYTES / 8000
                        self.played.append(PlayedFrame(start, self.play_end, payload))
                elif event == "mark":
                    name = msg["mark"]["name"]
                    self.received.marks.append(name)
                    if self.player:
                        now = asyncio.get_running_loop().time()
                        if self.play_end > now or self._due_marks:
                            self._due_marks.append((max(self.play_end, now), name))
                        else:
                            await self._echo_mark(name)
                    elif self.hold_marks:
                        self._held_marks.append(name)
                    else:
                        await self._echo_mark(name)
                elif event == "clear":
                    self.received.clears += 1
                    now = asyncio.get_running_loop().time()
                    self.received.clear_times.append(now)
                    if self.player:
                        self._cut(now)
                    held, self._held_marks = self._held_marks + [n for _, n in self._due_marks], []
                    self._due_marks = []
                    for name in held:  # Twilio echoes pending marks after a clear
                        await self._echo_mark(name)
                else:
                    self.received.other.append(msg)
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), timeout)

    def _cut(self, now: float) -> None:
        """``clear``: the frame playing stops now, the queued ones are never played."""
        while self.played and self.played[-1].start >= now:
            self.played.pop()
        if self.played and self.played[-1].end > now:
            self.played[-1].end = now
        self.play_end = min(self.play_end, now)

    async def advance(self, now: float) -> None:
        """Player mode: echo every mark whose audio has finished playing by ``now``."""
        while self._due_marks and self._due_marks[0][0] <= now:
            _, name = self._due_marks.pop(0)
            await self._echo_mark(name)

    async def play_out(self) -> None:
        """The slow player caught up: echo every held mark."""
        held, self._held_marks = self._held_marks, []
        for name in held:
            await self._echo_mark(name)

    def _next_seq(self) -> str:
        self.seq += 1
        return str(self.seq)

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(msg))

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def send_connected(self) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    async def send_start(self, custom_parameters: dict[str, str] | None = None) -> None:
        await self.send({
            "event": "start",
            "sequenceNumber": self._next_seq(),
            "start": {
                "accountSid": self.account_sid,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": custom_parameters or {},
            },
            "streamSid": self.stream_sid,
        })

    def media_msg(self, mulaw: bytes, stream_sid: str | None = None) -> dict[str, Any]:
        self.chunk += 1
        return {
            "event": "media",
            "sequenceNumber": self._next_seq(),
            "media": {"track": "inbound", "chunk": str(self.chunk), "timestamp": str((self.chunk - 1) * 20),
                      "payload": base64.b64encode(mulaw).decode()},
            "streamSid": stream_sid or self.stream_sid,
        }

    async def send_media(self, mulaw: bytes) -> None:
        await self.send(self.media_msg(mulaw))

    async def send_audio(self, mulaw: bytes, realtime: bool = False) -> int:
        """Send audio in 20 ms media messages, as Twilio does; returns the number of frames.

        ``realtime``: one frame every 20 ms against absolute deadlines, like a live call.
        """
        frames = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, frame in enumerate(frames):
            if realtime:
                await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
            await self.send_media(frame)
        return len(frames)

    async def send_dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_seq(),
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def _echo_mark(self, name: str) -> None:
        await self.send({"event": "mark", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                         "mark": {"name": name}})

    async def send_stop(self) -> None:
        await self.send({"event": "stop", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                         "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
