"""The models folder: what is there, which are dev models, and building the dev set.

Layout: ``<models dir>/<name>/`` with the engine's files and ``voicebot-model.json``
(``kind`` asr|tts, ``engine``, ``dev``). Real models pulled from the hub get the same file
with ``"dev": false``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.logs import get_logger

log = get_logger(__name__)

DEV_MODELS = {
    "whisper-tiny-dev": ("asr", "tiny"),
    "whisper-base-dev": ("asr", "base"),
    "vits-dev": ("tts", "vits"),
}


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


def list_models(models_dir: Path) -> list[ModelInfo]:
    if not models_dir.is_dir():
        return []
    found = (read_model(p) for p in sorted(models_dir.iterdir()) if p.is_dir())
    return [m for m in found if m is not None]


def resolve(models_dir: Path, name: str) -> ModelInfo:
    """The model called ``name``; a clear error naming what to run when it is missing."""
    info = read_model(models_dir / name)
    if info is None:
        have = ", ".join(m.name for m in list_models(models_dir)) or "none"
        raise FileNotFoundError(
            f"model {name!r} is not in {models_dir} (have: {have}). "
            f"Run `voicebot models pull {name.removesuffix('-dev')}` with network access, "
            "or `voicebot models build-dev` for offline dev models."
        )
    return info


def build_dev_models(models_dir: Path, names: list[str] | None = None, force: bool = False) -> list[ModelInfo]:
    """Build the random-weight dev models that are missing (all of DEV_MODELS by default)."""
    from voicebot.models.vits_dev import build_vits_dev
    from voicebot.models.whisper_dev import build_whisper_dev

    built = []
    models_dir.mkdir(parents=True, exist_ok=True)
    for name in names or list(DEV_MODELS):
        kind, arch = DEV_MODELS[name]
        target = models_dir / name
        if read_model(target) is not None and not force:
            continue
        log.warning("building DEV model with RANDOM weights (latency/cost only, never accuracy)", extra={"model": name})
        if kind == "asr":
            build_whisper_dev(target, size=arch)
        else:
            build_vits_dev(target)
        built.append(resolve(models_dir, name))
    return built
