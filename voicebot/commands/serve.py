"""``voicebot serve``: the bot's main job — the web server (Twilio, in-app, desks) and SIP."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def port(value: str) -> int:
    """An argparse type: a TCP port, 1-65535."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number; use 1-65535") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port; use 1-65535 (below 1024 needs root)")
    return number


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="listen address (default 127.0.0.1; settings server.host)")
    p.add_argument("--port", type=port, help="HTTP port, 1-65535 (default 8080)")
    p.add_argument("--pipeline", help="pipeline definition (default pipelines/phone.yaml)")
    p.add_argument("--sip", action="store_true", help="also answer SIP calls (settings sip.*)")
    p.add_argument("--demo", action="store_true",
                   help="answer from the sample order store (fictional customers; said on every page and at start) "
                        "when no dialogue.order_store is set: for trying the bot, never for real callers")
    p.add_argument("--print-config", action="store_true", help="print the effective settings and exit")


def run(args: argparse.Namespace) -> int:
    import json

    import uvicorn

    from voicebot.config import load_settings
    from voicebot.logs import get_logger
    from voicebot.runtime import Runtime
    from voicebot.server import create_app

    log = get_logger("voicebot.serve")
    settings = load_settings(args.config)
    if args.host:
        settings.server.host = args.host
    if args.port:
        settings.server.port = args.port
    if args.pipeline:
        settings.pipeline = Path(args.pipeline)
    if args.sip:
        settings.sip.enabled = True
    from voicebot.commands.order_store import order_store_problem

    no_store = order_store_problem(settings, args.demo)
    if args.print_config:
        print(json.dumps(settings.as_dict(), indent=2))
        return 0
    if settings.store.redact:  # personal data never reaches the logs either
        import logging

        from voicebot.records.redact import RedactingLogFilter

        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactingLogFilter())
    runtime = Runtime(settings)
    if no_store:
        print(f"voicebot serve: {no_store}", file=sys.stderr)
        return 2
    try:
        runtime.warm_up(runtime.spec())
    except Exception as exc:
        print(f"voicebot serve: cannot load the models or dialogue: {exc}\nRun `voicebot doctor` to see what is missing.", file=sys.stderr)
        return 1
    damaged = _damaged_models(runtime)
    if damaged:
        print("voicebot serve: model files are damaged; every transcript would be garbage:\n  " + "\n  ".join(damaged), file=sys.stderr)
        return 1
    engine = runtime.dialogue(runtime.spec())  # loaded by warm_up
    demo = getattr(getattr(engine, "options", None), "order_store", None) == "demo"
    if demo:
        from voicebot.dialogue.orders.factory import DEMO_WARNING

        banner = "!" * 78
        print(f"{banner}\n  {DEMO_WARNING}\n  Every page says so too. Connect your shop: docs/order-stores.md\n{banner}", file=sys.stderr)
    if runtime.dev_models:
        banner = "!" * 78
        print(f"{banner}\n  DEV MODELS (random weights): {', '.join(sorted(runtime.dev_models))}\n"
              "  Latency and capacity are real; transcripts are MEANINGLESS. For real recognition run\n"
              "  `voicebot models pull whisper-base` on a machine with network access.\n" + banner, file=sys.stderr)
    if not settings.twilio.verify_signatures:
        log.warning("Twilio signature verification is OFF (local development only): anyone can post to the webhooks")
    try:
        from voicebot.records.service import Records

        runtime.records = Records.open(settings)
    except Exception as exc:  # no record store, no calls: a call must never go unrecorded
        print(f"voicebot serve: cannot open the call record store {settings.store_url}: {exc}\n"
              "Fix the store (VOICEBOT_STORE__URL) or its folder's permissions, then start again.", file=sys.stderr)
        return 1
    runtime.health_checks["records"] = runtime.records.health  # disk full / read-only recordings: /health says so
    runtime.health_checks["models"] = _model_files_unchanged(runtime)  # weights replaced or truncated since start
    problem = runtime.records.health()
    if problem:
        print(f"voicebot serve: WARNING: {problem}", file=sys.stderr)
    app = create_app(runtime)
    if demo:
        from voicebot.demo_mode import DemoBanner

        app = DemoBanner(app)
    # Every WebSocket message is read whole before any handler sees it: no bigger than the largest
    # any channel takes (uvicorn's default is 16 MiB).
    ws_max = max(1 << 20, settings.twilio.max_message_bytes, settings.inapp.max_signal_bytes)
    config = uvicorn.Config(app, host=settings.server.host, port=settings.server.port, log_level="info", lifespan="on",
                            ws_max_size=ws_max)
    server = uvicorn.Server(config)
    log.info("serving", extra={"url": f"http://{settings.server.host}:{settings.server.port}/", "pipeline": str(settings.pipeline)})

    async def compute_below_media(every_s: float = 5.0) -> None:
        """Threads that libraries start later (model pools, executors) are lowered as they appear."""
        from voicebot.thread_priority import lower_other_threads

        while True:
            lower_other_threads(settings.models.compute_nice)
            await asyncio.sleep(every_s)

    warmer = _start_voice_warmer(args, demo) if settings.models.warm_voices and not runtime.dev_models else None

    async def main() -> None:
        sip = None
        priority = asyncio.create_task(compute_below_media())
        retention = asyncio.create_task(runtime.records.retention_loop())
        repair = asyncio.create_task(runtime.records.repair_loop())  # closes rows a full disk left open, once it can
        if settings.sip.enabled:
            from voicebot.channels.sip.channel import SipChannel

            sip = SipChannel(runtime)
            await sip.start()
            log.info("answering SIP", extra={"address": f"{settings.sip.host}:{settings.sip.port}", "transports": list(settings.sip.transports)})
        outbound = getattr(runtime, "outbound", None)
        if outbound is not None and outbound.options.enabled:  # campaigns marked running are called from this process
            await outbound.start(sip_channel=sip)
        try:
            await server.serve()
        finally:
            if warmer is not None and warmer.poll() is None:
                warmer.terminate()  # what it rendered so far is kept; the next start goes on from there
            if outbound is not None:
                await outbound.stop()
            retention.cancel()
            repair.cancel()
            priority.cancel()
            if sip is not None:
                await sip.stop()
            await runtime.aclose()
            runtime.records.close()

    asyncio.run(main())
    return 0


