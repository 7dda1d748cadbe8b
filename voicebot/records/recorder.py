"""The per-call recorder: a ``CallEvent`` sink that writes the call record as the call goes.

Create one per call with the process-wide store and writer and subscribe it to the call's
event log::

    recorder = CallRecorder(store, ctx, options, writer=runtime.record_writer)
    events.subscribe(recorder)            # call_start writes the call row
    recorder.add_audio(caller_pcm, None)  # from the input, 16-bit mono at options.sample_rate
    recorder.add_audio(None, bot_pcm)     # from the output, as it is played
    await recorder.aclose()               # at the end (outcome inferred unless given)

Nothing here blocks the event loop: every store write and every recording write is handed to
the :class:`~voicebot.records.writer.StoreWriter` thread, in order. Each turn is stored as
soon as any part of it is known, so a process killed mid-call keeps everything said so far;
:func:`recover_interrupted` (at start-up) marks such calls ``interrupted`` and repairs their
recordings.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.core import CallContext
from voicebot.events import CallEvent
from voicebot.logs import get_logger
from voicebot.records.model import ActionRecord, CallRecord, Recording, TurnRecord
from voicebot.records.redact import RecordingPolicy, RedactionOptions, Redactor
from voicebot.records.store import RecordStore
from voicebot.records.turns import TurnAssembler
from voicebot.records.wav import IncrementalWav, StereoAligner, repair_wav
from voicebot.records.writer import StoreWriter

log = get_logger(__name__)

_CLOSING_INTENTS = {"goodbye", "thanks", "affirm"}
# call_end outcomes taken as given; any other (e.g. "abandoned" for every caller hang-up) is
# decided from the timeline by infer_outcome, which knows about transfers and goodbyes.
_FINAL_OUTCOMES = {"error", "interrupted", "handed_off", "voicemail"}  # voicemail: the caller left a message


@dataclass(frozen=True)
class RecorderOptions:
    """How calls are recorded. The defaults record audio nowhere (set ``recordings_dir``)."""

    recordings_dir: Path | None = None  # stereo WAVs go to DIR/YYYY/MM/DD/<call id>.wav
    sample_rate: int = 16000  # the rate add_audio expects (both sides)
    recording: RecordingPolicy = field(default_factory=RecordingPolicy)
    redaction: RedactionOptions = field(default_factory=RedactionOptions)
    instance: str | None = None  # this process's name in a fleet (see recover_interrupted)
    header_every_s: float = 1.0  # how stale a killed recording's header can be before repair
    clock: Callable[[], float] = time.time  # wall clock for started_at / ended_at


@dataclass
class _Resampler:
    rate: int
    stream: Any  # soxr.ResampleStream
    samples_in: int = 0
    samples_out: int = 0


def infer_outcome(turns: list[TurnRecord], actions: list[ActionRecord], end_reason: str | None, errors: int) -> str:
    """The outcome of a call that ended without one being given (pure).

    A transfer means handed off; an error end means error; the bot hanging up means resolved;
    a caller who never got an answer abandoned; a caller who hung up after being answered is
    counted resolved when the last thing they said closed the conversation (thanks, goodbye).
    """
    if any(a.kind == "transfer" for a in actions):
        return "handed_off"
    if end_reason == "error" or (errors and end_reason not in ("hangup", "completed", "caller_hung_up")):
        return "error"
    if any(a.kind == "hangup" for a in actions):
        return "resolved_by_bot"
    answered = [t for t in turns if (t.caller_text or t.caller_dtmf) and t.bot_text]
    if not answered:
        return "abandoned"
    return "resolved_by_bot" if answered[-1].intent in _CLOSING_INTENTS else "abandoned"


# Hand-off steps (``action`` events with ``action="handoff"``, see voicebot.handoff.bridge.note)
# after which the caller was with a person, or was still waiting for one.
_REACHED = {"accepted", "bridged"}
_WAITING = {"queued", "offered", "offer_timeout", "left_queue"}


def handoff_outcome(outcome: str, reason: str | None, turns: list[TurnRecord], actions: list[ActionRecord],
                    errors: int) -> tuple[str, str | None]:
    """The outcome of a call handed to people, from what the hand-off did (pure).

    The channel says ``handed_off`` as soon as the dialogue transfers; the hand-off's steps say
    what followed: an agent took the call (handed off), the caller hung up while still waiting
    (``abandoned``, reason ``left_queue``), a callback was promised (handed off), or nobody
    could take it and the bot went on (the outcome of the rest of the call)."""
    steps = [a for a in actions if a.kind == "handoff"]
    if outcome != "handed_off" or not steps or any(a.name in _REACHED for a in steps):
        return outcome, reason
    last = steps[-1]
    if last.name in _WAITING:
        return "abandoned", "left_queue"
    if last.name == "no_agent" and last.data.get("instead") == "callback":
        return outcome, reason
    rest = [a for a in actions if a.kind != "transfer"]  # the transfer found nobody: judge the call by the rest
    return infer_outcome(turns, rest, reason, errors), reason


def recording_path(root: Path, call_id: str, started_at: float) -> Path:
    day = datetime.fromtimestamp(started_at, tz=UTC)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:120] or "call"
    return root / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{safe}.wav"


class CallRecorder:
    """Writes one call's record. Use it as an ``EventSink`` (it is callable)."""

    def __init__(self, store: RecordStore, ctx: CallContext, options: RecorderOptions | None = None,
                 writer: StoreWriter | None = None) -> None:  # fmt: skip
        self.store = store
        self.ctx = ctx
        self.options = options or RecorderOptions()
        self._own_writer = writer is None
        self.writer = writer or StoreWriter(name=f"records-{ctx.call_id}")
        self.redactor = Redactor(self.options.redaction)
        self.turns = TurnAssembler(ctx.call_id)
        self.actions: list[ActionRecord] = []
        self.started_at = self.options.clock()
        self._seq = 0
        self._last_t_ms = 0.0
        self._opened = False
        self._closed = False
        self._errors = 0
        self._end_reason: str | None = None
        self._end_outcome: str | None = None
        self._language: str | None = ctx.language
        self._record_audio = self.options.recordings_dir is not None and self.options.recording.allows(ctx)
        self._aligner = StereoAligner(self.options.sample_rate)
        self._wav: IncrementalWav | None = None
        self._resamplers: dict[str, _Resampler] = {}
        self.recording_path: Path | None = (
            recording_path(self.options.recordings_dir, ctx.call_id, self.started_at) if self._record_audio and self.options.recordings_dir else None
        )

    @property
    def call_id(self) -> str:
        return self.ctx.call_id

    # -- events -----------------------------------------------------------------------------
    def __call__(self, ev: CallEvent) -> None:
        self.on_event(ev)

    def on_event(self, ev: CallEvent) -> None:
        """Record one event (called on the event loop; returns at once)."""
        if self._closed:
            log.warning("event after the call record was closed", extra={"call_id": self.call_id, "kind": ev.kind})
            return
        if not self._opened:
            self._open(ev.data if ev.kind == "call_start" else {})
        self._last_t_ms = max(self._last_t_ms, ev.t_ms)
        stored = CallEvent(t_ms=ev.t_ms, kind=ev.kind, data=self.redactor.value(dict(ev.data)))
        self._seq += 1
        self._submit(self.store.add_events, self.call_id, [(self._seq, stored)])
        for turn in self.turns.feed(stored):
            self._save_turn(turn)
        if ev.kind == "action":
            self._on_action(stored)
        elif ev.kind == "error":
            self._errors += 1
        elif ev.kind == "call_end":
            self._end_reason = stored.data.get("reason") or self._end_reason
            if stored.data.get("outcome") in _FINAL_OUTCOMES:
                self._end_outcome = stored.data["outcome"]
        if self.turns.language and self.turns.language != self._language:
            self._language = self.turns.language
            self._submit(self.store.update_call, self.call_id, language=self._language)

    def _open(self, data: dict[str, Any]) -> None:
        self._opened = True
        if isinstance(data.get("wall_time"), (int, float)):
            self.started_at = float(data["wall_time"])  # the call's own start, stamped by the call
        ctx = self.ctx
        caller = data.get("caller") or ctx.caller_number
        call = CallRecord(
            id=self.call_id, channel=str(data.get("channel") or ctx.channel), started_at=self.started_at,
            caller=self.redactor.caller_identity(caller) if caller else ctx.customer_id, language=ctx.language,
            dev_models=bool(data.get("dev_models", False)), pipeline=data.get("pipeline"), instance=self.options.instance,
        )  # fmt: skip
        self._submit(self.store.create_call, call)
        if self.recording_path is not None:
            self._submit(self._open_wav, self.recording_path)
        log.info("call record opened", extra={"call_id": self.call_id, "channel": call.channel, "recording": bool(self.recording_path)})

    def _on_action(self, ev: CallEvent) -> None:
        d = dict(ev.data)
        d.pop("action", None)
        kind = str(ev.action or "note")
        name = str(d.pop("reason", None) or d.pop("name", None) or kind)
        nested = d.pop("data", None)  # Note actions carry their own data dict
        if isinstance(nested, dict):
            d = {**d, **nested}
        cur = self.turns.current
        action = ActionRecord(call_id=self.call_id, seq=self._seq, t_ms=ev.t_ms, kind=kind, name=name,
                              turn_index=cur.index if cur else None, data=d)  # fmt: skip
        self.actions.append(action)
        self._submit(self.store.add_action, action)
        if kind == "transfer":
            self._submit(self.store.update_call, self.call_id, handoff_reason=name)

    def _save_turn(self, turn: TurnRecord) -> None:
        turn.caller_text = self.redactor.text(turn.caller_text)
        turn.caller_dtmf = self.redactor.text(turn.caller_dtmf) or ""
        self._submit(self.store.save_turn, turn)

    # -- audio ------------------------------------------------------------------------------
    def add_audio(self, caller: bytes | None, bot: bytes | None, caller_rate: int | None = None, bot_rate: int | None = None) -> None:
        """Append time-aligned 16-bit mono PCM (either side may be None).

        Call it with each chunk of caller audio as it arrives and each chunk of bot audio as it
        is played; silence the channel delivers counts (the caller side is the recording's
        clock). Rates default to ``options.sample_rate``; other rates are resampled.
        """
        if not self._record_audio or self._closed or not (caller or bot):
            return
        if not self._opened:
            self._open({})
        self._submit(self._write_audio, bytes(caller) if caller else None, caller_rate, bytes(bot) if bot else None, bot_rate)

    def caller_tap(self, pcm: bytes) -> None:
        """``CallInput.audio_taps`` hook: caller audio at the pipeline rate (16 kHz)."""
        self.add_audio(pcm, None)

    def bot_tap(self, pcm: bytes, sample_rate: int) -> None:
        """``CallOutput.audio_taps`` hook: bot audio as played, at the channel's rate."""
        self.add_audio(None, pcm, bot_rate=sample_rate)

    def _open_wav(self, path: Path) -> None:
        try:
            self._wav = IncrementalWav(path, self.options.sample_rate, channels=2, header_every_s=self.options.header_every_s)
        except OSError as exc:
            self._audio_failed(exc, "cannot create the recording")
            return
        self.store.set_recording(Recording(call_id=self.call_id, path=str(path), sample_rate=self.options.sample_rate))

    def _write_audio(self, caller: bytes | None, caller_rate: int | None, bot: bytes | None, bot_rate: int | None) -> None:
        # runs on the writer thread
        if self._wav is not None:
            frames = self._aligner.feed(self._resampled("caller", caller, caller_rate), self._resampled("bot", bot, bot_rate))
            try:
                self._wav.write(frames)
            except OSError as exc:
                self._audio_failed(exc, "recording stopped")

    def _audio_failed(self, exc: OSError, what: str) -> None:
        """Disk full or read-only (writer thread): the call and its transcript go on, its audio stops here.

        Logged once per call, not every 20 ms; what was written stays a playable WAV."""
        self._record_audio = False
        self.writer.note_failure(exc, f"{what} ({self.recording_path})")
        log.error(f"{what}; the call goes on without audio: {exc}", extra={"call_id": self.call_id, "path": str(self.recording_path)})
        if self._wav is not None:
            wav, self._wav = self._wav, None
            try:
                wav.close()  # rewrites the header in place: no new disk blocks needed
            except OSError as close_exc:
                log.warning("recording header not updated; it is repaired on read", extra={"call_id": self.call_id, "error": str(close_exc)})

    def _resampled(self, side: str, pcm: bytes | None, rate: int | None) -> bytes | None:
        if not pcm or not rate or rate == self.options.sample_rate:
            return pcm
        stream = self._resamplers.get(side)
        if stream is None or stream.rate != rate:
            import soxr  # pipecat's resampler library; a stateful stream keeps chunk edges clean

            # "QQ" (cubic): output follows input chunk by chunk. The HQ/MQ filters release audio
            # in ~100 ms bursts, which would shift the bot's channel late in the recording.
            stream = _Resampler(rate, soxr.ResampleStream(rate, self.options.sample_rate, 1, dtype="int16", quality="QQ"))
            self._resamplers[side] = stream
        stream.samples_in += len(pcm) // 2
        out = stream.stream.resample_chunk(np.frombuffer(pcm, dtype=np.int16))
        stream.samples_out += len(out)
        return out.tobytes()

    def _resampler_tail(self, side: str) -> bytes | None:
        """What a side's resampler still owes at the end, no more (its flush pads past the input)."""
        st = self._resamplers.get(side)
        if st is None:
            return None
        owed = round(st.samples_in * self.options.sample_rate / st.rate) - st.samples_out
        tail = st.stream.resample_chunk(np.zeros(0, np.int16), last=True)[: max(0, owed)]
        return tail.tobytes()

    def _close_wav(self) -> None:  # writer thread
        if self._wav is not None:
            try:
                self._wav.write(self._aligner.feed(self._resampler_tail("caller"), self._resampler_tail("bot")))
                self._wav.write(self._aligner.flush())
            except OSError as exc:
                self._audio_failed(exc, "recording stopped")
                return
            self._wav.close()

    # -- end --------------------------------------------------------------------------------
    def close(self, outcome: str | None = None, reason: str | None = None) -> None:
        """End the record (returns at once; ``aclose`` also waits until it is written)."""
        if self._closed:
            return
        if not self._opened:
            self._open({})
        self._closed = True
        for turn in self.turns.finish():
            self._save_turn(turn)
        reason = reason or self._end_reason
        final = outcome or self._end_outcome or infer_outcome(self.turns.turns, self.actions, reason, self._errors)
        if outcome is None:
            final, reason = handoff_outcome(final, reason, self.turns.turns, self.actions, self._errors)
        self._submit(self._close_wav)
        # the call lasted at least as long as its audio timeline (also right under a frozen test clock)
        ended_at = max(self.options.clock(), self.started_at + self._last_t_ms / 1000.0)
        self._submit(self._end_call, ended_at, final, reason)
        log.info("call record closed", extra={"call_id": self.call_id, "outcome": final, "turns": len(self.turns.turns)})

    def _end_call(self, ended_at: float, outcome: str, reason: str | None) -> None:
        """Close the call's row (writer thread). If the store cannot take it now (disk full), the
        close is kept and retried (``StoreWriter.run_deferred``): a row is never left open."""

        turns = list(self.turns.turns)  # (already redacted) written again: those a full disk refused come back too

        def end() -> None:
            for turn in turns:
                self.store.save_turn(turn)
            self.store.end_call(self.call_id, ended_at, outcome, reason)

        try:
            end()
        except Exception:
            self.writer.defer(self.call_id, end)
            raise

    async def aclose(self, outcome: str | None = None, reason: str | None = None) -> None:
        """``close`` and wait (without blocking the loop) until the record is in the store."""
        self.close(outcome, reason)
        await self.writer.aflush()
        if self._own_writer:
            self.writer.close()

    async def flush(self) -> None:
        """Wait until everything recorded so far is in the store (tests, hand-offs)."""
        await self.writer.aflush()

    def _submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            self.writer.submit(fn, *args, call_id=self.call_id, **kwargs)
        except RuntimeError as exc:  # the writer was shut down (process stopping): never break the call
            log.error("call record write dropped: %s", exc, extra={"call_id": self.call_id, "op": getattr(fn, "__name__", "")})


def recover_interrupted(store: RecordStore, instance: str | None = None, now: float | None = None) -> list[str]:
    """Mark calls left open by a dead process as ``interrupted``; repair their recordings.

    Run once at start-up, before taking calls. ``instance``: in a fleet sharing one database,
    only this process's calls (those recorded with the same ``RecorderOptions.instance``);
    None marks every open call, right for a single process. Returns the call ids marked.
    """
    marked = []
    for call in store.open_calls(instance):
        rec = store.recording(call.id)
        if rec is not None and Path(rec.path).exists():
            try:
                repair_wav(rec.path)
            except (OSError, ValueError) as exc:
                log.error("cannot repair the recording of an interrupted call: %s", exc, extra={"call_id": call.id, "path": rec.path})
        events = store.events(call.id)
        ended = call.started_at + events[-1].t_ms / 1000.0 if events else (now or time.time())
        store.end_call(call.id, ended, "interrupted", "process_died")
        marked.append(call.id)
        log.warning("call marked interrupted (its process died)", extra={"call_id": call.id, "turns": call.turn_count})
    return marked
