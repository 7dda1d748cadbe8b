"""One Twilio Media Stream WebSocket: decode, check order, drive one call, always clean up.

The handler owns the socket for the call's life. It turns Twilio's messages into calls on a
:class:`StreamCall` (the pipeline side, see :mod:`.channel`), and gives the call a
:class:`TwilioMediaSender` to talk back (``media`` in 20 ms frames, ``mark``, ``clear``).

Bad input never ends the server or another call: each problem is logged with the call SID
and the message is dropped. The stream ending in any way — ``stop``, the socket closing
without ``stop``, the socket going silent, a status callback saying the call is over — tells
the call ``far_end_hung_up(reason)`` and waits for ``run()`` to return (the call writes its
record there); a call that will not finish is cancelled, so no task outlives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.logs import get_logger

from . import protocol as p
from .twiml import PARAM_CALL_SID, PARAM_CALLED, PARAM_CALLER

log = get_logger(__name__)


@dataclass(frozen=True)
class StreamOptions:
    """Timeouts of one stream; the defaults suit real phone calls."""

    start_timeout_s: float = 10.0  # connected but no `start`: give up on the socket
    idle_timeout_s: float = 15.0  # no message at all (Twilio sends media every 20 ms): call dropped
    end_timeout_s: float = 10.0  # after the stream ends, how long the call may take to finish
    mark_timeout_s: float = 30.0  # longest wait for the last mark before hanging up anyway
    max_message_bytes: int = p.MAX_MESSAGE_BYTES  # bigger messages are dropped unread (settings twilio.max_message_bytes)


@dataclass(frozen=True)
class StreamInfo:
    """What the `start` message tells about the call."""

    stream_sid: str
    call_sid: str
    account_sid: str = ""
    caller: str = ""
    called: str = ""
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: p.MediaFormat = field(default_factory=p.MediaFormat)

    @staticmethod
    def from_start(start: p.Start) -> StreamInfo:
        params = start.custom_parameters
        return StreamInfo(
            stream_sid=start.stream_sid,
            call_sid=start.call_sid or params.get(PARAM_CALL_SID, ""),
            account_sid=start.account_sid,
            caller=params.get(PARAM_CALLER, ""),
            called=params.get(PARAM_CALLED, ""),
            custom_parameters=dict(params),
            media_format=start.media_format,
        )


class StreamCall(Protocol):
    """The call side of a stream (:class:`.channel.TwilioCall`, or a stand-in in tests)."""

    async def push_audio(self, pcm16: bytes, sample_rate: int) -> None: ...
    async def push_dtmf(self, digit: str) -> None: ...
    async def far_end_hung_up(self, reason: str) -> None: ...
    async def run(self) -> None:
        """Runs the call; returns when it has ended and its record is written."""


CallFactory = Callable[[StreamInfo, "TwilioMediaSender"], StreamCall]
SendText = Callable[[str], Awaitable[None]]


class TwilioMediaSender:
    """Sends the bot's side of the stream and tracks which of its audio Twilio has played.

    Marks: Twilio echoes a ``mark`` once all audio sent before it was played. After ``clear``
    it echoes the pending marks at once although their audio was dropped, so those echoes are
    reported as *not* played (``on_mark`` gets ``played=False``).
    """

    def __init__(self, send_text: SendText, info: StreamInfo, close: Callable[[], Awaitable[None]]) -> None:
        self._send_text = send_text
        self._close = close
        self.info = info
        self._pending: list[str] = []  # marks sent, not echoed yet, in order
        self._cleared: set[str] = set()
        self._all_played = asyncio.Event()
        self._all_played.set()
        self._lock = asyncio.Lock()  # one message at a time on the socket, in order
        self.closed = False
        self.closed_by_bot = False  # the bot ended the stream (hang-up): the disconnect is expected
        self.frames_sent = 0
        # (name, played) for every echo; may be a coroutine function (CallOutput.mark_played).
        self.on_mark: Callable[[str, bool], Awaitable[None] | None] | None = None

    @property
    def pending_marks(self) -> tuple[str, ...]:
        return tuple(self._pending)

    async def _send(self, text: str) -> bool:
        if self.closed:
            return False
        async with self._lock:
            try:
                await self._send_text(text)
                return True
            except Exception as exc:  # the socket is gone: the receive side ends the call
                log.info("stream send failed; stream closed", extra={"call_id": self.info.call_sid, "error": repr(exc)})
                self.closed = True
                return False

    async def send_audio(self, pcm16: bytes, sample_rate: int = p.MULAW_RATE) -> None:
        """PCM16 at 8 kHz (what CallOutput produces for this channel) -> 20 ms ``media`` messages."""
        if sample_rate != p.MULAW_RATE:
            raise ValueError(f"Twilio media is {p.MULAW_RATE} Hz; got {sample_rate} Hz (resample first)")
        await self.send_mulaw(ulaw_encode(pcm16))

    async def send_mulaw(self, mulaw: bytes) -> None:
        for frame in p.split_frames(mulaw):
            if await self._send(p.media_message(self.info.stream_sid, frame)):
                self.frames_sent += 1

    async def send_mark(self, name: str) -> None:
        if await self._send(p.mark_message(self.info.stream_sid, name)):
            self._pending.append(name)
            self._all_played.clear()

    async def clear(self) -> None:
        """Barge-in: Twilio drops its buffered bot audio; pending marks will echo unplayed."""
        self._cleared.update(self._pending)
        await self._send(p.clear_message(self.info.stream_sid))

    async def mark_echoed(self, name: str) -> bool:
        """Twilio echoed ``name``; returns whether its audio was really played."""
        if name not in self._pending:
            log.warning("mark echo for a mark never sent", extra={"call_id": self.info.call_sid, "mark": name})
            return False
        # Twilio plays in order: an echo implies every earlier mark is done too.
        idx = self._pending.index(name)
        done, self._pending = self._pending[: idx + 1], self._pending[idx + 1 :]
        played = name not in self._cleared
        for n in done:
            self._cleared.discard(n)
        if not self._pending:
            self._all_played.set()
        if self.on_mark is not None:
            result = self.on_mark(name, played)
            if result is not None:
                await result
        return played

    async def wait_played(self, timeout_s: float) -> bool:
        """Wait until every mark sent has echoed (the caller heard the end); False on timeout."""
        if self.closed:
            return self._all_played.is_set()
        try:
            await asyncio.wait_for(self._all_played.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    def stream_ended(self) -> None:
        """The socket is gone: nothing more will be played or echoed."""
        self.closed = True
        self._all_played.set()

    async def close(self) -> None:
        """Close the stream. With ``<Connect><Stream>`` and nothing after it, Twilio hangs up."""
        if self.closed:
            return
        self.closed = True
        self.closed_by_bot = True
        self._all_played.set()
        with contextlib.suppress(Exception):
            await self._close()


class LiveStreams:
    """Live Twilio media streams by call SID, so a status callback can end the right call."""

    def __init__(self) -> None:
        self._calls: dict[str, TwilioStreamHandler] = {}

    def add(self, call_sid: str, handler: TwilioStreamHandler) -> None:
        self._calls[call_sid] = handler

    def remove(self, call_sid: str, handler: TwilioStreamHandler) -> None:
        if self._calls.get(call_sid) is handler:
            del self._calls[call_sid]

    def get(self, call_sid: str) -> TwilioStreamHandler | None:
        return self._calls.get(call_sid)

    def __len__(self) -> int:
        return len(self._calls)


class Socket(Protocol):
    """The part of Starlette's WebSocket the handler uses."""

    async def receive(self) -> dict[str, Any]: ...
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class TwilioStreamHandler:
    """Handles one accepted Media Stream socket until the call is over."""

    def __init__(self, ws: Socket, factory: CallFactory, live: LiveStreams, options: StreamOptions | None = None) -> None:
        self.ws = ws
        self.factory = factory
        self.live = live
        self.options = options or StreamOptions()
        self.info: StreamInfo | None = None
        self.sender: TwilioMediaSender | None = None
        self.call: StreamCall | None = None
        self.problems: list[str] = []  # kinds of bad input seen, in order (for logs and tests)
        self._problem_counts: dict[str, int] = {}
        self.end_reason: str | None = None
        self._last_seq = -1
        self._ended_by_twilio: asyncio.Event = asyncio.Event()
        self._external_reason: str | None = None
        self._ws_closed = False
        self._run_task: asyncio.Task[None] | None = None

    @property
    def call_sid(self) -> str:
        return self.info.call_sid if self.info else "unknown"

    def _problem(self, kind: str, message: str, **fields: Any) -> None:
        count = self._problem_counts[kind] = self._problem_counts.get(kind, 0) + 1
        if len(self.problems) < 1000:  # bounded: a flood must not grow memory
            self.problems.append(kind)
        # A peer that floods garbage must not flood the log: the first few of each kind, then 1 in 100.
        if count <= 10 or count % 100 == 0:
            log.warning(
                f"twilio stream: {message}", extra={"call_id": self.call_sid, "problem": kind, "count": count, **fields}
            )

    def end_from_status(self, reason: str) -> None:
        """A status callback says Twilio ended the call (caller hung up, failure)."""
        self._external_reason = reason
        self._ended_by_twilio.set()

    async def _close_ws(self) -> None:
        if not self._ws_closed:
            self._ws_closed = True
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _reader(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        try:
            while True:
                message = await self.ws.receive()
                await queue.put(message)
                if message.get("type") == "websocket.disconnect":
                    return
        except Exception as exc:  # a broken socket reads as a disconnect
            await queue.put({"type": "websocket.disconnect", "error": repr(exc)})

    async def run(self) -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        reader = asyncio.create_task(self._reader(queue), name="twilio-stream-reader")
        external = asyncio.create_task(self._ended_by_twilio.wait())
        try:
            await self._loop(queue, external)
        except _EndStream as end:
            self.end_reason = str(end.args[0])
        except Exception:
            log.exception("twilio stream handler failed", extra={"call_id": self.call_sid})
            self.end_reason = self.end_reason or "handler_error"
        finally:
            reader.cancel()
            external.cancel()
            if self.sender is not None:
                self.sender.stream_ended()
            await self._finish_call(self._run_task)
            await self._close_ws()
            if self.info is not None:
                self.live.remove(self.info.call_sid, self)
            log.info(
                "twilio stream ended",
                extra={"call_id": self.call_sid, "reason": self.end_reason, "problems": len(self.problems)},
            )

    async def _loop(self, queue: asyncio.Queue[dict[str, Any]], external: asyncio.Task[Any]) -> None:
        while True:
            run_task = self._run_task
            timeout = self.options.idle_timeout_s if self.info else self.options.start_timeout_s
            get = asyncio.create_task(queue.get())
            waits: set[asyncio.Future[Any]] = {get, external}
            if run_task is not None:
                waits.add(run_task)
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
            if external in done:
                self.end_reason = self._external_reason or "twilio_status"
                return
            if run_task is not None and run_task in done:
                self.end_reason = "call_ended"  # the bot hung up or transferred
                return
            if not done:
                what = "no message since start" if self.info else "no start message"
                self._problem("silent", f"{what} for {timeout:.0f} s; treating the call as dropped")
                self.end_reason = "stream_silent"
                return
            message = get.result()
            if message.get("type") == "websocket.disconnect":
                self._ws_closed = True
                if self.sender is not None and self.sender.closed_by_bot:
                    self.end_reason = "bot_closed_stream"
                    return
                if self.info is not None:
                    self._problem("closed_without_stop", "socket closed without a stop message", code=message.get("code"))
                self.end_reason = "stream_closed"
                return
            text = message.get("text")
            if text is None:
                self._problem("binary", "binary WebSocket message; Twilio sends JSON text")
                continue
            try:
                msg = p.parse_message(text, self.options.max_message_bytes)
            except p.ProtocolError as exc:
                self._problem(exc.kind, str(exc), message_head=text[:80])
                continue
            if isinstance(msg, p.Stop):
                if self._check(msg):
                    self.end_reason = "twilio_stop"
                    return
                continue
            await self._handle(msg)

    def _check(self, msg: p.Message) -> bool:
        """Order checks for a message after `start`: False = drop it."""
        if isinstance(msg, p.Connected):
            return True
        if self.info is None:
            self._problem("before_start", f"{msg.event} before start; dropped")
            return False
        if msg.stream_sid != self.info.stream_sid:
            self._problem("wrong_stream_sid", f"{msg.event} for stream {msg.stream_sid!r}, not {self.info.stream_sid!r}; dropped")
            return False
        seq = msg.sequence_number
        if seq <= self._last_seq:
            self._problem("out_of_order", f"{msg.event} sequenceNumber {seq} after {self._last_seq}; dropped")
            return False
        if seq != self._last_seq + 1:
            self._problem("sequence_gap", f"sequenceNumber jumped from {self._last_seq} to {seq}; messages lost")
        self._last_seq = seq
        return True

    async def _handle(self, msg: p.Message) -> None:
        if isinstance(msg, p.Connected):
            return
        if isinstance(msg, p.Start):
            await self._start(msg)
            return
        if not self._check(msg):
            return
        assert self.call is not None and self.sender is not None
        try:
            if isinstance(msg, p.Media):
                if msg.track not in ("inbound", "inbound_track"):
                    return
                if msg.payload:
                    await self.call.push_audio(ulaw_decode(msg.payload), p.MULAW_RATE)
            elif isinstance(msg, p.Dtmf):
                log.info("dtmf", extra={"call_id": self.call_sid, "digit": msg.digit})
                await self.call.push_dtmf(msg.digit)
            elif isinstance(msg, p.Mark):
                await self.sender.mark_echoed(msg.name)
        except Exception as exc:
            self._problem("call_error", f"the call failed to take a {msg.event}: {exc!r}")

    async def _start(self, start: p.Start) -> None:
        if self.info is not None:
            self._problem("duplicate_start", f"second start (stream {start.stream_sid}); ignored")
            return
        fmt = start.media_format
        info = StreamInfo.from_start(start)
        self.info = info
        self._last_seq = start.sequence_number
        bad_format = (fmt.encoding, fmt.sample_rate, fmt.channels) != ("audio/x-mulaw", p.MULAW_RATE, 1)
        if bad_format:
            self._problem("media_format", f"unsupported media format {fmt}; only audio/x-mulaw 8000 Hz mono")
        self.sender = TwilioMediaSender(self.ws.send_text, info, self._close_ws)
        try:
            self.call = self.factory(info, self.sender)
        except Exception:
            log.exception("could not create the call for a Twilio stream", extra={"call_id": info.call_sid})
            raise _EndStream("call_setup_failed") from None
        self.live.add(info.call_sid, self)
        log.info(
            "twilio stream started",
            extra={"call_id": info.call_sid, "stream_sid": info.stream_sid, "caller": info.caller, "called": info.called},
        )
        self._run_task = asyncio.create_task(self.call.run(), name=f"twilio-call-{info.call_sid}")
        if bad_format:  # the call is created and ended at once: a caller who heard nothing still leaves a record
            raise _EndStream("bad_media_format")

    async def _finish_call(self, run_task: asyncio.Task[None] | None) -> None:
        if run_task is None or self.call is None:
            return
        if not run_task.done():
            if self.end_reason not in ("call_ended", "bot_closed_stream"):  # else the call is ending itself
                try:
                    await self.call.far_end_hung_up(self.end_reason or "stream_ended")
                except Exception:
                    log.exception("far_end_hung_up failed", extra={"call_id": self.call_sid})
            done, _ = await asyncio.wait({run_task}, timeout=self.options.end_timeout_s)
            if not done:
                log.error(
                    "call did not finish after the stream ended; cancelling it",
                    extra={"call_id": self.call_sid, "timeout_s": self.options.end_timeout_s},
                )
                run_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await run_task
                return
        if not run_task.cancelled() and run_task.exception() is not None:
            log.error("call ended with an error", extra={"call_id": self.call_sid}, exc_info=run_task.exception())


class _EndStream(Exception):
    """End this stream now (reason in args[0]); caught by :meth:`TwilioStreamHandler.run`."""
