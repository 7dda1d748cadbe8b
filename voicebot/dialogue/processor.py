"""The dialogue stage: the caller's words in, a reply with actions out. The bot speaks first.

The dialogue session never sees a channel: it returns actions, which the output carries out
once the reply has been heard (see :class:`voicebot.channels.base.CallOutput`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import DataFrame, Frame, InterruptionFrame, StartFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.core import Note, Transfer

from voicebot.dialogue.api import CallerTurn, DialogueReply, DialogueSession
from voicebot.logs import get_logger
from voicebot.pipeline.frames import BotReplyFrame, CallerTextFrame, PlaybackReportFrame, TurnSettledFrame
from voicebot.pipeline.state import CallState

log = get_logger(__name__)

FALLBACK = "Sorry, something went wrong on my side. Let me connect you to a colleague."
# Notes that record something done in the outside world: a turn whose reply did one of these is
# never taken back when the caller turns out to have gone on speaking (it would be done twice).
IRREVERSIBLE = frozenset({"claim_created", "investigation_opened", "order_cancelled", "refund_requested", "address_change_link_sent"})


@dataclass
class DialogueCueFrame(DataFrame):
    """Something happened on the call that the dialogue may answer without a caller turn (an
    outbound call's answering-machine verdict, the beep). Sessions that do not know cues ignore it.
    (``cue``, not ``name``: pipecat's frames already have a ``name``.)"""

    cue: str
    data: dict[str, Any] = field(default_factory=dict)


class _Answered:
    """The last caller turn the dialogue answered: enough to take the answer back."""

    def __init__(self, turn_id: int, text: str, snapshot: object, reply: DialogueReply | None = None) -> None:
        self.turn_id, self.text, self.snapshot, self.reply = turn_id, text, snapshot, reply

    @property
    def reversible(self) -> bool:
        if self.reply is None:
            return True  # never answered: nothing to take back
        return self.snapshot is not None and not any(isinstance(a, Note) and a.name in IRREVERSIBLE for a in self.reply.actions)


class DialogueProcessor(FrameProcessor):
    def __init__(self, state: CallState, session: DialogueSession, greet: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.session = session
        self.greet = greet
        self._in_tts: set[int] = set()
        self._last: _Answered | None = None  # the newest caller turn (answered, or held while the caller went on)
        self._cue_turns = 0  # replies to cues get turn ids -1, -2, ... (the turn taker counts up from 1)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self.greet:
                self.state.activity.begin(0)
                await self._say(await self._call(self.session.greet()), turn_id=0)
        elif isinstance(frame, CallerTextFrame):
            await self._respond(frame)
        elif isinstance(frame, DialogueCueFrame):
            on_cue = getattr(self.session, "on_cue", None)
            if on_cue is not None:
                self._cue_turns += 1
                turn_id = -self._cue_turns
                self.state.activity.begin(turn_id)
                await self._say(await self._call(on_cue(frame.cue, frame.data)), turn_id=turn_id)
        elif isinstance(frame, PlaybackReportFrame):
            if frame.interrupted:
                self.session.bot_was_interrupted(frame.heard_text)
            await self.push_frame(frame, direction)
        elif isinstance(frame, TurnSettledFrame):
            self._in_tts.discard(frame.turn_id)
            self.state.activity.end(frame.turn_id)
            await self.push_frame(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            for turn_id in self._in_tts:  # their synthesis is cancelled: nothing more will come
                self.state.activity.end(turn_id)
            self._in_tts.clear()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _respond(self, frame: CallerTextFrame) -> None:
        text = frame.text
        prev = self._last
        if frame.continues is not None and prev is not None and prev.turn_id == frame.continues and prev.reversible:
            # The caller paused mid-thought and went on: the answer to the first part is taken back
            # (the caller heard little or none of it) and both parts are answered as one turn.
            if prev.reply is not None:
                self.session.restore(prev.snapshot)  # type: ignore[attr-defined]
            text = f"{prev.text} {text}".strip()
            self.state.emit("turn_merged", turn_id=frame.turn_id, continues=prev.turn_id, text=text)
        snapshot = self.session.snapshot() if hasattr(self.session, "snapshot") else None
        if frame.turn_id in self.state.superseded:
            # the caller went on before this turn was answered: hold its words for the continuation
            self._last = _Answered(frame.turn_id, text, snapshot)
            self.state.activity.end(frame.turn_id)
            return
        turn = CallerTurn(text=text, language=frame.language, dtmf=frame.dtmf, asr_confidence=frame.asr_confidence, is_dev_asr=frame.dev_asr)
        t0 = time.perf_counter()
        reply = await self._call(self.session.respond(turn))
        self._last = _Answered(frame.turn_id, text, snapshot, reply)
        await self._say(reply, frame.turn_id, dialogue_ms=(time.perf_counter() - t0) * 1000)

    async def _call(self, coro) -> DialogueReply:
        try:
            return await coro
        except Exception as exc:  # the caller must hear something, and get a person
            log.exception("dialogue failed", extra={"call_id": self.state.ctx.call_id})
            self.state.emit("error", where="dialogue", message=str(exc))
            return DialogueReply(text=FALLBACK, language="en", actions=(Transfer(reason="bot_error"),))

    async def _say(self, reply: DialogueReply, turn_id: int, dialogue_ms: float | None = None) -> None:
        self.state.expect = getattr(reply, "expect", None)
        self.state.emit("bot_reply", turn_id=turn_id, text=reply.text, language=reply.language, intent=reply.intent,
                        slots=reply.slots, sentiment=reply.sentiment, dialogue_ms=None if dialogue_ms is None else round(dialogue_ms, 1),
                        actions=[a.kind for a in reply.actions])
        for action in reply.actions:
            if isinstance(action, Note):
                self.state.emit_action("note", name=action.name, data=action.data)
        if not reply.text and not reply.actions:
            self.state.activity.end(turn_id)
            return
        self._in_tts.add(turn_id)
        await self.push_frame(BotReplyFrame(reply=reply, turn_id=turn_id))
