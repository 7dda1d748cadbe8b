"""Take a voicemail on a live call: prompt, beep, record the caller, store, thank, hang up.

The bridge hands a call over here when routing decides ``voicemail`` (or ``callback`` with
``handoff.voicemail.instead_of_callback``). It works on every channel whose hand-off handle
carries the relay (``handle.relay`` or ``handle.output.relay``: Twilio, SIP, in-app):
- the dialogue stays parked the way a relay hand-off parks it (its replies are muted), so the
  bot never answers the caller's message; the prompt and the beep go through the call's own
  output (the prompt through its TTS, the beep as generated audio);
- the message is the caller's audio from the call's input (``CallInput.audio_taps``) after
  the beep, until ``#``, hang-up, ``end_silence_s`` of silence after speech, or ``max_s``;
- the WAV (mono 16-bit) goes to ``<recordings dir>/voicemail/YYYY/MM/DD/<call id>.wav`` and a
  ``voicemails`` row (linked to the call id) to the record store, both from the record
  writer's thread; a caller who hangs up mid-message keeps the partial message;
- where the records' recording rule forbids recording this caller (channel or number prefix),
  or records are off, the caller is told and a callback request is made instead.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipecat.frames.frames import EndWorkerFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection

from voicebot.channels.base import PIPELINE_RATE, CallInput
from voicebot.events import CallEvent
from voicebot.logs import get_logger
from voicebot.pipeline.frames import BotSentenceAudioFrame
from voicebot.pipeline.state import CallState
from voicebot.records.model import Voicemail
from voicebot.records.redact import Redactor

from .relay import RELAY_TURN_BASE
from .state import HandoffState, Ticket
from .voicemail import MessageCapture, VoicemailOptions, tone, voicemail_message
from .voicemail_file import VoicemailFile

log = get_logger(__name__)

_TONE_TURNS = itertools.count(RELAY_TURN_BASE + 900_000)  # the beep's turn ids: above the relay's, never a caller's


@dataclass
class CallLine:
    """What a voicemail needs of a call: its state, output (to speak and beep), input (to listen)."""

    state: CallState
    output: Any  # voicebot.channels.base.CallOutput
    input: CallInput
    relay: Any = None  # voicebot.handoff.relay.Relay


def line_for(handle: Any) -> CallLine | None:
    """The call behind a hand-off handle; None for a handle that gives no access to its audio."""
    relay = getattr(handle, "relay", None) or getattr(getattr(handle, "output", None), "relay", None)
    output = getattr(relay, "output", None) or getattr(handle, "output", None)
    state = getattr(output, "state", None)
    if output is None or not isinstance(state, CallState):
        return None
    inp = getattr(output, "call_input", None)  # the same call's input, set by its CallTransport
    return CallLine(state, output, inp, relay) if isinstance(inp, CallInput) else None


class _Watch:
    """An event sink: what has been played, keypad presses, the call's end, transcripts."""

    def __init__(self, state: CallState) -> None:
        self.changed = asyncio.Event()
        self.turn_of_text: dict[str, int] = {}
        self.stopped: set[int] = set()
        self.hash_pressed = False
        self.listening_for_hash = False
        self.ended = state.ended
        self.caller_speaking = False
        self.turn_start: dict[int, float] = {}
        self.transcripts: dict[int, str] = {}
        self.active = True

    def __call__(self, ev: CallEvent) -> None:
        if not self.active:
            return
        d = ev.data
        if ev.kind == "bot_reply" and d.get("agent") and isinstance(d.get("turn_id"), int):
            self.turn_of_text.setdefault(str(d.get("text")), d["turn_id"])
        elif ev.kind == "bot_speech_stop":
            self.stopped.add(int(d.get("turn_id", -1)))
        elif ev.kind == "dtmf" and d.get("digit") == "#" and self.listening_for_hash:
            self.hash_pressed = True
        elif ev.kind == "call_end":
            self.ended = True
        elif ev.kind in ("vad_start", "vad_stop"):
            self.caller_speaking = ev.kind == "vad_start"
        elif ev.kind == "turn_end" and "turn_id" in d and d.get("start_ms") is not None:
            self.turn_start[int(d["turn_id"])] = float(d["start_ms"])
        elif ev.kind == "transcript" and d.get("text") and "turn_id" in d:
            self.transcripts[int(d["turn_id"])] = str(d["text"])
        else:
            return
        self.changed.set()

    def played(self, text: str) -> bool:
        turn = self.turn_of_text.get(text)
        return turn is not None and turn in self.stopped


