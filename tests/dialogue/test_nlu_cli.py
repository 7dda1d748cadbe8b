"""`voicebot nlu`: JSON lines in, JSON lines out, bad lines answered with an error."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from voicebot.dialogue.nlu import Nlu
from voicebot.dialogue.nlu_cli import process

ROOT = Path(__file__).resolve().parents[2]


def test_process_lines_and_errors() -> None:
    lines = [
        json.dumps({"text": "order four five seven one two never arrived", "lang": "en"}),
        "not json",
        json.dumps({"text": 5}),
        json.dumps({"text": "cancelen el pedido ocho ocho tres cero dos uno"}),
        json.dumps({"text": "yes", "expecting": "bogus"}),
        "",
        json.dumps({"text": "4 5 7", "expecting": "order_id", "lang": "en"}),
    ]
    out = io.StringIO()
    errors = process(Nlu(), io.StringIO("\n".join(lines) + "\n"), out)
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    assert errors == 3 and len(results) == 6
    first = results[0]
    assert set(first) == {"intent", "confidence", "slots", "language", "sentiment", "escalate"}
    assert first["slots"]["order_id"] == "45712" and first["language"] == "en"
    assert "error" in results[1] and "error" in results[2] and "error" in results[4]
    assert results[3]["intent"] == "cancel_order" and results[3]["language"] == "es"
    assert results[3]["slots"]["order_id"] == "883021"
    assert results[5]["slots"]["order_id"] == "457"


def test_cli_subprocess() -> None:
    """The real entry point, as QA runs it."""
    inp = '{"text": "quiero hablar con una persona", "lang": "es"}\n{oops\n'
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from voicebot.cli import main; sys.exit(main(['nlu']))"],
        input=inp, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out[0]["intent"] == "human_agent" and out[0]["escalate"] is True
    assert "error" in out[1]
