"""One model folder: its metadata file (``voicebot-model.json``) and the checksums of its files.

The bottom of :mod:`voicebot.models`: the registry (what is installed, how to fix it) and the
installers (:mod:`.pull`, :mod:`.pypi`) all read and write folders through this module, so it
imports none of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    kind: str
    engine: str
    dev: bool
    meta: dict[str, Any] = field(default_factory=dict)


def read_model(path: Path) -> ModelInfo | None:
    meta_path = path / "voicebot-model.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("unreadable model metadata; rebuild or re-pull it", extra={"path": str(meta_path), "error": str(exc)})
        return None
    return ModelInfo(name=path.name, path=path, kind=meta.get("kind", "?"), engine=meta.get("engine", "?"), dev=bool(meta.get("dev")), meta=meta)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(info: ModelInfo) -> list[str]:
    """Problems with a model folder's files against the checksums in its metadata (empty: intact).

    A model whose weights were damaged (a truncated copy, a bad disk) may still load and then
    transcribe everything as "!!!!"; the checksum is the only reliable check.
    """
    files = info.meta.get("files")
    if not files:
        return [f"{info.name}: no checksums recorded (installed by an older version); reinstall it to record them"]
    problems = []
    for fname, expected in files.items():
        path = info.path / fname
        if not path.is_file():
            problems.append(f"{info.name}: {fname} is missing")
        elif sha256_file(path) != expected:
            problems.append(f"{info.name}: {fname} does not match its sha256 (damaged or modified)")
    return problems


def record_checksums(path: Path, names: list[str] | None = None) -> None:
    """Write the sha256 of a model folder's files into its metadata (``files``)."""
    meta_path = path / "voicebot-model.json"
    meta = json.loads(meta_path.read_text())
    wanted = names or sorted(p.name for p in path.iterdir() if p.is_file() and p.name != "voicebot-model.json" and not p.name.endswith(".part"))
    meta["files"] = {n: sha256_file(path / n) for n in wanted}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False))