class VoicemailService:
    """Takes voicemails for the bridge (``bridge.voicemail``); one per process."""

    def __init__(self, options: VoicemailOptions, records: Callable[[], Any], now: Callable[[], float] = time.time) -> None:
        """``records()`` returns the process's :class:`voicebot.records.service.Records` (None when off)."""
        self.options = options
        self._records = records
        self.now = now
        self.tasks: dict[str, asyncio.Task[Voicemail | None]] = {}
        self.keep_finished = 200

    @classmethod
    def from_runtime(cls, runtime: Any) -> VoicemailService:
        return cls(VoicemailOptions.from_settings(runtime.settings), lambda: getattr(runtime, "records", None))

    def wanted(self, kind: str) -> bool:
        """Does this routing decision become a voicemail here?"""
        o = self.options
        return o.enabled and (kind == "voicemail" or (kind == "callback" and o.instead_of_callback))

    def recordings_dir(self) -> Path | None:
        records = self._records()
        rec_dir = getattr(getattr(records, "options", None), "recordings_dir", None)
        return Path(rec_dir) / "voicemail" if rec_dir else None

    def allowed(self, handle: Any) -> bool:
        """A message may be recorded: records on with recordings, and this caller's recording allowed."""
        records, line = self._records(), line_for(handle)
        if records is None or self.recordings_dir() is None:
            log.warning("voicemail needs call records with recordings on (store.recordings): callback instead",
                        extra={"call_id": handle.call_id})
            return False
        if line is None:
            log.error("this channel's hand-off handle gives no access to the call's audio: callback instead of voicemail",
                      extra={"call_id": handle.call_id, "channel": handle.channel})
            return False
        if not records.options.recording.allows(line.state.ctx):
            log.info("recording disabled for this caller (store.recordings_disabled_*): callback instead of voicemail",
                     extra={"call_id": handle.call_id, "channel": line.state.ctx.channel})
            return False
        return True

    def start(self, handle: Any, ticket: Ticket, state: HandoffState, record: bool) -> asyncio.Task[Voicemail | None]:
        """Run the voicemail (``record``) or the "cannot record, callback" notice on the call, in a task."""
        take = VoicemailTake(self, handle, ticket, state)
        task = asyncio.create_task(take.run() if record else take.refuse(), name=f"voicemail-{ticket.call_id}")
        if len(self.tasks) >= self.keep_finished:  # finished ones are kept a while for ``wait``, not forever
            for call_id in [c for c, t in self.tasks.items() if t.done()]:
                del self.tasks[call_id]
        self.tasks[ticket.call_id] = task
        return task

    async def wait(self, call_id: str, timeout: float | None = None) -> Voicemail | None:
        """The stored voicemail of a call once its task is over (tests, tools); None if none was left."""
        task = self.tasks.get(call_id)
        return None if task is None else await asyncio.wait_for(asyncio.shield(task), timeout)


