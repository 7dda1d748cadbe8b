"""Run the SIP user agent alone with a fixed prompt (no models): for PBX trunk checks,
the kamailio dispatcher test and the load benchmark.

    python -m voicebot.channels.sip.standalone --port 5070 --prompt hello.wav [--hangup-after 8]

Prints ``READY <sip port>`` once listening; on SIGTERM/SIGINT it hangs up every call, writes
``--stats`` (JSON: calls, end reasons, late frames, leaked calls) and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from voicebot.audio.pcm import load_audio, to_int16
from voicebot.logs import setup_logging

from .greeter import GreetingHandler, GreetingOptions
from .rtp_session import RtpOptions
from .ua import SipOptions, SipUserAgent


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5070)
    p.add_argument("--rtp-min", type=int, default=20000)
    p.add_argument("--rtp-max", type=int, default=20999)
    p.add_argument("--prompt", type=Path, required=True, help="WAV (any rate) played to each caller")
    p.add_argument("--hangup-after", type=float, default=None, help="bot hangs up after this many seconds")
    p.add_argument("--rtp-timeout", type=float, default=30.0)
    p.add_argument("--stats", type=Path, default=None, help="write call statistics here on exit")
    p.add_argument("--name", default="bot", help="user part of Contact (tells processes apart)")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    prompt = to_int16(load_audio(args.prompt, 8000)).astype("<i2").tobytes()
    handler = GreetingHandler(prompt, GreetingOptions(hangup_after_s=args.hangup_after, keep_audio=False))
    options = SipOptions(host=args.host, port=args.port, user=args.name, max_calls=2000,
                         rate_limit_per_s=1000.0, rate_limit_burst=2000,
                         rtp=RtpOptions(port_min=args.rtp_min, port_max=args.rtp_max, timeout_s=args.rtp_timeout))
    ua = SipUserAgent(options, handler)
    await ua.start()
    print(f"READY {ua.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await ua.stop()
    if args.stats:
        reasons: dict[str, int] = {}
        for rec in handler.records.values():
            reasons[rec.end_reason or "unknown"] = reasons.get(rec.end_reason or "unknown", 0) + 1
        args.stats.write_text(json.dumps({
            "name": args.name, "calls": len(handler.records), "end_reasons": reasons,
            "late_frames": sum(r.late_frames for r in handler.records.values()),
            "sent_frames": sum(r.sent_frames for r in handler.records.values()),
            "received_frames": sum(r.received_frames for r in handler.records.values()),
            "leaked_calls": len(ua.active_calls), "active_handlers": handler.active, "counters": ua.counters,
        }, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    setup_logging(args.log_level)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
