"""What an outbound call adds to the ordinary call pipeline, on any channel.

Attached to a :class:`voicebot.call.CallSession` before it runs, it
- listens to the callee's audio (the input's audio tap, 16 kHz) with the answering-machine
  detector, and tells the dialogue through cues: ``amd`` with the verdict, then ``voicemail``
  once a machine's greeting is over (after its beep);
- hands the detector the ASR's words as they come (a late "leave a message" turns a "human"
  verdict into "machine");
- records an opt-out the moment the dialogue notes it (the do-not-call list, consent revoked);
- writes the attempt's progress (in the call) and, when the call ends, its outcome.

Everything else — barge-in, ASR, TTS, records, hand-off — is the inbound call's own code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from voicebot.channels.base import PIPELINE_RATE
from voicebot.dialogue.processor import DialogueCueFrame
from voicebot.events import CallEvent
from voicebot.logs import get_logger

from .amd import AnsweringMachineDetector
from .options import OutboundOptions
from .outcomes import Outcomes

log = get_logger(__name__)


def final_outcome(notes: list[str], *, transferred: bool, bot_hung_up: bool, amd: str | None, caller_spoke: bool, error: bool) -> str:
    """The attempt's outcome from what happened on the call (pure)."""
    if "opted_out" in notes:
        return "opted_out"
    if transferred:
        return "handed_to_agent"
    if "voicemail_left" in notes:
        return "voicemail_left" if bot_hung_up else "hung_up"  # the machine cut the message off
    for outcome in ("wrong_person", "unverified", "reached", "machine", "error"):
        if outcome in notes:
            return outcome
    if error:
        return "error"
    return "hung_up"  # answered (a person or a machine) and gone before anything was settled