@dataclass
class VoicemailTake:
    """One caller's voicemail, start to end."""

    service: VoicemailService
    handle: Any
    ticket: Ticket
    handoff_state: HandoffState
    line: CallLine | None = None
    watch: _Watch | None = None
    capture: MessageCapture | None = None
    reason: str | None = None
    started_at: float = 0.0
    start_ms: float = 0.0
    _file: VoicemailFile | None = None
    _prev_outcome: str = ""
    _path: Path | None = None

    @property
    def options(self) -> VoicemailOptions:
        return self.service.options

    @property
    def call_id(self) -> str:
        return self.ticket.call_id

    def _attach(self) -> bool:
        self.line = line_for(self.handle)
        if self.line is None:
            return False
        self.watch = _Watch(self.line.state)
        self.line.state.events.subscribe(self.watch)
        if self.line.relay is not None and not self.line.relay.active:
            self.line.relay.start()  # the dialogue stays parked while the caller speaks
        return True

    # ---- the two flows -------------------------------------------------------------------------
    async def refuse(self) -> None:
        """Recording not allowed: tell the caller (callback), then end the call once heard."""
        key = "no_recording" if self.handle.caller_number or self._customer() else "no_recording_no_number"
        text, lang = voicemail_message(key, self.ticket.language)
        try:
            if not self._attach():
                await self.handle.say(text, lang)
                return None
            await self._say(text, lang)
            await self._end_call("callback_requested")
        except Exception:
            log.exception("callback notice failed", extra={"call_id": self.call_id})
        return None

    async def run(self) -> Voicemail | None:
        try:
            return await self._run()
        except asyncio.CancelledError:  # the process is stopping: keep what was said
            if self.capture is not None and self.reason is None:
                self.reason = "shutdown"
                try:
                    await asyncio.shield(self._finish_file())
                    if self.capture.has_speech:
                        await asyncio.shield(self._store(self._row()))
                except Exception:  # the record writer is already closed
                    log.exception("voicemail cut short by shutdown could not be stored; its WAV may remain",
                                  extra={"call_id": self.call_id, "path": str(self._path)})
            raise
        except Exception:
            log.exception("voicemail failed; the caller's message may be incomplete", extra={"call_id": self.call_id})
            if self.line is not None and self.watch is not None and not self.watch.ended:
                try:  # never leave the caller on a parked line
                    await self._end_call("voicemail_failed")
                except Exception:
                    log.exception("could not end the call after the voicemail failed", extra={"call_id": self.call_id})
            return None
        finally:
            if self.watch is not None:
                self.watch.active = False
            self._untap()

    async def _run(self) -> Voicemail | None:
        if not self._attach():
            await self.refuse()
            return None
        assert self.line is not None and self.watch is not None
        text, lang = voicemail_message("prompt", self.ticket.language, self.ticket.channel)
        await self._say(text, lang)
        if not self.watch.ended:
            await self._beep()
        if self.watch.ended:
            log.info("caller left before the beep: no voicemail", extra={"call_id": self.call_id})
            self.reason = "hangup_before_tone"
            await self._log_ticket(None)
            return None
        await self._record()
        vm = None
        if self.capture is not None and self.capture.has_speech:
            vm = self._row()
        if not self.watch.ended:
            # '#' often comes with the last word: let the caller finish (the thanks would be a barge-in target)
            await self._until(lambda: not self.watch.caller_speaking or self.watch.ended, 2.0)
            text, lang = voicemail_message("thanks" if vm else "nothing", self.ticket.language)
            await self._say(text, lang)
            # the last words of the message reach the ASR while the caller hears the thanks
            await self._until(lambda: not self.line.state.activity.busy, self.options.transcript_wait_s)
        if vm is not None:
            vm.transcript = self._transcript()
            await self._store(vm)
        await self._log_ticket(vm)
        if not self.watch.ended:
            await self._end_call("voicemail")
        return vm

    # ---- speaking, the beep ------------------------------------------------------------------------
    async def _say(self, text: str, language: str) -> None:
        """Speak through the call's TTS and wait until heard (or cut, or the call ends)."""
        assert self.watch is not None
        await self.handle.say(text, language)
        await self._until(lambda: self.watch.played(text) or self.watch.ended, self.options.prompt_timeout_s)

    async def _beep(self) -> None:
        assert self.line is not None and self.watch is not None
        out = self.line.output
        turn = next(_TONE_TURNS)
        frame = OutputAudioRawFrame(audio=tone(out.sample_rate, self.options.tone_hz, self.options.tone_ms),
                                    sample_rate=out.sample_rate, num_channels=1)
        frame.metadata["turn_id"] = turn
        await out.queue_frame(frame, FrameDirection.DOWNSTREAM)
        await out.queue_frame(BotSentenceAudioFrame(text="", turn_id=turn, last=True), FrameDirection.DOWNSTREAM)
        await self._until(lambda: turn in self.watch.stopped or self.watch.ended, self.options.prompt_timeout_s)

    async def _until(self, done: Callable[[], bool], timeout_s: float | None) -> bool:
        """Wait on the call's events until ``done()``; False after ``timeout_s`` of call-clock time."""
        assert self.line is not None and self.watch is not None
        clock = self.line.state.clock
        sleeper = asyncio.ensure_future(clock.sleep_until(clock.now() + timeout_s)) if timeout_s is not None else None
        try:
            while not done():
                self.watch.changed.clear()
                waiter = asyncio.ensure_future(self.watch.changed.wait())
                waits = {waiter} | ({sleeper} if sleeper is not None else set())
                finished, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if sleeper is not None and sleeper in finished:
                    return done()
            return True
        finally:
            if sleeper is not None:
                sleeper.cancel()

    # ---- recording ----------------------------------------------------------------------------------
    async def _record(self) -> None:
        assert self.line is not None and self.watch is not None
        records = self.service._records()
        rec_dir = self.service.recordings_dir()
        if records is None or rec_dir is None:  # checked before; records were closed since
            self.reason = "records_off"
            return
        state = self.line.state
        self.started_at = self.service.now()
        self.start_ms = state.audio_ms
        self._path = _path(rec_dir, self.call_id, self.started_at)
        self._file = VoicemailFile(records.writer, self._path, self.options.sample_rate, self.call_id)
        self.capture = MessageCapture(self.options, PIPELINE_RATE)
        self._prev_outcome, state.outcome = state.outcome, "voicemail"
        state.emit("action", action="voicemail", reason="recording", language=self.ticket.language)
        self.watch.listening_for_hash = True
        self.line.input.audio_taps.append(self._tap)
        log.info("voicemail recording", extra={"call_id": self.call_id, "language": self.ticket.language})
        # the audio ends it (silence, max length); so do '#' and hang-up; the clock guards a line gone quiet
        await self._until(lambda: self.capture.ended is not None or self.watch.hash_pressed or self.watch.ended,
                          self.options.max_s + self.options.end_silence_s + 5)
        self._untap()
        self.reason = ("hangup" if self.watch.ended else "hash" if self.watch.hash_pressed
                       else self.capture.ended or "max_length")  # fmt: skip
        if not self.capture.has_speech:
            state.outcome = self._prev_outcome  # no message: the call's outcome is what it was
        state.emit("action", action="voicemail", reason=self.reason, duration_s=round(self.capture.duration_s, 2),
                   message=self.capture.has_speech)
        await self._finish_file()

    def _tap(self, pcm16k: bytes) -> None:
        """``CallInput.audio_taps`` hook (on the loop, every 20 ms): the message's audio."""
        cap = self.capture
        if cap is None or cap.ended is not None or self.reason is not None:
            return
        take = cap.feed(pcm16k)
        if take and self._file is not None:
            self._file.write(take)
        if cap.ended is not None and self.watch is not None:
            self.watch.changed.set()

    def _untap(self) -> None:
        if self.line is not None and self._tap in self.line.input.audio_taps:
            self.line.input.audio_taps.remove(self._tap)

    async def _finish_file(self) -> None:
        if self._file is not None:
            await self._file.finish(keep=self.capture is not None and self.capture.has_speech)

    # ---- storing ----------------------------------------------------------------------------------
    def _row(self) -> Voicemail:
        assert self.capture is not None and self._path is not None
        ctx = self.line.state.ctx if self.line is not None else None
        summary = self.ticket.context.summary or self.ticket.context.reason
        return Voicemail(call_id=self.call_id, created_at=self.started_at, duration_s=round(self.capture.duration_s, 2),
                         path=str(self._path), sample_rate=self.options.sample_rate, language=self.ticket.language,
                         caller=self.handle.caller_number or (ctx.customer_id if ctx else None), channel=self.ticket.channel,
                         queue=self.ticket.queue, summary=str(summary) if summary else None, end_reason=self.reason)  # fmt: skip

    def _transcript(self) -> str | None:
        w = self.watch
        if w is None:
            return None
        turns = sorted(t for t, start in w.turn_start.items() if start >= self.start_ms - 500 and t in w.transcripts)
        text = " ".join(w.transcripts[t] for t in turns).strip()
        records = self.service._records()
        redaction = getattr(getattr(records, "options", None), "redaction", None)
        return Redactor(redaction).text(text) if text else None

    async def _store(self, vm: Voicemail) -> None:
        records = self.service._records()
        if records is None:
            log.error("voicemail recorded but the record store is closed: the WAV is kept without its entry",
                      extra={"call_id": self.call_id, "path": vm.path})
            return
        await asyncio.wrap_future(records.writer.submit(records.store.add_voicemail, vm, call_id=self.call_id))
        log.info("voicemail stored", extra={"call_id": self.call_id, "duration_s": vm.duration_s, "end_reason": vm.end_reason,
                                            "language": vm.language})

    async def _log_ticket(self, vm: Voicemail | None) -> None:
        t = await self.handoff_state.get_ticket(self.call_id) or self.ticket
        t.log("voicemail_recorded" if vm else "voicemail_empty", end_reason=self.reason,
              duration_s=vm.duration_s if vm else None)
        await self.handoff_state.put_ticket(t)
        if vm is not None:  # desks refresh their voicemail list (agent_id None: every desk's socket gets it)
            await self.handoff_state.publish({"type": "voicemail", "call_id": self.call_id, "agent_id": None,
                                              "language": vm.language, "state": "new"})

    async def _end_call(self, reason: str) -> None:
        """Hang up through the channel's handle; stop the pipeline too if the handle only closed the line."""
        assert self.line is not None and self.watch is not None
        state = self.line.state
        if state.ended:
            return
        state.end_reason = state.end_reason or reason
        await self.handle.end(reason)
        if not await self._until(lambda: self.watch.ended or state.ended, 0.5):
            log.warning("the channel's hand-off handle closed the line but did not stop the call; stopping it",
                        extra={"call_id": self.call_id, "handle": type(self.handle).__name__})
            await self.line.output.push_frame(EndWorkerFrame(reason=reason), FrameDirection.UPSTREAM)

    def _customer(self) -> str | None:
        line = self.line or line_for(self.handle)
        return line.state.ctx.customer_id if line is not None else None


def _path(root: Path, call_id: str, started_at: float) -> Path:
    from voicebot.records.recorder import recording_path

    return recording_path(root, call_id, started_at)
