"""The agent's voice on a handed-off call: a WebRTC leg from the desk's browser to the call's audio.

Once an agent has the call (relay mode: the bot stays on the line), the desk's Talk button
opens a WebRTC peer connection to this process (aiortc; ``POST /handoff/api/calls/{id}/talk``):
- the caller's audio (16 kHz, from the channel input's taps) goes out on the leg's track;
- the agent's microphone is resampled to the channel's rate and played to the caller, mixed
  with whatever the bot still says (the bridge's lines, the agent's typed replies); the
  dialogue's own replies stay muted by the :class:`~.relay.Relay`.

A leg ends when the agent hangs up Talk, when the ticket leaves ``bridged`` (the agent ends the
call or sends it back to the bot, the caller hangs up), or when the agent's browser vanishes
(peer connection failed or closed, or no agent audio for ``media_timeout_s``): that last case is
the agent leaving mid-call, handled as the bridge handles a desk that disconnected — the caller
is told and goes back to the bot. Every end closes the peer connection and stops the leg's task.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from voicebot.channels.base import CHUNK_MS, PIPELINE_RATE
from voicebot.logs import get_logger

from .bridge import HandoffBridge
from .options import TalkOptions

log = get_logger(__name__)

CALLER_SAMPLES = PIPELINE_RATE * CHUNK_MS // 1000  # 20 ms of caller audio at 16 kHz
LOUD_RMS = 300  # int16 RMS above which a 20 ms frame counts as speech energy (about -40 dBFS)


class TalkRefused(Exception):
    """A Talk request the server will not serve: an HTTP ``status`` and a message for the desk."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CallAudio(Protocol):
    """A handed-off call's audio, as the agent's leg needs it."""

    def add_caller_tap(self, tap: Callable[[bytes], None]) -> None:
        """``tap(pcm)`` gets the caller's audio: 16-bit mono at 16 kHz."""

    def remove_caller_tap(self, tap: Callable[[bytes], None]) -> None: ...

    def play_agent(self, pcm: bytes, sample_rate: int) -> None:
        """The agent's voice (16-bit mono, any rate) to the caller."""

    def close(self) -> None:
        """The agent stopped talking: nothing more of theirs is played."""


class InappAudio:
    """An in-app call (WebRTC or WebSocket): its caller taps and its agent-audio mixer."""

    def __init__(self, call: Any) -> None:
        self.call = call

    def add_caller_tap(self, tap: Callable[[bytes], None]) -> None:
        self.call.caller_audio_taps.append(tap)

    def remove_caller_tap(self, tap: Callable[[bytes], None]) -> None:
        with contextlib.suppress(ValueError):
            self.call.caller_audio_taps.remove(tap)

    def play_agent(self, pcm: bytes, sample_rate: int) -> None:
        self.call.play_agent_audio(pcm, sample_rate)

    def close(self) -> None:
        pass


class RelayAudio:
    """A relayed Twilio or SIP call: the input's taps, and :class:`~.relay.AgentVoice` on the output."""

    def __init__(self, relay: Any) -> None:
        self.input = relay.caller_input()
        if self.input is None:
            raise TalkRefused(409, "this call's audio input was not found; the agent can type replies instead")
        self.voice = relay.agent_voice()

    def add_caller_tap(self, tap: Callable[[bytes], None]) -> None:
        self.input.audio_taps.append(tap)

    def remove_caller_tap(self, tap: Callable[[bytes], None]) -> None:
        with contextlib.suppress(ValueError):
            self.input.audio_taps.remove(tap)

    def play_agent(self, pcm: bytes, sample_rate: int) -> None:
        self.voice.play(pcm, sample_rate)

    def close(self) -> None:
        self.voice.close()


def audio_for(handle: Any) -> CallAudio:
    """The audio of a call this process holds; :class:`TalkRefused` where the bot is off its media path."""
    if getattr(handle, "left_path", False) or getattr(handle, "left_stream", False):
        raise TalkRefused(409, "the caller was transferred off the bot's line (phone, SIP REFER): the agent's own phone has the call")
    call = getattr(handle, "call", None)
    if call is not None and hasattr(call, "caller_audio_taps"):
        return InappAudio(call)
    relay = getattr(handle, "relay", None) or getattr(getattr(handle, "output", None), "relay", None)
    if relay is not None:
        return RelayAudio(relay)
    raise TalkRefused(409, f"the {getattr(handle, 'channel', '?')} channel has no audio path for the agent; type replies instead")


def mono_pcm(frame: AudioFrame) -> bytes:
    """A decoded WebRTC frame (packed or planar, int16 or float, mono or stereo) as 16-bit mono."""
    pcm = frame.to_ndarray()
    if pcm.dtype != np.int16:
        pcm = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
    channels = len(frame.layout.channels)
    mono = pcm.reshape(-1, channels)[:, 0] if frame.format.is_packed else pcm[0]
    return np.ascontiguousarray(mono, dtype="<i2").tobytes()


def loud(pcm: bytes) -> bool:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return bool(len(x)) and float(np.sqrt(np.mean(x * x))) > LOUD_RMS


