"""SIP load on the whole bot: N sipp callers talking at once to ``voicebot serve --sip``.

Unlike ``run.py`` (the SIP/RTP layer alone), every call here runs the full pipeline (VAD, turn
taking, ASR, dialogue, TTS) with the dev Whisper model, so the event loop carries real work.
What the callers must still get is a real-time media stream: the bot sends one 20 ms RTP
packet per 20 ms whatever the ASR is doing. Measured on the wire (tshark on loopback):

- per bot->caller stream: packets sent / (stream span / 20 ms + 1): 1.00 is real time,
- sipp's failed calls,
- the bot process's open sockets before and after the calls (leaks),
- the bot's /health after the run.

    python benchmarks/sip_load/pipeline.py --levels 20 --hold-s 20 [--out results.json]

Needs sipp, tshark (capture on ``lo``: root or CAP_NET_RAW) and the dev model the tests build
(``var/test-models/whisper-tiny-dev``; ``pytest tests/pipeline -x`` builds it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "sip" / "scenarios" / "caller_audio.xml"
CALLER = ROOT.parent / "shared" / "audio" / "telephony" / "azure_callcenter_sample.wav"
MODELS = ROOT / "var" / "test-models"
RTP_MIN, RTP_MAX = 30000, 39999


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def media_port() -> int:
    """A free port well outside the bot's RTP range (sipp counts its media ports up from it), so the
    capture of that range holds the RTP streams of the bot's calls and nothing else."""
    while True:
        port = free_port()
        if not RTP_MIN - 1000 <= port <= RTP_MAX:
            return port


def sockets_of(pid: int) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def caller_ulaw(dest: Path, seconds: float) -> Path:
    sys.path.insert(0, str(ROOT))
    from voicebot.audio.g711 import ulaw_encode
    from voicebot.audio.pcm import load_audio

    pcm = load_audio(CALLER, 8000)[: int(seconds * 8000)]
    path = dest / "caller.ulaw"
    path.write_bytes(ulaw_encode(pcm))
    return path


