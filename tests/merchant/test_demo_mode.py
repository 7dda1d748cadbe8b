"""The sample order store only in an explicit demo mode: `serve` with no order store refuses and
says what to set; `serve --demo` says so at start, in the log and on every page; a configured
store serves no demo data. Real `voicebot serve` processes, real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.merchant.test_cli_errors import refused, voicebot

ROOT = Path(__file__).resolve().parents[2]
ERP = "dialogue:\n  order_store: tests.merchant.custom_store:ErpStore\n  order_store_options: {region: DE}\n"


@pytest.mark.parametrize("command", [("serve", "--port", "18473"), ("replay", str(ROOT / "tests" / "merchant" / "custom_store.py"), "--out", "o"),
                                     ("voices", "warm")])
def test_no_order_store_and_no_demo_flag_is_refused_with_what_to_set(tmp_path: Path, command: tuple[str, ...]) -> None:
    if command[0] == "replay":  # a readable recording, so that the order store is the only thing missing
        wav = tmp_path / "caller.wav"
        subprocess.run(["sox", "-n", "-r", "16000", "-b", "16", "-c", "1", str(wav), "trim", "0", "0.5"], check=True)
        command = ("replay", str(wav), "--out", str(tmp_path / "out"))
    done = voicebot(tmp_path, *command)
    refused(done, 2, "no order store is configured", "dialogue.order_store", "docs/order-stores.md", "--demo")
    assert not (tmp_path / "home" / "demo-orders.sqlite3").exists()


def test_demo_beside_a_real_store_is_refused(tmp_path: Path) -> None:
    refused(voicebot(tmp_path, "serve", "--demo", config=ERP), 2,
            "--demo answers from sample orders, but dialogue.order_store is 'tests.merchant.custom_store:ErpStore': drop --demo")


def test_a_pipeline_without_orders_needs_no_store(tmp_path: Path) -> None:
    done = voicebot(tmp_path, "serve", "--print-config")  # printing the settings is not serving
    assert done.returncode == 0 and '"order_store": null' in done.stdout, done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


def serve(tmp_path: Path, models: Path, *args: str, config: str | None = None) -> tuple[dict[str, tuple[int, dict[str, str], str]], str]:
    """Start `voicebot serve` (the phone pipeline, built-in dialogue), fetch the pages, stop it: (pages, stderr)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_")}
    env.update({"VOICEBOT_HOME": str(tmp_path / "home"), "VOICEBOT_MODELS__DIR": str(models), "VOICEBOT_MODELS__WARM_VOICES": "false",
                "PYTHONPATH": str(ROOT)})
    cli = [sys.executable, "-m", "voicebot.cli"]
    if config:
        (tmp_path / "settings.yaml").write_text(config)
        cli += ["--config", str(tmp_path / "settings.yaml")]
    proc = subprocess.Popen([*cli, "serve", "--port", str(port), *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    pages = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                pages["/health"] = get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                time.sleep(0.3)  # polling a real process's port, not timing anything
        assert pages, proc.stderr.read() if proc.poll() is not None else "no answer on /health"
        for path in ("/", "/desk", "/qa"):
            pages[path] = get(f"http://127.0.0.1:{port}{path}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    return pages, err


def test_serve_demo_says_so_at_start_in_the_log_and_on_every_page(tmp_path: Path, real_models_dir: Path) -> None:
    pages, err = serve(tmp_path, real_models_dir, "--demo")
    assert "!!!!\n  DEMO ORDER STORE: callers are answered from seeded sample orders of fictional customers" in err
    assert 'warning voicebot.dialogue.orders.factory "DEMO ORDER STORE' in err  # the structured log line too
    assert pages["/health"][0] == 200 and "fictional customers" in pages["/health"][1]["x-voicebot-demo"]
    for path in ("/", "/desk"):
        status, headers, body = pages[path]
        assert status == 200 and body.count("data-demo-banner") == 1 and "DEMO ORDER STORE" in body, path
        assert int(headers["content-length"]) == len(body.encode()), path  # the page grew: its length says so


def test_a_configured_store_serves_no_demo_data(tmp_path: Path, real_models_dir: Path) -> None:
    pages, err = serve(tmp_path, real_models_dir, config=ERP)
    assert "DEMO ORDER STORE" not in err
    for _status, headers, body in pages.values():
        assert "x-voicebot-demo" not in headers and "data-demo-banner" not in body
    assert pages["/desk"][0] == 200 and pages["/health"][0] == 200
    assert not (tmp_path / "home" / "demo-orders.sqlite3").exists()  # no sample customer was ever seeded