def _damaged_models(runtime) -> list[str]:  # noqa: ANN001
    """The call's ASR model checked against its recorded checksums (~0.3 s for Whisper base):
    damaged weights still load, then transcribe everything as "!!!!"."""
    from voicebot.models.registry import fix_command, verify

    info = runtime.asr_model_info(runtime.spec())
    if info.dev:
        return []
    problems = [p for p in verify(info) if "no checksums recorded" not in p]  # older installs: doctor says so
    return [f"{p} -> run `{fix_command(info.name)}`" for p in problems]


def _model_files_unchanged(runtime):  # noqa: ANN001, ANN202
    """A /health check: the ASR model's files as they were when their checksums were verified at
    start (size and modification time: a stat, not a re-hash, so /health stays cheap)."""
    from voicebot.models.registry import fix_command

    info = runtime.asr_model_info(runtime.spec())
    files = [f for f in info.path.iterdir() if f.is_file()]
    seen = {f: (f.stat().st_size, f.stat().st_mtime_ns) for f in files}

    def check() -> str | None:
        for f, before in seen.items():
            try:
                now = (f.stat().st_size, f.stat().st_mtime_ns)
            except OSError:
                return f"model file {f} is gone; run `{fix_command(info.name)}` and restart"
            if now != before:
                return f"model file {f} changed on disk since start; run `voicebot doctor`, then restart"
        return None

    return check


def _start_voice_warmer(args: argparse.Namespace, demo: bool):  # -> subprocess.Popen
    """``voicebot voices warm`` in its own process at nice 19: it renders the fixed phrases while
    calls are answered, taking only CPU the calls leave (a thread here would share the GIL and
    onnxruntime's pools with the calls)."""
    import shutil
    import subprocess

    cmd = (["nice", "-n", "19"] if shutil.which("nice") else []) + [sys.executable, "-m", "voicebot.cli", "--log-level", "WARNING"]
    if args.config:
        cmd += ["--config", args.config]
    cmd += ["voices", "warm", "--quiet"] + (["--demo"] if demo else [])
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