class CallerAudioTrack(MediaStreamTrack):
    """The caller's audio for the agent's browser: 20 ms frames at 16 kHz on the media clock.

    Caller audio arrives in bursts (the caller's own network); frames wait in a short queue
    (``max_ms``, oldest dropped) and silence fills the gaps. aiortc's Opus encoder resamples.
    """

    kind = "audio"

    def __init__(self, max_ms: int = 200) -> None:
        super().__init__()
        self._queue: collections.deque[bytes] = collections.deque(maxlen=max(1, max_ms // CHUNK_MS))
        self._pending = b""
        self._timestamp = 0
        self._start: float | None = None
        self.frames_fed = 0
        self.first_loud_at: float | None = None  # monotonic time the first caller speech left for the agent

    def feed(self, pcm16k: bytes) -> None:
        data = self._pending + pcm16k
        size = CALLER_SAMPLES * 2
        n = len(data) // size
        for i in range(n):
            self._queue.append(data[i * size : (i + 1) * size])
        self._pending = data[n * size :]
        self.frames_fed += n

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += CALLER_SAMPLES
            wait = self._start + self._timestamp / PIPELINE_RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.2:  # the loop stalled: resync rather than burst
                self._start = time.time() - self._timestamp / PIPELINE_RATE
        pcm = self._queue.popleft() if self._queue else bytes(CALLER_SAMPLES * 2)
        if self.first_loud_at is None and loud(pcm):
            self.first_loud_at = time.monotonic()
        frame = AudioFrame.from_ndarray(np.frombuffer(pcm, "<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = PIPELINE_RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, PIPELINE_RATE)
        return frame


def restrict_host_candidates(pc: RTCPeerConnection, addresses: tuple[str, ...]) -> None:
    """Offer only ``addresses`` as host candidates (aioice never offers 127.0.0.1): the in-app channel's hook."""
    from voicebot.channels.webrtc.links import restrict_host_candidates as restrict

    restrict(pc, addresses)


class AgentLeg:
    """One agent's WebRTC leg on one call: answer the desk's offer, carry audio both ways, close once."""

    def __init__(self, call_id: str, agent_id: str, audio: CallAudio, options: TalkOptions,
                 on_gone: Callable[[AgentLeg, str], Awaitable[None]]) -> None:
        self.call_id = call_id
        self.agent_id = agent_id
        self.audio = audio
        self.options = options
        self._on_gone = on_gone
        self.to_agent = CallerAudioTrack(options.caller_buffer_ms)
        self.pc: RTCPeerConnection | None = None
        self.closing = False  # close() has begun: nothing new starts, no event ends the leg again
        self.closed = asyncio.Event()  # set once everything is closed
        self.end_reason = ""
        self._reader: asyncio.Task[None] | None = None
        self.opened_at = time.monotonic()
        self.stats = {"agent_frames": 0, "agent_loud_frames": 0, "quiet_run": 0}  # quiet_run: agent frames since the last loud one

    async def answer(self, sdp: str, kind: str) -> dict[str, str]:
        servers = [RTCIceServer(urls=u) for u in self.options.ice_servers]
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        if not any(t.kind == "audio" for t in pc.getTransceivers()):
            raise ValueError("the offer has no audio section")
        pc.addTrack(self.to_agent)
        if self.options.ice_addresses:
            restrict_host_candidates(pc, self.options.ice_addresses)
        await pc.setLocalDescription(await pc.createAnswer())
        self.audio.add_caller_tap(self.to_agent.feed)
        log.info("agent talking", extra={"call_id": self.call_id, "agent": self.agent_id})
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None and not self.closing:
            self._reader = asyncio.create_task(self._read_agent(track), name=f"agent-media-{self.call_id}")

    async def _on_state(self) -> None:
        state = self.pc.connectionState if self.pc is not None else "closed"
        if state in ("failed", "closed") and not self.closing:
            await self._on_gone(self, f"agent_peer_{state}")

    async def _read_agent(self, track: MediaStreamTrack) -> None:
        """The agent's microphone to the caller, until the leg closes or the agent's audio stops."""
        first = True
        while not self.closing:
            timeout = self.options.connect_timeout_s if first else self.options.media_timeout_s
            try:
                frame = await asyncio.wait_for(track.recv(), timeout)
            except TimeoutError:
                reason = "agent_media_timeout"
                break
            except MediaStreamError:
                reason = "agent_media_ended"
                break
            first = False
            pcm = mono_pcm(frame)
            self.stats["agent_frames"] += 1
            if loud(pcm):
                self.stats["agent_loud_frames"] += 1
                self.stats["quiet_run"] = 0
            else:
                self.stats["quiet_run"] += 1
            try:
                self.audio.play_agent(pcm, frame.sample_rate)
            except Exception:  # one bad frame must not end the agent's voice
                log.exception("agent audio frame dropped", extra={"call_id": self.call_id})
        else:
            return
        if not self.closing:
            self._reader = None  # ending from inside the reader: close() must not wait for itself
            await self._on_gone(self, reason)

    async def close(self, reason: str) -> None:
        """Idempotent: tap removed, agent voice stopped, reader stopped, peer connection closed."""
        if self.closing:
            await self.closed.wait()
            return
        self.closing = True
        self.end_reason = reason
        self.audio.remove_caller_tap(self.to_agent.feed)
        self.audio.close()
        self.to_agent.stop()
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()
        self.closed.set()
        log.info("agent stopped talking", extra={"call_id": self.call_id, "agent": self.agent_id, "reason": reason,
                                                 "seconds": round(time.monotonic() - self.opened_at, 1), **self.stats})


class AgentMedia:
    """The live Talk legs of this process, by call id; closes them when their call leaves the agent."""

    def __init__(self, bridge: HandoffBridge, options: TalkOptions = TalkOptions()) -> None:
        self.bridge = bridge
        self.options = options
        self.legs: dict[str, AgentLeg] = {}
        self._opening: set[str] = set()  # calls whose offer is being answered
        self._watcher: asyncio.Task[None] | None = None

    async def open(self, call_id: str, agent_id: str, sdp: str, kind: str) -> tuple[AgentLeg, dict[str, str]]:
        """The agent's offer for a call they have accepted: the answer, or :class:`TalkRefused`."""
        t = await self.bridge.state.get_ticket(call_id)
        if t is None or t.agent_id != agent_id or t.state != "bridged":
            raise TalkRefused(403, "you can talk only on a live call you have accepted")
        handle = self.bridge.handles.get(call_id)
        if handle is None:
            raise TalkRefused(409, "this call's audio is held by another bot process: route the desk to the process "
                                   "that holds the call (sticky sessions), or type replies instead")
        if call_id in self._opening:
            raise TalkRefused(409, "a Talk connection for this call is already being set up; wait for it")
        self._opening.add(call_id)
        try:
            if call_id in self.legs:  # the agent pressed Talk again (a reloaded desk): the newest leg wins
                await self.close(call_id, "replaced")
            leg = AgentLeg(call_id, agent_id, audio_for(handle), self.options, self._gone)
            try:
                answer = await leg.answer(sdp, kind)
            except Exception as exc:
                await leg.close("bad_offer")
                raise TalkRefused(400, f"could not answer this offer: {exc}") from None
            self.legs[call_id] = leg
        finally:
            self._opening.discard(call_id)
        self._ensure_watcher()
        await self._publish(leg, "talking")
        return leg, answer

    async def close(self, call_id: str, reason: str) -> bool:
        """Close the call's leg (True if there was one)."""
        leg = self.legs.pop(call_id, None)
        if leg is None:
            return False
        await leg.close(reason)
        await self._publish(leg, "ended")
        if not self.legs and self._watcher is not None and self._watcher is not asyncio.current_task():
            watcher, self._watcher = self._watcher, None
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        return True

    async def stop(self) -> None:
        for call_id in list(self.legs):
            await self.close(call_id, "server_stopping")

    async def _gone(self, leg: AgentLeg, reason: str) -> None:
        """The agent's browser vanished mid-call: the caller goes back to the bot and is told
        (the bridge's ``release`` event with ``agent_left``, as for a desk that disconnected)."""
        if self.legs.get(leg.call_id) is not leg:
            await leg.close(reason)
            return
        log.warning("agent's voice connection lost: the caller goes back to the bot",
                    extra={"call_id": leg.call_id, "agent": leg.agent_id, "reason": reason})
        await self.close(leg.call_id, reason)
        await self.bridge.state.publish({"type": "release", "call_id": leg.call_id, "back_to_bot": True, "reason": "agent_left"})

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="agent-media-watch")

    async def _watch(self) -> None:
        """Close a leg when its ticket leaves ``bridged`` (ended, back to the bot, caller hung up); ends with the last leg."""
        events = self.bridge.state.subscribe()
        nxt: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(events.__anext__())
        try:
            await asyncio.sleep(0)  # subscribed; a change just before is caught by looking once
            for call_id in list(self.legs):
                t = await self.bridge.state.get_ticket(call_id)
                if t is None or t.state != "bridged":
                    await self.close(call_id, f"call_{t.state if t else 'gone'}")
            while self.legs:
                event = await nxt
                nxt = asyncio.ensure_future(events.__anext__())
                if event.get("type") == "ticket" and event.get("call_id") in self.legs and event.get("state") != "bridged":
                    await self.close(event["call_id"], f"call_{event.get('state')}")
        finally:
            nxt.cancel()
            with contextlib.suppress(BaseException):
                await nxt
            with contextlib.suppress(Exception):
                await events.aclose()
            if self._watcher is asyncio.current_task():
                self._watcher = None
                if self.legs:  # a leg opened while this watcher was finishing
                    self._ensure_watcher()

    async def _publish(self, leg: AgentLeg, state: str) -> None:
        """Tell the agent's desk (its WebSocket forwards events with its agent id)."""
        with contextlib.suppress(Exception):
            await self.bridge.state.publish({"type": "talk", "call_id": leg.call_id, "agent_id": leg.agent_id,
                                             "state": state, "reason": leg.end_reason or None})
