"""Retention: delete calls older than a number of days, with their recording files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from voicebot.logs import get_logger
from voicebot.records.store import RecordStore

log = get_logger(__name__)


@dataclass
class RetentionReport:
    deleted_calls: list[str] = field(default_factory=list)
    deleted_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)  # already gone (deleted by hand)


def apply_retention(store: RecordStore, days: float, now: float | None = None) -> RetentionReport:
    """Delete every call that started more than ``days`` days ago, and its recording.

    Files go first, then rows: a crash in between leaves rows pointing at missing files
    (harmless, cleaned by the next run) rather than untracked recordings nobody can find.
    ``days <= 0`` keeps everything (retention off).
    """
    report = RetentionReport()
    if days <= 0:
        return report
    cutoff = (now if now is not None else time.time()) - days * 86400.0
    ids = store.calls_started_before(cutoff)
    for call_id in ids:
        rec = store.recording(call_id)
        if rec is not None:
            path = Path(rec.path)
            try:
                path.unlink()
                report.deleted_files.append(str(path))
                _remove_empty_parents(path, levels=3)
            except FileNotFoundError:
                report.missing_files.append(str(path))
            except OSError as exc:
                log.error("cannot delete an expired recording: %s; the call is kept until it can be", exc,
                          extra={"call_id": call_id, "path": str(path)})  # fmt: skip
                continue
        report.deleted_calls.append(call_id)
    store.delete_calls(report.deleted_calls)
    if report.deleted_calls:
        log.info("retention deleted old calls", extra={"calls": len(report.deleted_calls), "files": len(report.deleted_files), "days": days})
    return report


def _remove_empty_parents(path: Path, levels: int) -> None:
    """Remove the day/month/year folders a deleted recording leaves empty."""
    parent = path.parent
    for _ in range(levels):
        try:
            parent.rmdir()  # fails (and stops) when the folder is not empty
        except OSError:
            return
        parent = parent.parent
