"""SIP load: how many concurrent calls one bot process holds with real-time audio.

One bot process (``python -m voicebot.channels.sip.standalone``: the SIP/RTP layer with a
fixed prompt, no ASR/TTS models) and sipp as the callers on loopback. For each level N, sipp
keeps N calls up at once; every caller streams a real recording as PCMU RTP while the bot
plays a 4 s prompt paced against absolute 20 ms deadlines. A level passes when

- sipp reports 0 failed calls,
- at most 1 % of the bot's outgoing frames left more than 10 ms after their deadline,
- the bot received >= 95 % of the frames the callers sent,
- after the run the bot holds no call and no handler (no leaked sessions).

    python benchmarks/sip_load/run.py --levels 10 20 40 [--hold-ms 8000] [--out results.json]

It stops at the first level that fails. Figures from a run are in README.md next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "sip" / "scenarios" / "caller_audio.xml"
CALLER = ROOT.parent / "shared" / "audio" / "telephony" / "spokenwoz_turn16_ch1.wav"  # 4.54 s, 8 kHz


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def caller_ulaw(dest: Path) -> tuple[Path, int]:
    sys.path.insert(0, str(ROOT))
    from voicebot.audio.g711 import ulaw_encode
    from voicebot.audio.pcm import load_audio

    raw = ulaw_encode(load_audio(CALLER, 8000))
    path = dest / "caller.ulaw"
    path.write_bytes(raw)
    return path, len(raw) // 160


def run_level(n: int, hold_ms: int, work: Path, prompt: Path, media: Path, caller_frames: int) -> dict:
    port = free_port()
    stats = work / f"bot-{n}.json"
    bot = subprocess.Popen(
        [sys.executable, "-m", "voicebot.channels.sip.standalone", "--port", str(port), "--prompt", str(prompt),
         "--rtp-min", "30000", "--rtp-max", "39999", "--stats", str(stats)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = bot.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("READY"):
            raise RuntimeError(f"bot did not start: {line}")
        scenario = work / "caller.xml"
        scenario.write_text(SCENARIO.read_text().replace("{MEDIA}", f'<nop><action><exec rtp_stream="{media},1,0"/></action></nop>')
                            .replace("{HOLD_MS}", str(hold_ms)))
        total = 2 * n
        started = time.monotonic()
        sipp = subprocess.run(
            ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_port()),
             "-mi", "127.0.0.1", "-mp", str(free_port()), "-l", str(n), "-m", str(total), "-r", str(max(1, n // 2)),
             "-nostdin", "-timeout", f"{int(4 * hold_ms / 1000) + 60}s", "-trace_stat", "-stf", str(work / f"sipp-{n}.csv")],
            cwd=work, capture_output=True, text=True, timeout=4 * hold_ms / 1000 + 90, check=False,
        )
        wall = time.monotonic() - started
    finally:
        os.kill(bot.pid, signal.SIGTERM)
        bot.wait(30)
    s = json.loads(stats.read_text())
    failed = _sipp_failed(work / f"sipp-{n}.csv")
    late_ratio = s["late_frames"] / max(1, s["sent_frames"])
    received_ratio = s["received_frames"] / max(1, s["calls"] * caller_frames)
    ok = (sipp.returncode == 0 and failed == 0 and s["calls"] == total and late_ratio <= 0.01
          and received_ratio >= 0.95 and s["leaked_calls"] == 0 and s["active_handlers"] == 0)
    return {"concurrent": n, "calls": total, "answered": s["calls"], "sipp_rc": sipp.returncode, "failed_calls": failed,
            "late_frame_ratio": round(late_ratio, 5), "received_frame_ratio": round(received_ratio, 4),
            "leaked_calls": s["leaked_calls"], "end_reasons": s["end_reasons"], "wall_s": round(wall, 1), "pass": ok}


def _sipp_failed(csv: Path) -> int | None:
    """FailedCall(C) of sipp's last statistics line."""
    files = sorted(csv.parent.glob(csv.name + "*")) or sorted(csv.parent.glob("*.csv"))
    if not files:
        return None
    lines = [ln for ln in files[-1].read_text().splitlines() if ln.strip()]
    header, last = lines[0].split(";"), lines[-1].split(";")
    return int(last[header.index("FailedCall(C)")])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--levels", type=int, nargs="+", default=[10, 20, 40])
    p.add_argument("--hold-ms", type=int, default=8000)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sip_load_") as tmp:
        work = Path(tmp)
        prompt = work / "prompt.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "Hello, thank you for calling. How can I help you today?", "-w", str(prompt)],
                       check=True, timeout=30)
        media, caller_frames = caller_ulaw(work)
        results = []
        for n in args.levels:
            r = run_level(n, args.hold_ms, work, prompt, media, caller_frames)
            results.append(r)
            print(json.dumps(r), flush=True)
            if not r["pass"]:
                break
    held = max((r["concurrent"] for r in results if r["pass"]), default=0)
    summary = {"max_concurrent_calls_passing": held, "levels": results, "cpu_count": os.cpu_count()}
    print(json.dumps({"max_concurrent_calls_passing": held}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
