"""A full or read-only disk never loses a call record silently, and /health says so.

Each case runs in a child process inside its own mount namespace on a small tmpfs (a real
ENOSPC / EROFS, nothing mocked; the mounts vanish with the child).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_child(mode: str, tmp_path: Path) -> dict:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount a private tmpfs")
    mnt = tmp_path / "disk"
    (tmp_path / "db").mkdir()
    mnt.mkdir()
    remount = f"mount -o remount,ro '{mnt}' && " if mode == "readonly" else ""
    script = (f"mount -t tmpfs -o size=4m tmpfs '{mnt}' && mkdir -p '{mnt}/recordings' && {remount}"
              f"exec '{sys.executable}' -m tests.records.disk_full_child {mode} '{mnt}'")
    res = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if res.returncode and "Operation not permitted" in res.stderr and "mount" in res.stderr:
        pytest.skip(f"no mount namespace here: {res.stderr.strip()[:200]}")
    line = next((x for x in res.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, res.stderr[-3000:]
    return json.loads(line[len("REPORT "):])


def test_disk_full_mid_call_keeps_the_call_closes_its_row_and_health_says_so(tmp_path: Path) -> None:
    r = run_child("full", tmp_path)
    assert r["health_at_start"] is None
    assert r["call_seconds"] > 15
    assert r["health_during"] and ("not writable" in r["health_during"] or "failing" in r["health_during"]
                                   or "could not be closed" in r["health_during"]), r
    assert r["errors_logged"] < 20  # one line per failure kind, not one per 20 ms of audio
    assert r["ended_at_after"] is not None and r["outcome_after"] == "handed_off"  # the row is closed with its real outcome
    assert r["deferred"] == ["disk-1"]  # the store really refused the close while full
    assert r["turns_after"] == 4  # the turns a full disk refused are written with the close
    assert r["wav_seconds"] is not None and 1.0 < r["wav_seconds"] < r["call_seconds"]  # a playable WAV up to the full disk
    assert r["health_after"] is None  # space freed, the close retried: healthy again


def test_read_only_recordings_folder_warns_at_start_degrades_health_and_keeps_transcripts(tmp_path: Path) -> None:
    r = run_child("readonly", tmp_path)
    assert r["health_at_start"] and "not writable" in r["health_at_start"]
    assert any("not writable" in w for w in r["warnings_at_start"])
    assert r["health_during"] and "not writable" in r["health_during"]
    assert r["ended_at_after"] is not None and r["turns_after"] >= 3 and r["recording"] is False
    assert r["errors_logged"] <= 2
