"""Child process of the disk tests, run in a private mount namespace (``unshare -rm``) on a tmpfs.

``python -m tests.records.disk_full_child full DIR`` records a call while DIR fills up, then
frees space; ``... readonly DIR`` opens the records with DIR read-only. Prints one JSON report.
Nothing is mocked: the disk really is full (ENOSPC) or read-only (EROFS).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import wave
from pathlib import Path
from types import SimpleNamespace

from voicebot.config import StoreSettings
from voicebot.core import CallContext
from voicebot.records.service import Records

from .sim import SimCall, run_support_call


def fill(path: Path, leave: int) -> None:
    """Write ``path`` until the disk is full, then give back ``leave`` bytes."""
    with open(path, "wb") as f:
        chunk = b"\0" * 65536
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    size = path.stat().st_size
    os.truncate(path, max(0, size - leave))


def wav_seconds(path: str | None) -> float | None:
    if not path or not Path(path).exists():
        return None
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


async def main(mode: str, root: Path) -> dict:
    logs: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append(f"{record.levelname} {record.getMessage()}")

    logging.getLogger().addHandler(Keep())
    logging.getLogger().setLevel(logging.INFO)
    db = root.parent / "db" if mode == "readonly" else root
    settings = SimpleNamespace(store_url=f"sqlite:///{db / 'voicebot.sqlite3'}", home=db,
                               store=StoreSettings(recordings_dir=root / "recordings"))
    records = Records.open(settings)
    report: dict = {"health_at_start": records.health(), "warnings_at_start": [x for x in logs if x.startswith("WARNING")]}
    if mode == "full":
        fill(root / "filler", leave=256 * 1024)
    rec = records.recorder(CallContext(call_id="disk-1", channel="sip", caller_number="+34612345678"))
    sim = SimCall(rec, channel="sip")
    run_support_call(sim)
    await rec.aclose()
    call = records.store.get_call("disk-1") if mode == "readonly" else None
    report.update({
        "call_seconds": sim.t_ms / 1000, "errors_logged": sum(x.startswith("ERROR") for x in logs),
        "errors": [x[:160] for x in logs if x.startswith("ERROR")][:40],
        "health_during": records.health(), "deferred": records.writer.deferred,
        "ended_at_during": call.ended_at if call else None,
    })
    if mode == "full":
        (root / "filler").unlink()  # the operator frees space
        report["retried"] = await records.retry_deferred()
        call = records.store.get_call("disk-1")
        rec_row = records.store.recording("disk-1")
        report.update({"ended_at_after": call.ended_at if call else None, "outcome_after": call.outcome if call else None,
                       "turns_after": len(records.store.turns("disk-1")), "wav_seconds": wav_seconds(rec_row.path if rec_row else None),
                       "wav_path": rec_row.path if rec_row else None})
        records._probe = (float("-inf"), None)  # re-probe now, not in 10 s
        report["health_after"] = records.health()
    else:
        report.update({"ended_at_after": call.ended_at if call else None, "turns_after": len(records.store.turns("disk-1")),
                       "recording": records.store.recording("disk-1") is not None})
    records.close()
    return report


if __name__ == "__main__":
    print("REPORT " + json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2])))), flush=True)
