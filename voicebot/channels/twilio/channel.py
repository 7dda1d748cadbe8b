"""The Twilio call transport: one CallSession per Media Stream, on the shared pipeline.

:class:`TwilioOutput` is the channel's :class:`~voicebot.channels.base.CallOutput`: 20 ms
chunks of 8 kHz PCM go out as mu-law ``media`` messages, each sentence ends with a ``mark``
(audio counts as heard only when Twilio echoes it), barge-in sends ``clear``, hang-up closes
the stream once the goodbye's last mark is back, transfer redirects the live call through
the REST API with ``<Dial>`` or ``<Enqueue>``, or goes to the call's hand-off when the
composition root gave the runtime one (``runtime.attach_handoff``: agent desk, queues, relay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from voicebot.channels.base import AttachHandoff, CallInput, CallOutput, CallTransport
from voicebot.core import CallContext, Transfer
from voicebot.logs import get_logger
from voicebot.pipeline.state import CallState

from . import twiml
from .protocol import MULAW_RATE
from .rest import RestOptions, TwilioCallControl, TwilioRestError
from .stream import CallFactory, StreamInfo, TwilioMediaSender

log = get_logger(__name__)

EARLY_AUDIO_CHUNKS = 150  # caller audio kept while the pipeline starts (3 s of 20 ms chunks)


class TwilioOutput(CallOutput):
    uses_marks = True

    def __init__(self, state: CallState, sender: TwilioMediaSender, *, control: TwilioCallControl | None,
                 public_host: str | None, mark_timeout_s: float = 30.0) -> None:
        super().__init__(state, MULAW_RATE, pacing="realtime")
        self.sender = sender
        self.control = control
        self.public_host = public_host
        self.mark_timeout_s = mark_timeout_s

    async def send_audio(self, chunk: bytes) -> None:
        await self.sender.send_audio(chunk, MULAW_RATE)

    async def clear(self) -> None:
        await self.sender.clear()

    async def send_mark(self, name: str) -> None:
        await self.sender.send_mark(name)

    async def hang_up(self) -> None:
        # The base calls this when the goodbye's last mark has echoed; waiting again covers
        # any mark still outstanding. Closing a <Connect><Stream> with no TwiML after it makes
        # Twilio hang up, so no REST call (nor credentials) is needed.
        if not await self.sender.wait_played(self.mark_timeout_s):
            log.warning("hanging up before Twilio confirmed the last words",
                        extra={"call_id": self.state.ctx.call_id, "pending_marks": list(self.sender.pending_marks)})
        await self.sender.close()

    async def transfer(self, action: Transfer) -> None:
        if self.handoff is not None:
            await self.sender.wait_played(self.mark_timeout_s)  # the dialogue's last sentence is heard first
            await self.handoff.transfer(action)
            return
        call_sid = self.sender.info.call_sid
        if self.control is None:
            raise TwilioRestError("transfer over Twilio needs twilio.account_sid and twilio.auth_token")
        if action.target:
            doc = twiml.dial(action.target, caller_id=self.state.ctx.called_number)
        else:
            if not self.public_host:
                raise TwilioRestError("transfer to a queue needs server.public_host for the hold-music wait URL")
            doc = twiml.enqueue(action.queue, twiml.hold_url(self.public_host, self.state.language or "en"))
        await self.sender.wait_played(self.mark_timeout_s)  # the last sentence is heard first
        self.state.end_reason = self.state.end_reason or "transferred"
        log.info("twilio transfer", extra={"call_id": call_sid, "queue": action.queue, "target": action.target})
        await self.control.redirect(call_sid, doc)  # Twilio then ends the stream: the call ends


class TwilioCall:
    """One call on one stream: the :class:`~.stream.StreamCall` the handler drives."""

    def __init__(self, runtime: Any, info: StreamInfo, sender: TwilioMediaSender, control: TwilioCallControl | None, *,
                 session_factory: Callable[..., Any] | None = None, public_host: str | None = None,
                 handoff: AttachHandoff | None = None) -> None:
        """``session_factory(runtime, ctx, make_transport)`` builds the call's session: a
        :class:`~voicebot.call.CallSession` by default (the bench passes its own variants).
        ``public_host`` overrides ``server.public_host`` (the bench's stand-in Twilio host).
        ``handoff`` gives the call its hand-off (transfers to the agent desk), none by default."""
        from voicebot.call import CallSession  # the pipeline: imported only when a call runs

        self.info = info
        self.sender = sender
        self._control = control
        self._attach_handoff = handoff
        self._public_host = public_host or runtime.settings.server.public_host
        ctx = CallContext(
            call_id=info.call_sid, channel="twilio", caller_number=info.caller or None, called_number=info.called or None,
            extra={"stream_sid": info.stream_sid, "account_sid": info.account_sid, **outbound_extra(info)},
        )
        self.session = (session_factory or CallSession)(runtime, ctx, self._make_transport)
        self.state = self.session.prepare()
        self.result: Any = None  # the session's CallResult once the call has ended
        self._early: list[tuple[str, Any]] = []
        self._done = asyncio.Event()
        # Played marks go to the output through a queue, in order, off the stream's receive
        # loop: a mark can end a reply whose action (hang-up, transfer) waits for further
        # echoes, which that loop must stay free to read.
        self._played_marks: asyncio.Queue[str] = asyncio.Queue()

    def _make_transport(self, state: CallState) -> CallTransport:
        self.input = CallInput(state)
        self.output = TwilioOutput(state, self.sender, control=self._control, public_host=self._public_host)
        if self._attach_handoff is not None:
            self.output.handoff = self._attach_handoff(self)
        self.sender.on_mark = self._on_mark
        return CallTransport(self.input, self.output)

    def _on_mark(self, name: str, played: bool) -> None:
        if played:
            self._played_marks.put_nowait(name)

    async def _deliver_marks(self) -> None:
        while True:
            name = await self._played_marks.get()
            try:
                await self.output.mark_played(name)
            except Exception:
                log.exception("mark handling failed", extra={"call_id": self.info.call_sid, "mark": name})

    async def _flush_early(self) -> None:
        early, self._early = self._early, []
        for kind, value in early:
            if kind == "audio":
                await self.input.push_audio(value, MULAW_RATE)
            else:
                await self.input.push_dtmf(value)

    async def push_audio(self, pcm16: bytes, sample_rate: int) -> None:
        if not self.session.started.is_set():  # frames before StartFrame would be dropped
            if len(self._early) < EARLY_AUDIO_CHUNKS:
                self._early.append(("audio", pcm16))
            return
        if self._early:
            await self._flush_early()
        await self.input.push_audio(pcm16, sample_rate)

    async def push_dtmf(self, digit: str) -> None:
        if not self.session.started.is_set():
            self._early.append(("dtmf", digit))
            return
        if self._early:
            await self._flush_early()
        await self.input.push_dtmf(digit)

    async def far_end_hung_up(self, reason: str) -> None:
        if self._done.is_set():
            return
        if not self.session.started.is_set():
            started = asyncio.create_task(self.session.started.wait())
            done = asyncio.create_task(self._done.wait())
            await asyncio.wait({started, done}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            done.cancel()
        if self.session.started.is_set() and not self._done.is_set():
            await self.input.far_end_hung_up(reason)
        else:
            await self.session.end(reason)

    async def wait_ended(self) -> None:
        """Until :meth:`run` has returned (the call ended and its record is written)."""
        await self._done.wait()

    async def run(self) -> None:
        marks = asyncio.create_task(self._deliver_marks(), name=f"twilio-marks-{self.info.call_sid}")
        try:
            self.result = await self.session.run()
        finally:
            self._done.set()
            marks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await marks
            await self.output.call_ended()  # out of the hand-off's queue, unless the call left the stream for an agent


PARAM_OUTBOUND = "outbound"  # a call the bot placed: its plan, JSON (voicebot.outbound.twilio_routes)


def outbound_extra(info: StreamInfo) -> dict[str, Any]:
    """``{"outbound": plan}`` when the stream belongs to a call the bot placed, else nothing."""
    raw = info.custom_parameters.get(PARAM_OUTBOUND)
    if not raw:
        return {}
    try:
        plan = json.loads(raw)
    except ValueError:
        log.warning("unreadable outbound parameter on a stream", extra={"call_id": info.call_sid})
        return {}
    return {"outbound": plan} if isinstance(plan, dict) else {}


def call_factory(runtime: Any) -> CallFactory:
    """The default factory of :func:`.routes.make_router`: a CallSession per stream, with the
    runtime's hand-off (``runtime.attach_handoff``) when it has one. With an outbound service
    on the runtime, streams of calls the bot placed get its call agent too."""
    factory = plain_call_factory(runtime, getattr(runtime, "attach_handoff", None))
    outbound = getattr(runtime, "outbound", None)
    return outbound.wrap_twilio_factory(factory) if outbound is not None else factory


def plain_call_factory(runtime: Any, handoff: AttachHandoff | None = None, transcriber: Any = None) -> CallFactory:
    """A TwilioCall per stream, with ``handoff`` for its transfers (none: the channel's own
    ``<Dial>``/``<Enqueue>``); ``transcriber`` replaces the ASR (tests: an oracle)."""
    tw = runtime.settings.twilio
    control: TwilioCallControl | None = None
    if tw.account_sid and tw.auth_token:
        control = TwilioCallControl(RestOptions(tw.account_sid, tw.auth_token, tw.api_base_url))
    elif handoff is None:  # with a hand-off, agents still reach the caller through the bot (relay)
        log.warning("twilio.account_sid/auth_token not set: calls work, but transfers to agents are disabled")

    def make(info: StreamInfo, sender: TwilioMediaSender) -> TwilioCall:
        call = TwilioCall(runtime, info, sender, control, handoff=handoff)
        if transcriber is not None:  # CallSession has no public setter after init
            call.session._transcriber = transcriber
        return call

    return make
