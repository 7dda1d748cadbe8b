"""The SIP channel on the shared call pipeline: one :class:`~voicebot.call.CallSession` per SIP call.

:class:`SipOutput` is the channel's :class:`~voicebot.channels.base.CallOutput`: each paced
20 ms chunk (PCM16 8 kHz) goes out as one RTP packet; barge-in stops RTP at once (nothing is
buffered below the output); hang-up sends BYE; transfer sends REFER and follows its NOTIFYs,
or goes to the call's hand-off (``runtime.attach_handoff``) when the dialogue named no target.
:class:`SipChannel` owns the user agent of a ``voicebot serve`` process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from voicebot.channels.base import AttachHandoff, CallInput, CallOutput, CallTransport
from voicebot.core import CallContext, Transfer
from voicebot.logs import get_logger
from voicebot.pipeline.state import CallState

from .rtp_session import SAMPLE_RATE
from .sip_call import SipCall
from .ua import SipOptions, SipUserAgent

log = get_logger(__name__)

SILENCE_20MS = bytes(320)

# SIP end reasons -> the pipeline's (CallSession counts caller_hung_up as "abandoned")
END_REASONS = {"far_end_bye": "caller_hung_up", "rtp_timeout": "rtp_timeout", "shutdown": "server_shutdown"}


@dataclass(frozen=True)
class SipChannelOptions:
    """Where transfers go: ``Transfer.target`` when the dialogue names one, else by queue."""

    transfer_targets: dict[str, str] = field(default_factory=dict)  # queue -> SIP URI, e.g. {"es": "sip:es-agents@pbx"}
    default_transfer_target: str | None = None  # any other queue
    early_audio_frames: int = 150  # caller audio kept while the pipeline starts (3 s)
    refer_timeout_s: float = 30.0
    # Send silence while the bot is quiet: PBXs end calls with no RTP (Asterisk rtptimeout) and
    # NAT bindings expire. Off = RTP stops between the bot's words.
    silence_when_idle: bool = True

    @classmethod
    def from_settings(cls, sip: Any) -> SipChannelOptions:
        """From the typed ``voicebot.config.SipSettings``."""
        return cls(transfer_targets=dict(sip.transfer_targets), default_transfer_target=sip.default_transfer_target)

    def target_for(self, action: Transfer) -> str | None:
        return action.target or self.transfer_targets.get(action.queue) or self.default_transfer_target


class SipOutput(CallOutput):
    def __init__(self, state: CallState, call: SipCall, options: SipChannelOptions) -> None:
        super().__init__(state, SAMPLE_RATE, pacing="realtime")
        self.call = call
        self.options = options
        # Who owns the caller's RTP: the pipeline ("bot"); a hold sound, 20 ms frames from
        # ``hold_frame`` ("hold": e.g. while a hand-off dials and briefs an agent); or a relayed
        # leg ("bridged": the pipeline sends nothing).
        self.media: Literal["bot", "hold", "bridged"] = "bot"
        self.hold_frame: Callable[[], bytes] = lambda: SILENCE_20MS

    async def send_audio(self, chunk: bytes) -> None:
        if self.media == "bot":
            self.call.send_frame(chunk)
        elif self.media == "hold":
            self.call.send_frame(self.hold_frame())

    async def send_idle(self) -> None:
        if self.media == "hold":
            self.call.send_frame(self.hold_frame())
        elif self.media == "bot" and self.options.silence_when_idle:
            self.call.send_frame(SILENCE_20MS)

    async def clear(self) -> None:
        self.call.clear_audio()

    async def hang_up(self) -> None:
        await self.call.hangup("bot_hangup")

    async def transfer(self, action: Transfer) -> None:
        if self.handoff is not None and not action.target:  # a named target: the channel's own blind transfer
            await self.handoff.transfer(action)
            return
        target = self.options.target_for(action)
        if target is None:
            raise RuntimeError(f"no SIP transfer target for queue {action.queue!r}: set sip.transfer_targets or sip.default_transfer_target")
        ok = await self.call.refer(target, self.options.refer_timeout_s)
        self.state.emit("transfer_result", channel="sip", target=target, ok=ok)
        if ok:
            self.state.end_reason = self.state.end_reason or "transferred"
            await self.call.hangup("transferred")  # the transferee has the agent now
        else:
            log.warning("sip transfer failed; the caller stays with the bot", extra={"call_id": self.call.call_id, "target": target})


class SipCallBridge:
    """One SIP call driving one CallSession: audio and digits in, end of call both ways."""

    def __init__(self, runtime: Any, call: SipCall, options: SipChannelOptions, *, session_factory: Any = None,
                 handoff: AttachHandoff | None = None) -> None:
        """``session_factory(runtime, ctx, make_transport)`` builds the call's session (default
        :class:`~voicebot.call.CallSession`; the bench passes its variants). ``handoff`` gives
        the call its hand-off (transfers to the agent desk), none by default."""
        from voicebot.call import (
            CallSession,  # the pipeline: imported only when a call runs
        )

        self.call = call
        self.options = options
        self._attach_handoff = handoff
        # The far end is "the caller" to the pipeline: on a call the bot placed, the callee.
        far, near = (call.callee_number, call.caller_number) if call.direction == "outbound" else (call.caller_number, call.callee_number)
        ctx = CallContext(
            call_id=call.call_id, channel="sip", caller_number=far, called_number=near,
            extra={"caller_uri": call.caller_uri, "callee_uri": call.callee_uri, **call.context_extra},
        )
        self.session = (session_factory or CallSession)(runtime, ctx, self._make_transport)
        self.state = self.session.prepare()
        self.result: Any = None  # the session's CallResult once the call has ended
        self.done = asyncio.Event()  # run() has returned
        self._early: list[tuple[str, Any]] = []
        self._dtmf_tasks: set[asyncio.Task] = set()
        call.on_dtmf = self._on_dtmf

    def _make_transport(self, state: CallState) -> CallTransport:
        self.input = CallInput(state)
        self.output = SipOutput(state, self.call, self.options)
        if self._attach_handoff is not None:
            self.output.handoff = self._attach_handoff(self)
        return CallTransport(self.input, self.output)

    def _on_dtmf(self, digit: str) -> None:
        task = asyncio.get_running_loop().create_task(self._push("dtmf", digit))
        self._dtmf_tasks.add(task)
        task.add_done_callback(self._dtmf_tasks.discard)

    async def _push(self, kind: str, value: Any) -> None:
        if not self.session.started.is_set():  # frames before StartFrame would be dropped
            if kind == "dtmf" or len(self._early) < self.options.early_audio_frames:
                self._early.append((kind, value))
            return
        early, self._early = self._early, []
        for k, v in [*early, (kind, value)]:
            if k == "audio":
                await self.input.push_audio(v, SAMPLE_RATE)
            else:
                await self.input.push_dtmf(v)

    async def _pump(self) -> None:
        async for frame in self.call.frames():
            await self._push("audio", frame)
        reason = END_REASONS.get(self.call.ended.result(), self.call.ended.result()) if self.call.ended.done() else "far_end_gone"
        if self.state.ended:
            return  # end_reason, when already set (bot hung up, transferred), is kept by far_end_hung_up
        if self.session.started.is_set():
            await self.input.far_end_hung_up(reason)
        else:
            await self.session.end(reason)

    async def run(self) -> None:
        pump = asyncio.get_running_loop().create_task(self._pump(), name=f"sip-pump-{self.call.call_id}")
        try:
            self.result = await self.session.run()
        finally:
            pump.cancel()
            await asyncio.gather(pump, *self._dtmf_tasks, return_exceptions=True)
            if self.call.is_up:
                await self.call.hangup("pipeline_ended")
            self.done.set()
            await self.output.call_ended()  # out of the hand-off's queue; a REFERred call stays the agent's


class SipChannel:
    """The SIP side of a bot process: ``await start()`` / ``await stop()``."""

    def __init__(self, runtime: Any, options: SipOptions | None = None, channel_options: SipChannelOptions | None = None) -> None:
        self.runtime = runtime
        sip = runtime.settings.sip
        self.options = options or SipOptions.from_settings(sip)
        self.channel_options = channel_options or SipChannelOptions.from_settings(sip)
        self.ua = SipUserAgent(self.options, self._on_call)
        self.calls: dict[str, SipCallBridge] = {}

    async def start(self) -> None:
        await self.ua.start()

    async def stop(self) -> None:
        await self.ua.stop()

    def make_bridge(self, call: SipCall) -> SipCallBridge:
        # With the runtime's hand-off, transfers go to the agent desk (routing, REFER or relay).
        return SipCallBridge(self.runtime, call, self.channel_options, handoff=getattr(self.runtime, "attach_handoff", None))

    async def _on_call(self, call: SipCall) -> None:
        bridge = self.make_bridge(call)
        self.calls[call.call_id] = bridge
        try:
            await bridge.run()
        finally:
            self.calls.pop(call.call_id, None)
