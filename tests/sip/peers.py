"""Real peers for the SIP tests: sipp, baresip, tshark as subprocesses, stopped by PID."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Self

import numpy as np
import pytest

from voicebot.audio.g711 import ulaw_decode

SCENARIOS = Path(__file__).parent / "scenarios"
SHARED_AUDIO = (Path(__file__).resolve().parents[2] / "../shared/audio").resolve()


def require(*binaries: str) -> None:
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian packages sip-tester/baresip-core/tshark; .ci/run installs them)")


def shared_audio(rel: str) -> Path:
    path = SHARED_AUDIO / rel
    if not path.exists():
        pytest.skip(f"recording {path} is missing (../shared/audio)")
    return path


def render(name: str, dest: Path, **subs: str) -> Path:
    """Fill ``{KEY}`` placeholders of a scenario template."""
    text = (SCENARIOS / name).read_text()
    for key, value in subs.items():
        text = text.replace("{" + key + "}", value)
    out = dest / name
    out.write_text(text)
    return out


class Proc:
    """A subprocess we started; stopped by its PID, never by name."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name

    @classmethod
    async def start(cls, *args: str, cwd: Path | None = None, env: dict | None = None, stdin: int | None = None) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=cwd, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        return cls(proc, args[0])

    async def wait(self, timeout: float) -> tuple[int, str]:
        try:
            out, _ = await asyncio.wait_for(self.proc.communicate(), timeout)
        except TimeoutError:
            await self.stop()
            raise AssertionError(f"{self.name} did not finish within {timeout} s") from None
        return self.proc.returncode or 0, out.decode("utf-8", "replace")

    async def wait_for_line(self, needle: str, timeout: float) -> str:
        assert self.proc.stdout is not None
        seen = []

        async def scan() -> str:
            while True:
                line = await self.proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    raise AssertionError(f"{self.name} exited before printing {needle!r}: {''.join(seen)[-2000:]}")
                text = line.decode("utf-8", "replace")
                seen.append(text)
                if needle in text:
                    return text

        try:
            return await asyncio.wait_for(scan(), timeout)
        except BaseException:
            await self.stop()  # never leave a peer running behind a failed test
            raise

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        if self.proc.returncode is not None:
            return
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            os.kill(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


class Capture:
    """tshark on the loopback interface, written to a pcapng."""

    def __init__(self, path: Path, capture_filter: str) -> None:
        self.path = path
        self.filter = capture_filter
        self.proc: Proc | None = None

    async def __aenter__(self) -> Self:
        self.proc = await Proc.start("tshark", "-i", "lo", "-f", self.filter, "-w", str(self.path))
        await self.proc.wait_for_line("Capturing on", 15)
        return self

    async def __aexit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)  # let the last packets reach the file
        assert self.proc is not None
        await self.proc.stop(signal.SIGINT)

    def rtp(self, src_port: int) -> list[tuple[float, int, int, int, int, bytes]]:
        """RTP packets from ``src_port``: (capture time, seq, timestamp, ssrc, payload type, payload)."""
        out = subprocess.run(
            ["tshark", "-r", str(self.path), "-o", "rtp.heuristic_rtp:TRUE", "-Y", f"rtp && udp.srcport=={src_port}",
             "-T", "fields", "-e", "frame.time_epoch", "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "rtp.ssrc",
             "-e", "rtp.p_type", "-e", "rtp.payload"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        rows = []
        for line in out.splitlines():
            t, seq, ts, ssrc, pt, payload = (line.split("\t") + [""] * 6)[:6]
            rows.append((float(t), int(seq), int(ts), int(ssrc, 16), int(pt), bytes.fromhex(payload.replace(":", ""))))
        return rows


def decode_stream(rows: list[tuple[float, int, int, int, int, bytes]]) -> bytes:
    """PCMU payloads ordered by RTP timestamp, decoded to PCM16."""
    return ulaw_decode(b"".join(r[5] for r in sorted(rows, key=lambda r: r[2]) if r[4] == 0))


def speech_fraction(pcm8k: bytes) -> float:
    """Share of 20 ms frames webrtcvad (aggressiveness 2) calls speech."""
    import webrtcvad

    vad = webrtcvad.Vad(2)
    frames = [pcm8k[i : i + 320] for i in range(0, len(pcm8k) - 319, 320)]
    return sum(vad.is_speech(f, 8000) for f in frames) / max(1, len(frames))


def rms_db(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return float(20 * np.log10(max(1e-9, np.sqrt(np.mean(x**2)) / 32768)))


def best_correlation(ref: bytes, sig: bytes, max_lag: int = 1600, step: int = 4) -> float:
    """Highest normalised correlation of ``ref`` inside ``sig`` over lags 0..max_lag samples."""
    r = np.frombuffer(ref, "<i2").astype(np.float32)
    s = np.frombuffer(sig, "<i2").astype(np.float32)
    n = min(len(r), len(s) - max_lag)
    if n < 800:
        return 0.0
    return max(float(np.corrcoef(r[:n], s[lag : lag + n])[0, 1]) for lag in range(0, max_lag + 1, step))


def activity_match(ref: bytes, sig: bytes, window: int = 1600, floor_db: float = -45.0) -> float:
    """Share of 200 ms windows whose sound/silence state in ``sig`` matches ``ref`` at the best
    lag: robust to the time-stretching and filtering of a phone's playout."""
    def states(x: bytes) -> np.ndarray:
        return np.array([rms_db(x[i : i + 2 * window]) > floor_db for i in range(0, len(x) - 2 * window + 1, 2 * window)])

    r, s = states(ref), states(sig)
    if len(s) < len(r) or not len(r):
        return 0.0
    return max(float(np.mean(r == s[lag : lag + len(r)])) for lag in range(len(s) - len(r) + 1))
