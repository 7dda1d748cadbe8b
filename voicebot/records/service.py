"""Call records for one bot process: open the store, recover, record each call, keep retention.

What ``voicebot serve`` does with it::

    records = Records.open(settings)        # opens the store, marks calls of a dead process interrupted
    runtime.store = records.store           # the QA pages (routes.make_router) read it
    result = await records.run_recorded(session)   # instead of session.run(): records the call
    asyncio.create_task(records.retention_loop())  # deletes expired calls once an hour
    records.close()                          # at shutdown, after the last call
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot.core import CallContext
from voicebot.logs import get_logger
from voicebot.records.recorder import CallRecorder, RecorderOptions, recover_interrupted
from voicebot.records.redact import RecordingPolicy, RedactionOptions
from voicebot.records.retention import apply_retention
from voicebot.records.store import RecordStore, open_store
from voicebot.records.writer import StoreWriter

log = get_logger(__name__)


def options_from_settings(settings: Any) -> RecorderOptions:
    """Recorder options from the typed ``Settings.store``."""
    st = settings.store
    rec_dir = st.recordings_dir or Path(settings.home) / "recordings"
    return RecorderOptions(
        recordings_dir=Path(rec_dir) if st.recordings else None,
        recording=RecordingPolicy(enabled=st.recordings, disabled_channels=tuple(st.recordings_disabled_channels),
                                  disabled_prefixes=tuple(st.recordings_disabled_prefixes)),
        redaction=RedactionOptions(enabled=st.redact),
        instance=st.instance or None,
    )  # fmt: skip


def recordings_problem(folder: Path | None) -> str | None:
    """None when recordings can be written to ``folder`` (a probe file is created and removed)."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        try:
            os.write(fd, b"\0" * 4096)  # a block: a full disk fails here, not only a read-only one
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return (f"recordings folder {folder} is not writable ({exc.strerror or exc}): calls are answered and their "
                "transcripts kept, but no audio is recorded; free disk space or fix the folder (store.recordings_dir)")
    return None


@dataclass
class Records:
    store: RecordStore
    writer: StoreWriter
    options: RecorderOptions
    retention_days: float = 90.0
    probe_every_s: float = 10.0  # how often /health re-probes the recordings folder
    _probe: tuple[float, str | None] = (float("-inf"), None)

    def health(self) -> str | None:
        """What /health reports for call records (``runtime.health_checks["records"]``); None when fine."""
        problems = []
        now = time.monotonic()
        if now - self._probe[0] >= self.probe_every_s:
            self._probe = (now, recordings_problem(self.options.recordings_dir))
        if self._probe[1]:
            problems.append(self._probe[1])
        pending = self.writer.deferred
        if pending:
            problems.append(f"{len(pending)} call record(s) could not be closed ({self.writer.last_error or 'store error'}); "
                            "retried every few seconds: free disk space or bring the store back")
        elif self.writer.last_error:
            problems.append(f"call record writes are failing: {self.writer.last_error}")
        return "; ".join(problems) or None

    async def retry_deferred(self) -> int:
        """Retry the record writes that failed (closing rows); how many went through now."""
        if not self.writer.deferred:
            return 0
        return await asyncio.wrap_future(self.writer.submit(self.writer.run_deferred))

    async def repair_loop(self, every_s: float = 5.0) -> None:
        """Retry failed closes every ``every_s`` seconds (started by ``voicebot serve``)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.retry_deferred()
            except Exception:  # noqa: BLE001 - a failing retry is reported by health(); keep trying
                log.exception("retrying call record writes failed")
    @classmethod
    def open(cls, settings: Any, recover: bool = True) -> Records:
        """Open the store named by the settings; with ``recover``, close calls a crash left open.

        In a fleet sharing PostgreSQL set ``store.instance`` per process (e.g. host:port) so a
        restarting process only closes its own calls.
        """
        url = settings.store_url
        store = open_store(url)
        options = options_from_settings(settings)
        if recover:
            marked = recover_interrupted(store, options.instance)
            if marked:
                log.warning("calls left open by a previous run marked interrupted", extra={"calls": len(marked)})
        log.info("call records open", extra={"store": store.dialect, "recordings": str(options.recordings_dir or "off"),
                                             "host": socket.gethostname()})  # fmt: skip
        problem = recordings_problem(options.recordings_dir)
        if problem:  # said at start, not discovered call by call
            log.warning(problem, extra={"path": str(options.recordings_dir)})
        records = cls(store=store, writer=StoreWriter(), options=options, retention_days=float(settings.store.retention_days))
        records._probe = (time.monotonic(), problem)
        return records

    def recorder(self, ctx: CallContext) -> CallRecorder:
        return CallRecorder(self.store, ctx, self.options, writer=self.writer)

    def attach(self, session: Any) -> CallRecorder:
        """Record a ``CallSession``: events, and both audio directions through the transport's taps.

        Once per session: a second call returns the same recorder (two would write every event twice)."""
        existing = getattr(session, "_call_recorder", None)
        if existing is not None:
            return existing
        rec = self.recorder(session.ctx)
        session._call_recorder = rec
        session.subscribe(rec)
        session.prepare()
        transport = session.transport
        transport.input().audio_taps.append(rec.caller_tap)
        transport.output().audio_taps.append(rec.bot_tap)
        return rec

    async def run_recorded(self, session: Any) -> Any:
        """``session.run()`` with the call recorded; the record is closed whatever happens."""
        rec = self.attach(session)
        try:
            return await session.run()
        finally:
            await rec.aclose()

    async def retention_loop(self, every_s: float = 3600.0) -> None:
        """Apply retention now and then every ``every_s`` seconds (in a thread: it touches disk)."""
        while True:
            try:
                await asyncio.to_thread(apply_retention, self.store, self.retention_days)
            except Exception:  # noqa: BLE001 - retention failing must not stop the bot; it retries
                log.exception("retention run failed; will retry")
            await asyncio.sleep(every_s)

    def close(self) -> None:
        self.writer.close()
        self.store.close()
