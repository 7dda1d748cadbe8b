"""A pipeline-free call handler: plays a fixed prompt and records what the caller sent.

For peer tests, the load benchmark and checking a PBX trunk before the bot's models are set
up (``python -m voicebot.channels.sip.standalone``). The real bot runs
:mod:`voicebot.channels.sip.channel` instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voicebot.logs import get_logger

from .rtp_session import FRAME_BYTES
from .sip_call import SipCall

log = get_logger(__name__)


@dataclass
class GreetingRecord:
    call_id: str
    caller: str | None
    received: bytearray = field(default_factory=bytearray)  # caller audio, PCM16 8 kHz
    received_frames: int = 0
    sent_frames: int = 0
    late_frames: int = 0  # frames sent more than 10 ms after their deadline
    dtmf: list[str] = field(default_factory=list)
    refer_result: bool | None = None
    end_reason: str = ""


@dataclass(frozen=True)
class GreetingOptions:
    hangup_after_s: float | None = None  # bot hangs up this long after answering; None = wait for the caller
    refer_to: str | None = None  # after the prompt, blind-transfer here (then hang up)
    keep_audio: bool = True  # keep received audio in the record (off for load tests)
    max_call_s: float = 600.0


class GreetingHandler:
    def __init__(self, prompt_pcm8k: bytes, options: GreetingOptions = GreetingOptions()) -> None:
        usable = len(prompt_pcm8k) // FRAME_BYTES * FRAME_BYTES
        self.frames = [prompt_pcm8k[i : i + FRAME_BYTES] for i in range(0, usable, FRAME_BYTES)]
        self.options = options
        self.records: dict[str, GreetingRecord] = {}
        self.active = 0

    async def __call__(self, call: SipCall) -> None:
        rec = GreetingRecord(call.call_id, call.caller_number or call.caller_uri)
        self.records[call.call_id] = rec
        call.on_dtmf = rec.dtmf.append
        self.active += 1
        reader = asyncio.ensure_future(self._read(call, rec))
        try:
            await self._play(call, rec)
            if self.options.refer_to:
                rec.refer_result = await call.refer(self.options.refer_to)
                await call.hangup("transferred" if rec.refer_result else "transfer_failed")
            elif self.options.hangup_after_s is not None:
                remaining = self.options.hangup_after_s - len(self.frames) * 0.02
                if remaining > 0:
                    await asyncio.wait([call.ended], timeout=remaining)
                await call.hangup()
            else:
                await asyncio.wait([call.ended], timeout=self.options.max_call_s)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            self.active -= 1
            if not call.is_up:
                rec.end_reason = call.ended.result()

    async def _read(self, call: SipCall, rec: GreetingRecord) -> None:
        async for frame in call.frames():
            rec.received_frames += 1
            if self.options.keep_audio:
                rec.received += frame

    async def _play(self, call: SipCall, rec: GreetingRecord) -> None:
        """One frame every 20 ms against absolute deadlines (no drift, no bursts)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        for frame in self.frames:
            if not call.is_up:
                return
            now = loop.time()
            if now < deadline:
                await asyncio.sleep(deadline - now)
            elif now - deadline > 0.01:
                rec.late_frames += 1
            call.send_frame(frame)
            rec.sent_frames += 1
            deadline += 0.02