class OutboundCallAgent:
    def __init__(self, plan_extra: dict[str, Any], options: OutboundOptions, outcomes: Outcomes, *,
                 on_ended: Callable[[str], None] | None = None) -> None:
        self.extra = {**plan_extra, "amd": True}
        self.attempt_id = str(plan_extra["attempt"])
        self.options = options
        self.outcomes = outcomes
        self.on_ended = on_ended
        self.detector = AnsweringMachineDetector(options.amd, PIPELINE_RATE)
        self.session: Any = None
        self.notes: list[str] = []
        self.transferred = False
        self.bot_hung_up = False
        self.caller_spoke = False
        self.error = False
        self.outcome: str | None = None
        self._announced: str | None = None  # the verdict label the dialogue was told
        self._voicemail_cued = False
        # Cues wait for the pipeline to close the callee's open turn (the greeting, the "hello"):
        # the bot speaking into a turn the turn taker still thinks is going on reads as a barge-in.
        self._turn_open = False
        self._deferred: list[tuple[str, dict[str, Any]]] = []
        self._deferred_ms = 0.0
        self._after_message_ms: float | None = None  # audio since the voicemail started
        self._tasks: set[asyncio.Task[Any]] = set()
        self.done = asyncio.Event()  # the outcome is written

    def attach(self, session: Any) -> None:
        """Before ``session.run()``: the plan into the call context, taps and event subscription."""
        self.session = session
        session.ctx.extra["outbound"] = self.extra  # the dialogue reads it (voicebot.dialogue.outbound.OutboundCall)
        session.prepare()
        session.transport.input().audio_taps.append(self._on_audio)
        session.subscribe(self._on_event)

    # -- audio and words ---------------------------------------------------------------------
    MAX_CUE_WAIT_MS = 2000.0  # a turn that will not close does not hold the bot back longer
    MAX_MESSAGE_MS = 60000.0  # a voicemail that is never finished (cut off, the line stays up): hang up

    def _on_audio(self, pcm16k: bytes) -> None:
        ms = len(pcm16k) / 32.0
        if self._deferred:
            self._deferred_ms += ms
            if self._deferred_ms >= self.MAX_CUE_WAIT_MS:
                self._flush_cues()
        if self._after_message_ms is not None:
            self._after_message_ms += ms
            if self._after_message_ms >= self.MAX_MESSAGE_MS and not self.bot_hung_up:
                self._after_message_ms = None
                log.warning("voicemail never finished; hanging up", extra={"attempt": self.attempt_id})
                self._spawn(self.session.end("voicemail_timeout"))
            return
        self.detector.feed(pcm16k)
        self._after_detection()

    def _after_detection(self) -> None:
        d = self.detector
        v = d.verdict
        if v is not None and v.label != self._announced:
            self._announced = v.label
            self._emit("amd", **v.as_dict(), beeps=[round(b.start_ms) for b in d.state.beeps])
            self._cue("amd", {"label": v.label, "reason": v.reason})
        if v is not None and v.label == "machine" and d.ready_for_message is not None and not self._voicemail_cued:
            self._voicemail_cued = True
            self._after_message_ms = 0.0
            self._cue("voicemail", {"after": d.ready_reason})

    def _cue(self, name: str, data: dict[str, Any]) -> None:
        self._deferred.append((name, data))
        if not self._turn_open:
            self._flush_cues()

    def _flush_cues(self) -> None:
        cues, self._deferred, self._deferred_ms = self._deferred, [], 0.0
        for name, data in cues:
            if name == "voicemail":
                self._emit("amd_message_start", at_ms=self.detector.state.heard_ms, after=data.get("after"))
            self._spawn(self.session.transport.input().push_frame(DialogueCueFrame(name, data)))

    def _emit(self, kind: str, **data: Any) -> None:
        if self.session is not None and self.session.state is not None:
            self.session.state.emit(kind, **data)

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, ev: CallEvent) -> None:
        kind, data = ev.kind, ev.data
        if kind == "vad_start":
            self._turn_open = True
        elif kind == "turn_end":
            self._turn_open = False
            if self._deferred:
                self._flush_cues()
        if kind in ("transcript", "partial_transcript") and data.get("text"):
            if kind == "transcript":
                self.caller_spoke = True
            if self._announced != "machine" and not self._voicemail_cued:
                if self.detector.hear_words(str(data["text"]), data.get("language")):
                    self._after_detection()
        elif kind == "dtmf":
            self.caller_spoke = True
        elif kind == "call_start":
            self._spawn(self.outcomes.progress(self.attempt_id, state="in_call", answered_at=self.outcomes.now(), call_id=ev.data.get("call_id")))
        elif kind == "action":
            self._on_action(ev.action, data)
        elif kind == "error":
            self.error = True
        elif kind == "call_end":
            self._spawn(self._finish(str(data.get("reason", ""))))

    def _on_action(self, action: str | None, data: dict[str, Any]) -> None:
        if action == "transfer":
            self.transferred = True
        elif action == "hangup":
            self.bot_hung_up = True
        elif action == "note" and data.get("name") == "outbound_outcome":
            self.notes.append(str((data.get("data") or {}).get("outcome", "")))
        elif action == "note" and data.get("name") == "outbound_opt_out":
            self._spawn(self.outcomes.opt_out(str(self.extra.get("phone", "")), str(self.extra.get("customer_id", "")), "asked on the call"))

    async def _finish(self, end_reason: str) -> None:
        v = self.detector.verdict
        outcome = final_outcome(self.notes, transferred=self.transferred, bot_hung_up=self.bot_hung_up, amd=v.label if v else None,
                                caller_spoke=self.caller_spoke, error=self.error)
        self.outcome = outcome
        detail = {"end_reason": end_reason, "amd": v.as_dict() if v else None, "notes": self.notes,
                  "call_id": self.session.ctx.call_id if self.session else None}
        try:
            await self.outcomes.finish(self.attempt_id, outcome, detail)
        except Exception:  # the database is away: the call record has the notes; say so loudly
            log.exception("outbound outcome could not be written", extra={"attempt": self.attempt_id, "outcome": outcome})
        finally:
            self.done.set()
            if self.on_ended:
                self.on_ended(outcome)

    async def wait(self, timeout_s: float = 15.0) -> str | None:
        """Until the outcome is written (and every write this call started)."""
        try:
            await asyncio.wait_for(self.done.wait(), timeout_s)
        except TimeoutError:
            log.error("outbound call outcome not written in time", extra={"attempt": self.attempt_id})
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        return self.outcome

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