def streams(pcap: Path, inbound: bool = False) -> list[dict]:
    """Per bot->caller RTP stream (src port in the bot's range; ``inbound``: caller->bot, dst port in
    the range): packets, span, ratio to real time. One bot RTP socket per call, whatever it latched to."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "frame.time_epoch"],
                         capture_output=True, text=True, check=True).stdout
    times: dict[tuple[int, int], list[float]] = defaultdict(list)
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            port = int(parts[1] if inbound else parts[0])
            if RTP_MIN <= port <= RTP_MAX:
                times[(port, 0)].append(float(parts[2]))
    result = []
    for key, ts in times.items():
        ts.sort()
        span = ts[-1] - ts[0]
        expected = span / 0.02 + 1
        gaps = sum(1 for a, b in zip(ts, ts[1:], strict=False) if b - a > 0.06)
        result.append({"stream": key[0], "packets": len(ts), "span_s": round(span, 2), "ratio": round(len(ts) / expected, 4),
                       "gaps_over_60ms": gaps})
    return result


def run_level(n: int, hold_s: float, work: Path, media: Path) -> dict:
    http, sip = free_port(socket.SOCK_STREAM), media_port()
    env = {**os.environ, "VOICEBOT_HOME": str(work / f"home-{n}"), "VOICEBOT_MODELS__DIR": str(MODELS), "VOICEBOT_MODELS__ASR": "whisper-tiny",
           "VOICEBOT_MODELS__BUILD_DEV_IF_MISSING": "false", "VOICEBOT_SIP__PORT": str(sip), "VOICEBOT_SIP__TRANSPORTS": "udp",
           "VOICEBOT_SIP__RTP_PORT_MIN": str(RTP_MIN), "VOICEBOT_SIP__RTP_PORT_MAX": str(RTP_MAX), "PYTHONPATH": str(ROOT)}
    log = (work / f"bot-{n}.log").open("w")
    profile = ["-m", "cProfile", "-o", str(work / f"bot-{n}.prof")] if os.environ.get("BENCH_PROFILE") else []
    bot = subprocess.Popen([sys.executable, *profile, "-m", "voicebot", "serve", "--sip", "--port", str(http)], cwd=ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    pcap = work / f"rtp-{n}.pcap"
    tshark = None
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or bot.poll() is not None:
                    raise RuntimeError("the bot did not start; see " + str(work / f"bot-{n}.log")) from None
                time.sleep(0.5)  # waiting for a real process to listen, not timing anything
        before = sockets_of(bot.pid)
        tshark = subprocess.Popen(["tshark", "-i", "lo", "-q", "-w", str(pcap), "-f", f"udp and portrange {RTP_MIN}-{RTP_MAX}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)  # tshark opens the capture
        scenario = work / "caller.xml"
        scenario.write_text(SCENARIO.read_text().replace("{MEDIA}", f'<nop><action><exec rtp_stream="{media},-1,0"/></action></nop>')
                            .replace("{HOLD_MS}", str(int(hold_s * 1000))))
        started = time.monotonic()
        sipp = subprocess.run(
            ["sipp", f"127.0.0.1:{sip}", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(media_port()), "-mi", "127.0.0.1",
             "-mp", str(media_port()), "-l", str(n), "-m", str(n), "-r", str(max(1, n // 2)), "-nostdin", "-timeout", f"{int(hold_s) + 120}s",
             "-trace_stat", "-stf", str(work / f"sipp-{n}.csv")],
            cwd=work, capture_output=True, text=True, timeout=hold_s + 180, check=False)
        wall = time.monotonic() - started
        time.sleep(3)  # the bot ends its calls (BYE answered, pipelines stopped, records closed)
        after = sockets_of(bot.pid)
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=10) as r:
            health = json.load(r)
    finally:
        if tshark is not None:
            tshark.send_signal(signal.SIGINT)
            tshark.wait(20)
        bot.send_signal(signal.SIGTERM)
        bot.wait(60)
        log.close()
    per = streams(pcap)
    ratios = [s["ratio"] for s in per]
    heard = [s["ratio"] for s in streams(pcap, inbound=True)]  # what sipp managed to send (it shares the CPU too)
    failed = _sipp_failed(work / f"sipp-{n}.csv")
    return {"concurrent": n, "sipp_rc": sipp.returncode, "failed_calls": failed, "streams": len(per),
            "ratio_min": min(ratios, default=0), "ratio_mean": round(statistics.mean(ratios), 4) if ratios else 0,
            "packets": sum(s["packets"] for s in per), "gaps_over_60ms": sum(s["gaps_over_60ms"] for s in per),
            "caller_ratio_mean": round(statistics.mean(heard), 4) if heard else 0,
            "sockets_before": before, "sockets_after": after, "health": health.get("status"), "wall_s": round(wall, 1),
            "pass": sipp.returncode == 0 and failed == 0 and len(per) == n and min(ratios, default=0) >= 0.99 and after == before}


def _sipp_failed(csv: Path) -> int | None:
    files = sorted(csv.parent.glob(csv.name + "*")) or sorted(csv.parent.glob("*.csv"))
    if not files:
        return None
    lines = [ln for ln in files[-1].read_text().splitlines() if ln.strip()]
    header, last = lines[0].split(";"), lines[-1].split(";")
    return int(last[header.index("FailedCall(C)")])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--levels", type=int, nargs="+", default=[20])
    p.add_argument("--hold-s", type=float, default=20.0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--keep", type=Path, default=None, help="keep the bot logs, captures and sipp files in this folder")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sip_pipeline_load_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        media = caller_ulaw(work, 12.0)
        for n in args.levels:
            r = run_level(n, args.hold_s, work, media)
            results.append(r)
            print(json.dumps(r), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"levels": results, "cpu_count": os.cpu_count()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
