"""Download real models by name from the Hugging Face hub: resumable, with a progress bar and
size + sha256 checks. Offline it fails at once, naming the alternative.

Written on urllib rather than huggingface_hub so that the failure mode is ours: one quick
reachability probe (3 s) instead of minutes of retries, and ``.part`` files that resume.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from voicebot.models.folder import record_checksums

HUB = "https://huggingface.co"

@dataclass(frozen=True)
class HubModel:
    kind: str
    engine: str
    repo: str
    folder: str = ""  # only the files under this folder of the repository (Piper keeps every voice in one repo)
    rename: tuple[tuple[str, str], ...] = ()  # (suffix, new name): Piper voices become model.onnx + model.onnx.json


def _piper(path: str) -> HubModel:
    return HubModel("tts", "piper", "rhasspy/piper-voices", folder=path, rename=((".onnx", "model.onnx"), (".onnx.json", "model.onnx.json")))


CATALOG: dict[str, HubModel] = {
    "whisper-tiny": HubModel("asr", "faster-whisper", "Systran/faster-whisper-tiny"),
    "whisper-base": HubModel("asr", "faster-whisper", "Systran/faster-whisper-base"),
    "whisper-small": HubModel("asr", "faster-whisper", "Systran/faster-whisper-small"),
    "whisper-medium": HubModel("asr", "faster-whisper", "Systran/faster-whisper-medium"),
    "whisper-large-v3": HubModel("asr", "faster-whisper", "Systran/faster-whisper-large-v3"),
    "xtts-v2": HubModel("tts", "coqui", "coqui/XTTS-v2"),
    # Piper voices for the shop's languages (each voice's MODEL_CARD states its dataset licence).
    **{f"piper-{v}": _piper(p) for v, p in (
        ("en_US-lessac-medium", "en/en_US/lessac/medium"), ("de_DE-thorsten-medium", "de/de_DE/thorsten/medium"),
        ("es_ES-davefx-medium", "es/es_ES/davefx/medium"), ("es_MX-claude-high", "es/es_MX/claude/high"),
        ("fr_FR-siwis-medium", "fr/fr_FR/siwis/medium"), ("it_IT-paola-medium", "it/it_IT/paola/medium"),
        ("pt_BR-faber-medium", "pt/pt_BR/faber/medium"), ("ru_RU-irina-medium", "ru/ru_RU/irina/medium"),
        ("zh_CN-huayan-medium", "zh/zh_CN/huayan/medium"), ("vi_VN-vais1000-medium", "vi/vi_VN/vais1000/medium"),
        ("ar_JO-kareem-medium", "ar/ar_JO/kareem/medium"),
    )},
}


class OfflineError(RuntimeError):
    pass


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int | None
    sha256: str | None


def check_reachable(base_url: str = HUB, timeout: float = 3.0) -> None:
    host = urlparse(base_url).hostname or ""
    port = urlparse(base_url).port or 443
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise OfflineError(
            f"cannot reach {host} ({exc}). This machine looks offline: real model weights cannot be "
            "downloaded. Use `voicebot models build-dev` for random-weight dev models (latency and "
            "cost only, never accuracy), or copy a model folder into the models directory."
        ) from exc


def list_files(repo: str, base_url: str = HUB) -> list[RemoteFile]:
    with urllib.request.urlopen(f"{base_url}/api/models/{repo}?blobs=true", timeout=30) as resp:
        info = json.load(resp)
    files = []
    for s in info.get("siblings", []):
        lfs = s.get("lfs") or {}
        files.append(RemoteFile(path=s["rfilename"], size=lfs.get("size", s.get("size")), sha256=lfs.get("sha256")))
    return files


def _progress(name: str, done: int, total: int | None) -> None:
    if total:
        width = 30
        filled = int(width * done / total)
        sys.stderr.write(f"\r{name[:30]:30} [{'#' * filled}{'.' * (width - filled)}] {done / 1e6:7.1f}/{total / 1e6:.1f} MB")
    else:
        sys.stderr.write(f"\r{name[:30]:30} {done / 1e6:7.1f} MB")
    sys.stderr.flush()


def download(url: str, dest: Path, size: int | None, sha256: str | None) -> None:
    """Download ``url`` to ``dest`` resuming a ``.part`` file, then check size and checksum."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(req, timeout=60) as resp, open(part, "ab" if have and resp.status == 206 else "wb") as out:
        done = have if resp.status == 206 else 0
        while chunk := resp.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            _progress(dest.name, done, size)
    sys.stderr.write("\n")
    if size is not None and part.stat().st_size != size:
        raise RuntimeError(f"{dest.name}: got {part.stat().st_size} bytes, expected {size}; run the pull again to resume")
    if sha256:
        h = hashlib.sha256()
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != sha256:
            part.unlink()
            raise RuntimeError(f"{dest.name}: checksum mismatch (deleted); run the pull again")
    part.replace(dest)


def pull(name: str, models_dir: Path, base_url: str = HUB) -> Path:
    if name not in CATALOG:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(CATALOG)}")
    hub = CATALOG[name]
    check_reachable(base_url)
    target = models_dir / name
    target.mkdir(parents=True, exist_ok=True)
    for f in list_files(hub.repo, base_url):
        if hub.folder and not f.path.startswith(hub.folder.rstrip("/") + "/"):
            continue
        local = f.path[len(hub.folder) :].lstrip("/") if hub.folder else f.path
        for suffix, new_name in sorted(hub.rename, key=lambda r: -len(r[0])):
            if local.endswith(suffix):
                local = new_name
                break
        dest = target / local
        if dest.exists() and (f.size is None or dest.stat().st_size == f.size):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        download(f"{base_url}/{hub.repo}/resolve/main/{f.path}", dest, f.size, f.sha256)
    meta = {"name": name, "kind": hub.kind, "engine": hub.engine, "dev": False, "source": f"{base_url}/{hub.repo}/{hub.folder}".rstrip("/"),
            "origin": f"Hugging Face hub: {hub.repo}", "licence": "see the model card in this folder"}
    (target / "voicebot-model.json").write_text(json.dumps(meta, indent=2))
    record_checksums(target)
    return target
