import json
import time

import pytest

from voicebot.models import pull
from voicebot.models.registry import resolve
from voicebot.models.whisper_dev import build_tokenizer, find_tiktoken


def test_pull_fails_at_once_offline_and_names_the_alternative(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(pull.OfflineError, match="build-dev"):
        pull.pull("whisper-base", tmp_path, base_url="https://127.0.0.1:9")  # nothing listens on port 9
    assert time.monotonic() - t0 < 5


def test_pull_knows_its_catalog():
    with pytest.raises(KeyError, match="whisper-base"):
        pull.pull("whisper-enormous", None)


def test_download_resumes_and_checks_size_and_checksum(tmp_path):
    import hashlib
    import http.server
    import threading

    payload = bytes(range(256)) * 4000

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0] or 0)
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(payload) - start))
            self.end_headers()
            self.wfile.write(payload[start:])

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "model.bin"
        (tmp_path / "model.bin.part").write_bytes(payload[:1000])  # an interrupted earlier download
        url = f"http://127.0.0.1:{srv.server_port}/model.bin"
        pull.download(url, dest, len(payload), hashlib.sha256(payload).hexdigest())
        assert dest.read_bytes() == payload
        with pytest.raises(RuntimeError, match="checksum"):
            pull.download(url, tmp_path / "other.bin", len(payload), "0" * 64)
    finally:
        srv.shutdown()


def test_whisper_tokenizer_has_whispers_ids():
    tok = build_tokenizer(find_tiktoken())
    assert tok.get_vocab_size() == 51865
    assert tok.token_to_id("<|endoftext|>") == 50257
    assert tok.token_to_id("<|startoftranscript|>") == 50258
    assert tok.token_to_id("<|en|>") == 50259 and tok.token_to_id("<|de|>") == 50261
    assert tok.token_to_id("<|transcribe|>") == 50359 and tok.token_to_id("<|notimestamps|>") == 50363
    for text in ("where is my order 45712", "mi paquete lleva diez días en aduana", "我的包裹在哪里", "พัสดุของฉัน"):
        assert tok.decode(tok.encode(text).ids) == text
    assert tok.encode(" hello").ids == [7751]  # GPT-2/Whisper byte-level BPE id of " hello"


def test_dev_model_is_marked_and_resolvable(dev_models_dir):
    info = resolve(dev_models_dir, "whisper-tiny-dev")
    meta = json.loads((info.path / "voicebot-model.json").read_text())
    assert info.dev and meta["dev"] is True and "RANDOM" in meta["note"]
    cfg = json.loads((info.path / "config.json").read_text())
    assert len(cfg["lang_ids"]) == 99  # language detection works on the dev model
    with pytest.raises(FileNotFoundError, match="build-dev"):
        resolve(dev_models_dir, "whisper-large-v3")
