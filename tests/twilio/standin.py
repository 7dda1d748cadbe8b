"""A fixed-reply stand-in for the call pipeline, driving the stream handler's StreamCall API.

It greets with a real TTS recording in two "sentences" (a mark after each), collects the
caller's audio and digits, and writes a record on every path, like CallSession will.
DTMF ``#``: says goodbye and hangs up once Twilio has echoed the goodbye's mark.
DTMF ``*``: barge-in, sends ``clear``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voicebot.channels.twilio.stream import StreamInfo, TwilioMediaSender

CHUNK = 320  # 20 ms of PCM16 at 8 kHz


@dataclass
class CallRecord:
    call_sid: str
    caller: str
    called: str
    reason: str = ""
    caller_pcm: bytearray = field(default_factory=bytearray)
    audio_pushes: int = 0
    digits: list[str] = field(default_factory=list)
    marks_played: list[str] = field(default_factory=list)
    marks_unplayed: list[str] = field(default_factory=list)
    goodbye_heard_before_hangup: bool | None = None


class StandInBot:
    def __init__(self, info: StreamInfo, sender: TwilioMediaSender, greeting: bytes, goodbye: bytes,
                 records: dict[str, CallRecord]) -> None:
        self.info = info
        self.sender = sender
        self.greeting = greeting
        self.goodbye = goodbye
        self.records = records
        self.rec = CallRecord(info.call_sid, info.caller, info.called)
        self._commands: asyncio.Queue[str] = asyncio.Queue()
        sender.on_mark = self._on_mark

    def _on_mark(self, name: str, played: bool) -> None:
        (self.rec.marks_played if played else self.rec.marks_unplayed).append(name)

    async def _say(self, pcm: bytes, mark: str) -> None:
        for i in range(0, len(pcm), CHUNK):
            await self.sender.send_audio(pcm[i : i + CHUNK], 8000)
        await self.sender.send_mark(mark)

    async def push_audio(self, pcm16: bytes, sample_rate: int) -> None:
        assert sample_rate == 8000
        self.rec.caller_pcm += pcm16
        self.rec.audio_pushes += 1

    async def push_dtmf(self, digit: str) -> None:
        self.rec.digits.append(digit)
        if digit == "*":
            await self.sender.clear()
        elif digit == "#":
            self._commands.put_nowait("goodbye")

    async def far_end_hung_up(self, reason: str) -> None:
        self.rec.reason = reason
        self._commands.put_nowait("end")

    async def run(self) -> None:
        try:
            half = len(self.greeting) // 2 // CHUNK * CHUNK
            await self._say(self.greeting[:half], "greet-1")
            await self._say(self.greeting[half:], "greet-2")
            while True:
                command = await self._commands.get()
                if command == "end":
                    return
                if command == "goodbye":
                    await self._say(self.goodbye, "goodbye")
                    self.rec.goodbye_heard_before_hangup = await self.sender.wait_played(10)
                    self.rec.reason = "bot_hangup"
                    await self.sender.close()
                    return
        finally:
            self.records[self.info.call_sid] = self.rec
