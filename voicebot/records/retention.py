"""Retention: delete calls older than a number of days, with their recording and voicemail files."""

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
    deleted_voicemails: list[str] = field(default_factory=list)  # call ids whose voicemail went
    missing_files: list[str] = field(default_factory=list)  # already gone (deleted by hand)


def apply_retention(store: RecordStore, days: float, now: float | None = None) -> RetentionReport:
    """Delete every call that started more than ``days`` days ago, its recording and its voicemail
    (and any voicemail left more than ``days`` ago, even if its call record is gone).

    Files go first, then rows: a crash in between leaves rows pointing at missing files
    (harmless, cleaned by the next run) rather than untracked recordings nobody can find.
    ``days <= 0`` keeps everything (retention off).
    """
    report = RetentionReport()
    if days <= 0:
        return report
    cutoff = (now if now is not None else time.time()) - days * 86400.0
    ids = store.calls_started_before(cutoff)
    voicemails = {vm.call_id: vm for vm in store.voicemails_before(cutoff)}
    for call_id in ids:
        vm = voicemails.pop(call_id, None) or store.get_voicemail(call_id)
        rec = store.recording(call_id)
        paths = [Path(r.path) for r in (rec, vm) if r is not None]
        if not all(_unlink(p, report, call_id) for p in paths):
            continue  # the call is kept until its files can be deleted
        if vm is not None:
            report.deleted_voicemails.append(call_id)
        report.deleted_calls.append(call_id)
    for call_id, vm in voicemails.items():  # old voicemails whose call is newer or has no record
        if _unlink(Path(vm.path), report, call_id):
            report.deleted_voicemails.append(call_id)
    store.delete_calls(report.deleted_calls)
    store.delete_voicemails([c for c in report.deleted_voicemails if c not in report.deleted_calls])
    if report.deleted_calls or report.deleted_voicemails:
        log.info("retention deleted old calls", extra={"calls": len(report.deleted_calls), "voicemails": len(report.deleted_voicemails),
                                                       "files": len(report.deleted_files), "days": days})
    return report


def _unlink(path: Path, report: RetentionReport, call_id: str) -> bool:
    """Delete one expired file; False (logged) when it exists but cannot be deleted."""
    try:
        path.unlink()
        report.deleted_files.append(str(path))
        _remove_empty_parents(path, levels=3)
    except FileNotFoundError:
        report.missing_files.append(str(path))
    except OSError as exc:
        log.error("cannot delete an expired recording: %s; fix the file's permissions, it is retried on the next run", exc,
                  extra={"call_id": call_id, "path": str(path)})  # fmt: skip
        return False
    return True


def _remove_empty_parents(path: Path, levels: int) -> None:
    """Remove the day/month/year folders a deleted recording leaves empty."""
    parent = path.parent
    for _ in range(levels):
        try:
            parent.rmdir()  # fails (and stops) when the folder is not empty
        except OSError:
            return
        parent = parent.parent
