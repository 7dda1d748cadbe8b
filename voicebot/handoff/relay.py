"""The relay half of a hand-off, for any channel's :class:`~voicebot.channels.base.CallOutput`.

While a person has the call and the bot stays on the line (``relay`` mode, or while the caller
waits for an agent):
- the dialogue's own replies are muted at the output (the agent answers now);
- the caller's transcripts (spoken, or typed in the in-app widget) go to the desk through
  :meth:`~.bridge.HandoffBridge.caller_said`;
- what the bridge says for the hand-off (wait estimate, "connected with Ana", the agent's typed
  replies) is spoken with the call's own TTS: a :class:`BotReplyFrame` pushed upstream from the
  output reaches the TTS stage just before it. A ``bot_reply`` event (``agent=True``) carries
  the text, so captions (in-app) and the call record show it.

:class:`RelayHandle` is a :class:`~.bridge.CallHandle` for channels whose bot never leaves the
media path; channels with a voice bridge (SIP REFER) subclass it.

:class:`AgentVoice` is the relay's audio path for the agent's own voice (the desk's Talk,
:mod:`.agent_media`): it mixes the agent's audio into what the output sends, on channels whose
output paces itself (Twilio stream, SIP RTP). :meth:`Relay.caller_input` finds the call's
:class:`~voicebot.channels.base.CallInput`, whose ``audio_taps`` carry the caller at 16 kHz.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pipecat.frames.frames import EndWorkerFrame, Frame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection

from voicebot.audio.pcm import StreamResampler
from voicebot.channels.base import CHUNK_MS, CallInput
from voicebot.core import Transfer
from voicebot.dialogue.api import DialogueReply
from voicebot.events import CallEvent
from voicebot.logs import get_logger
from voicebot.pipeline.frames import BotReplyFrame, BotSentenceAudioFrame
from voicebot.pipeline.state import CallState

from .bridge import HandoffBridge
from .routing import Agent
from .state import Ticket

log = get_logger(__name__)

RELAY_TURN_BASE = 1_000_000  # turn ids of lines the bot speaks for the hand-off (never a caller turn id)


class Relay:
    """Mutes the dialogue, forwards the caller's words, speaks for the hand-off; one per call."""

    def __init__(self, output: Any, bridge: HandoffBridge) -> None:
        self.output = output  # a CallOutput (push_frame, state)
        self.bridge = bridge
        self.state: CallState = output.state
        self.active = False
        self._turns = RELAY_TURN_BASE
        self._subscribed = False
        self._heard = HeardAudio()
        self._turn_ms: dict[int, tuple[float, float]] = {}  # turn id -> its speech (call audio ms)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def call_id(self) -> str:
        return self.state.ctx.call_id

    def start(self) -> None:
        """From now on the dialogue is muted and the caller's words go to the desk."""
        self.active = True
        if not self._subscribed:
            self._subscribed = True
            self.state.events.subscribe(self._on_event)
            inp = self.caller_input()
            if inp is not None:  # the caller's own audio of each turn, for speech translation (Whisper) on the desk
                self._heard.starts_at(round(inp.received_ms * HeardAudio.RATE / 1000))
                inp.audio_taps.append(self._heard.add)

    def stop(self) -> None:
        """The dialogue has the caller again."""
        self.active = False

    def drops(self, frame: Frame, direction: FrameDirection) -> bool:
        """True for the dialogue's own reply audio while relaying (the output must not play it)."""
        if not self.active or direction != FrameDirection.DOWNSTREAM:
            return False
        if isinstance(frame, BotSentenceAudioFrame):
            turn = frame.turn_id
        elif isinstance(frame, OutputAudioRawFrame):
            turn = int(frame.metadata.get("turn_id", RELAY_TURN_BASE))
        else:
            return False
        if turn >= RELAY_TURN_BASE:
            return False
        if isinstance(frame, BotSentenceAudioFrame) and frame.last:
            self.state.activity.end(frame.turn_id)  # the muted turn needs no more work
        return True

    async def speak(self, text: str, language: str, agent_name: str | None = None) -> None:
        """Speak ``text`` through the call's own TTS (the frame travels upstream to the TTS stage).

        The ``bot_reply`` event says who the words are from: ``speaker`` "agent" (an agent's typed
        line, with ``agent_name``) or "handoff" (the bridge's own line); neither is a dialogue
        intent, so none is given (analytics count the dialogue's intents only)."""
        self._turns += 1
        speaker = {"speaker": "agent", "agent_name": agent_name} if agent_name else {"speaker": "handoff"}
        self.state.emit("bot_reply", turn_id=self._turns, text=text, language=language, agent=True, **speaker)
        await self.output.push_frame(BotReplyFrame(DialogueReply(text=text, language=language), turn_id=self._turns),
                                     FrameDirection.UPSTREAM)

    def _on_event(self, event: CallEvent) -> None:
        if event.kind == "turn_end" and isinstance(event.data.get("turn_id"), int) and event.data.get("start_ms") is not None:
            self._turn_ms[event.data["turn_id"]] = (float(event.data["start_ms"]), float(event.data.get("end_ms") or event.t_ms))
            return
        if not (self.active and event.kind == "transcript" and event.data.get("text")):
            return
        text, lang = event.data["text"], event.data.get("language") or self.state.language or "en"
        span = None if event.data.get("typed") else self._turn_ms.pop(event.data.get("turn_id"), None)  # type: ignore[arg-type]
        audio = self._heard.between(*span) if span else None
        task = asyncio.get_running_loop().create_task(self._forward(text, lang, audio))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, text: str, language: str, audio: np.ndarray | None = None) -> None:
        try:
            await self.bridge.caller_said(self.call_id, text, language, audio=audio)
        except Exception:  # the desk missing a line must not end the call
            log.exception("caller line not relayed to the desk", extra={"call_id": self.call_id})

    async def request(self, handle: Any, action: Transfer) -> Ticket:
        """Start relaying and hand the caller to the bridge."""
        self.start()
        return await self.bridge.request(handle, action, self.state.language or self.state.ctx.language or "en")

    def caller_input(self) -> CallInput | None:
        """The call's input (upstream of the output in the pipeline): its ``audio_taps`` hear the caller."""
        node = getattr(self.output, "previous", None)
        while node is not None and not isinstance(node, CallInput):
            node = getattr(node, "previous", None)
        return node

    def note(self, what: str, **data: Any) -> None:
        """A hand-off step as an ``action`` event (``action="handoff"``): the call record and the widget see it."""
        if not self.state.ended:  # "action" and "reason" name the step itself; a step's own reason is "why"
            fields = {("why" if k == "reason" else k): v for k, v in data.items() if v is not None and k != "action"}
            self.state.emit_action("handoff", reason=what, **fields)

    def agent_voice(self) -> AgentVoice:
        """Start mixing the agent's voice into the output (one per call; :meth:`AgentVoice.close` stops it)."""
        return AgentVoice(self.output)


