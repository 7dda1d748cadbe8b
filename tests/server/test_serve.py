"""`voicebot serve` as a user starts it: a real process, a real port, a clean stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_reports_dev_models_loudly_and_stops_cleanly(tmp_path, dev_models_dir):
    port = free_port()
    env = {**os.environ, "VOICEBOT_HOME": str(tmp_path), "VOICEBOT_MODELS__DIR": str(dev_models_dir),
           "VOICEBOT_MODELS__ASR": "whisper-tiny", "VOICEBOT_MODELS__BUILD_DEV_IF_MISSING": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--port", str(port), "--pipeline", str(ROOT / "pipelines" / "minimal.yaml")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        health = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json.load(r)
                    break
            except OSError:
                time.sleep(0.3)  # polling a real process's port, not timing anything
        assert health is not None, proc.stderr.read() if proc.poll() is not None else "no answer on /health"
        assert health["dev_models"] == ["whisper-tiny-dev"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200 and b"voicebot" in r.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
    assert "DEV MODELS (random weights)" in err


def test_doctor_says_what_to_do(tmp_path):
    env = {**os.environ, "VOICEBOT_HOME": str(tmp_path), "VOICEBOT_MODELS__DIR": str(tmp_path / "none")}
    res = subprocess.run([sys.executable, "-m", "voicebot", "doctor"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1  # no ASR model is a required failure
    assert "[FAIL] ASR model" in res.stdout and "voicebot models build-dev" in res.stdout


def test_every_subcommand_has_help():
    from voicebot.cli import _COMMANDS

    for name in _COMMANDS:
        res = subprocess.run([sys.executable, "-m", "voicebot", name, "--help"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and "usage: voicebot" in res.stdout, (name, res.stderr[-500:])


def test_agents_command_adds_an_agent_with_a_hashed_password(tmp_path):
    env = {**os.environ, "VOICEBOT_HOME": str(tmp_path)}
    add = [sys.executable, "-m", "voicebot", "agents", "add", "maria", "--languages", "es,en", "--password-stdin"]
    res = subprocess.run(add, input="correct horse battery\n", env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    listed = subprocess.run([sys.executable, "-m", "voicebot", "agents", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "maria" in listed.stdout and "es,en" in listed.stdout
    assert b"correct horse" not in (tmp_path / "handoff.sqlite3").read_bytes()
    short = subprocess.run(add, input="short\n", env=env, capture_output=True, text=True, timeout=120)
    assert short.returncode == 2 and "8 characters" in short.stderr


def test_serve_with_sip_answers_options_probes(tmp_path, dev_models_dir):
    """What a kamailio dispatcher's health probe sees of `voicebot serve --sip`."""
    port, sip_port = free_port(), free_port()
    env = {**os.environ, "VOICEBOT_HOME": str(tmp_path), "VOICEBOT_MODELS__DIR": str(dev_models_dir), "VOICEBOT_MODELS__ASR": "whisper-tiny",
           "VOICEBOT_MODELS__BUILD_DEV_IF_MISSING": "false", "VOICEBOT_SIP__PORT": str(sip_port), "VOICEBOT_SIP__TRANSPORTS": "udp"}
    proc = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--sip", "--port", str(port), "--pipeline", str(ROOT / "pipelines" / "minimal.yaml")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answer = b""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            me = s.getsockname()[1]
            options = (f"OPTIONS sip:bot@127.0.0.1:{sip_port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-probe1\r\n"
                       f"From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:bot@127.0.0.1>\r\nCall-ID: probe-1\r\nCSeq: 1 OPTIONS\r\n"
                       f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
            s.settimeout(1.0)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None and not answer:
                s.sendto(options, ("127.0.0.1", sip_port))
                try:
                    answer = s.recv(4096)
                except OSError:
                    pass
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert answer.startswith(b"SIP/2.0 200"), err[-2000:]
    assert b"probe-1" in answer


def test_serve_refuses_damaged_weights_and_says_how_to_fix(tmp_path, real_models_dir):
    """Damaged weights still load and then transcribe everything as "!!!!": serve checks the checksums first."""
    import shutil

    models = tmp_path / "models"
    src = real_models_dir / "whisper-base"
    (models / "whisper-base").mkdir(parents=True)
    for f in src.iterdir():
        if f.name == "model.bin":
            shutil.copyfile(f, models / "whisper-base" / f.name)
        else:
            os.link(f, models / "whisper-base" / f.name) if f.is_file() else shutil.copytree(f, models / "whisper-base" / f.name)
    with open(models / "whisper-base" / "model.bin", "r+b") as f:  # one flipped byte near the end, as a bad disk would
        f.seek(-4096, os.SEEK_END)
        b = f.read(1)
        f.seek(-4096, os.SEEK_END)
        f.write(bytes([b[0] ^ 0xFF]))
    env = {**os.environ, "VOICEBOT_HOME": str(tmp_path), "VOICEBOT_MODELS__DIR": str(models), "VOICEBOT_MODELS__ASR": "whisper-base",
           "VOICEBOT_MODELS__BUILD_DEV_IF_MISSING": "false", "VOICEBOT_MODELS__WARM_VOICES": "false"}
    res = subprocess.run([sys.executable, "-m", "voicebot", "serve", "--port", str(free_port()), "--pipeline", str(ROOT / "pipelines" / "minimal.yaml")],
                         env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 1, res.stderr[-2000:]
    assert "model.bin does not match its sha256" in res.stderr and "voicebot models install whisper-base --force" in res.stderr


def test_health_says_when_model_files_change_under_a_running_bot(tmp_path):
    from types import SimpleNamespace

    from voicebot.commands.serve import _model_files_unchanged

    folder = tmp_path / "whisper-base"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"x" * 100)
    runtime = SimpleNamespace(asr_model_info=lambda spec: SimpleNamespace(path=folder, name="whisper-base"), spec=lambda: None)
    check = _model_files_unchanged(runtime)
    assert check() is None
    (folder / "model.bin").write_bytes(b"x" * 50)  # truncated by a copy gone wrong
    assert "changed on disk since start" in check()
    (folder / "model.bin").unlink()
    assert "voicebot models install whisper-base --force" in check()
