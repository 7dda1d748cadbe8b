"""A call: one pipecat pipeline built from the spec, fed by one channel's transport."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from voicebot.channels.base import PIPELINE_RATE, CallTransport
from voicebot.clock import Clock, RealClock
from voicebot.core import CallContext
from voicebot.events import CallEvent
from voicebot.logs import get_logger
from voicebot.pipeline.build import build_pipeline
from voicebot.pipeline.spec import PipelineSpec
from voicebot.pipeline.state import CallState
from voicebot.runtime import Runtime

log = get_logger(__name__)

TransportFactory = Callable[[CallState], CallTransport]


def new_call_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class CallResult:
    call_id: str
    events: list[CallEvent]
    outcome: str
    end_reason: str
    dev_models: list[str] = field(default_factory=list)


class CallSession:
    """Build and run one call. ``await run()`` returns when the call has ended, whatever the cause."""

    def __init__(self, runtime: Runtime, ctx: CallContext, make_transport: TransportFactory, *, spec: PipelineSpec | None = None,
                 clock: Clock | None = None, transcriber=None) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self.spec = spec or runtime.spec()
        self._make_transport = make_transport
        self._clock = clock
        self._transcriber = transcriber
        self.state: CallState | None = None
        self.transport: CallTransport | None = None
        self._worker: PipelineWorker | None = None
        self._sinks: list[Callable[[CallEvent], None]] = []
        self.started = asyncio.Event()  # the pipeline is up: the channel may feed audio
        self._end_requested = False

    def subscribe(self, sink: Callable[[CallEvent], None]) -> None:
        """Receive every call event as it happens (the call recorder, metrics, a test)."""
        self._sinks.append(sink)
        if self.state is not None:
            self.state.events.subscribe(sink)

    def prepare(self) -> CallState:
        """Create the call's state and transport (a channel may need them before ``run``)."""
        if self.state is None:
            self.state = CallState(ctx=self.ctx, clock=self._clock or RealClock(), language=self.ctx.language)
            for sink in self._sinks:
                self.state.events.subscribe(sink)
            self.transport = self._make_transport(self.state)
        return self.state

    async def run(self) -> CallResult:
        records = getattr(self.runtime, "records", None)
        recorder = records.attach(self) if records is not None else None  # every channel's calls are recorded
        state = self.prepare()
        assert self.transport is not None
        announced = False

        def announce() -> None:
            nonlocal announced
            if not announced:
                announced = True
                state.emit("call_start", t_ms=0.0, call_id=self.ctx.call_id, channel=self.ctx.channel, caller=self.ctx.caller_number,
                           pipeline=self.spec.name, dev_models=sorted(self.runtime.dev_models) or state.dev_models, wall_time=time.time())

        try:
            # Shared models load once per process; the first call must not load them on the loop.
            await asyncio.to_thread(self.runtime.warm_up, self.spec, self._transcriber is None)
            session = self.runtime.dialogue(self.spec).new_session(self.ctx)
            pipeline = build_pipeline(self.runtime, self.spec, state, self.transport, session, self._transcriber)
            self._worker = PipelineWorker(
                pipeline, params=PipelineParams(audio_in_sample_rate=PIPELINE_RATE, audio_out_sample_rate=self.transport.output().sample_rate),
                idle_timeout_secs=None, cancel_on_idle_timeout=False, enable_rtvi=False, enable_turn_tracking=False,
            )

            @self._worker.event_handler("on_pipeline_started")
            async def _started(_worker, _frame) -> None:
                self.started.set()

            announce()
            if not self._end_requested:  # the far end may have left while the call was being set up
                runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
                await runner.add_workers(self._worker)
                await runner.run()
        except Exception as exc:  # setup or the pipeline failed: the record must still say so
            announce()
            log.exception("call failed", extra={"call_id": self.ctx.call_id})
            state.emit("error", where="pipeline", message=f"{type(exc).__name__}: {exc}")
            state.end_reason = state.end_reason or "error"
            state.outcome = "error"
        finally:
            announce()
            state.ended = True
            self.started.set()  # nobody waits forever on a call that will not start
            outcome = state.outcome or ("abandoned" if state.end_reason in ("caller_hung_up", "far_end_gone") else "ended")
            state.outcome = outcome
            state.emit("call_end", reason=state.end_reason or "ended", outcome=outcome)
            log.info("call ended", extra={"call_id": self.ctx.call_id, "reason": state.end_reason, "outcome": outcome})
            if recorder is not None:
                try:
                    await recorder.aclose()
                except Exception:  # the store is down: the events are in the log; say so loudly
                    log.exception("call record could not be closed", extra={"call_id": self.ctx.call_id})
        return self._result(state)

    def _result(self, state: CallState) -> CallResult:
        return CallResult(self.ctx.call_id, list(state.events.events), state.outcome or "ended", state.end_reason, sorted(set(state.dev_models)))

    async def end(self, reason: str = "ended") -> None:
        """End the call from outside (the far end hung up; the server is shutting down)."""
        self._end_requested = True
        if self.state and not self.state.end_reason:
            self.state.end_reason = reason
        if self._worker is not None:
            await self._worker.cancel(reason=reason)