class HeardAudio:
    """The caller's last ``keep_s`` of audio at 16 kHz (from the input's taps), by call audio time."""

    RATE = 16000

    def __init__(self, keep_s: float = 30.0) -> None:
        self._keep = int(keep_s * self.RATE) * 2
        self._buf = bytearray()
        self._start = 0  # sample index of _buf[0] since the call began

    def starts_at(self, sample: int) -> None:
        """The next audio added is the call's ``sample``-th (taps attached mid-call)."""
        self._buf.clear()
        self._start = sample

    def add(self, pcm: bytes) -> None:
        self._buf += pcm
        extra = len(self._buf) - self._keep
        if extra > 0:
            extra -= extra % 2
            del self._buf[:extra]
            self._start += extra // 2

    def between(self, start_ms: float, end_ms: float) -> np.ndarray | None:
        """The caller's audio from ``start_ms`` to ``end_ms`` (None when it is no longer kept)."""
        a = int(start_ms * self.RATE / 1000) - self._start
        b = int(end_ms * self.RATE / 1000) - self._start
        if a < 0 or b <= a:
            return None
        return np.frombuffer(bytes(self._buf[a * 2 : b * 2]), dtype="<i2").copy()


SendAudio = Callable[[bytes], Awaitable[None]]


class AgentVoice:
    """The agent's voice, mixed into a self-pacing output's 20 ms chunks (Twilio, SIP).

    The output's ``send_audio``/``send_idle`` hooks are wrapped on this one instance: a chunk
    of bot audio (a bridge line, an agent's typed reply) gets the agent's next 20 ms added; an
    idle tick sends the agent's 20 ms instead of nothing. At most ``max_ms`` of agent audio
    waits (older audio is dropped), so a stalled output never builds up delay.
    """

    def __init__(self, output: Any, max_ms: int = 200) -> None:
        self.output = output
        self.rate: int = output.sample_rate
        self.chunk_bytes: int = output.chunk_bytes
        self._queue: collections.deque[bytes] = collections.deque(maxlen=max(1, max_ms // CHUNK_MS))
        self._pending = b""
        self._resamplers: dict[int, StreamResampler] = {}
        self._send_audio: SendAudio = output.send_audio
        self._send_idle: Callable[[], Awaitable[None]] = output.send_idle
        self.chunks_sent = 0
        output.send_audio = self._mixed  # instance attributes shadow the class's hooks
        output.send_idle = self._idle

    def play(self, pcm: bytes, sample_rate: int) -> None:
        """16-bit mono agent audio at any rate; resampled to the channel's rate and queued."""
        if sample_rate not in self._resamplers:
            self._resamplers[sample_rate] = StreamResampler(sample_rate, self.rate)
        data = self._pending + self._resamplers[sample_rate](pcm)
        n = len(data) // self.chunk_bytes
        for i in range(n):
            self._queue.append(data[i * self.chunk_bytes : (i + 1) * self.chunk_bytes])
        self._pending = data[n * self.chunk_bytes :]

    async def _mixed(self, chunk: bytes) -> None:
        agent = self._queue.popleft() if self._queue else None
        if agent is not None and len(agent) == len(chunk):
            mix = np.frombuffer(chunk, "<i2").astype(np.int32) + np.frombuffer(agent, "<i2")
            chunk = np.clip(mix, -32768, 32767).astype("<i2").tobytes()
            self.chunks_sent += 1
        await self._send_audio(chunk)

    async def _idle(self) -> None:
        if self._queue:
            self.chunks_sent += 1
            await self._send_audio(self._queue.popleft())
        else:
            await self._send_idle()

    def close(self) -> None:
        """Stop mixing: the output's own hooks again, queued agent audio dropped."""
        for name in ("send_audio", "send_idle"):
            self.output.__dict__.pop(name, None)
        self._queue.clear()
        self._pending = b""


class RelayHandle:
    """A :class:`~.bridge.CallHandle` whose bot stays on the line: it relays, never bridges audio."""

    def __init__(self, relay: Relay, channel: str) -> None:
        self.relay = relay
        ctx = relay.state.ctx
        self.call_id = ctx.call_id
        self.channel = channel
        self.caller_number = ctx.caller_number
        self.left_path = False  # the bot left the media path (REFER, Dial): nothing more is spoken

    voice = True  # the caller's audio reaches the bot (a voicemail can be taken)

    async def say(self, text: str, language: str) -> None:
        if self.left_path or self.relay.state.ended:
            log.info("not spoken: the bot has left the call", extra={"call_id": self.call_id, "text": text})
            return
        await self.relay.speak(text, language)

    async def say_as_agent(self, text: str, language: str, agent_name: str) -> None:
        """An agent's typed reply, spoken by the bot and recorded as the agent's."""
        if self.left_path or self.relay.state.ended:
            log.info("not spoken: the bot has left the call", extra={"call_id": self.call_id, "text": text})
            return
        await self.relay.speak(text, language, agent_name)

    def note(self, what: str, **data: Any) -> None:
        self.relay.note(what, **data)

    async def hold(self, ticket: Ticket) -> bool:
        return False  # the bot keeps the line and has told the caller the wait

    async def connect_voice(self, agent: Agent) -> bool:
        return False  # relay: the agent types, the bot speaks

    async def back_to_bot(self) -> None:
        self.relay.stop()

    async def end(self, reason: str) -> None:
        """The agent ended the call: hang up on the channel and stop the pipeline."""
        self.relay.stop()
        if self.left_path or self.relay.state.ended:
            return
        state = self.relay.state
        state.end_reason = state.end_reason or reason
        output = self.relay.output
        await output.hang_up()
        await output.push_frame(EndWorkerFrame(reason=reason), FrameDirection.UPSTREAM)
