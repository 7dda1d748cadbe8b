"""``voicebot nlu``: JSON lines in, one JSON result per line out.

    echo '{"text": "order four five seven one two never arrived", "lang": "en"}' | voicebot nlu

Input lines: ``{"text": str, "lang"?: str, "expecting"?: str}``. Output lines: NluResult.as_json()
(intent, confidence, slots, language, sentiment, escalate). A bad line gets ``{"error": ...}``
and processing goes on with the next one.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from .nlu import EXPECTABLE, Nlu


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", help="language for lines without one (default: detect from the text)")
    parser.add_argument("--frustration", action="store_true", help="also print the per-turn frustration score")


def _one(nlu: Nlu, line: str, default_lang: str | None, with_frustration: bool) -> dict[str, Any]:
    try:
        req = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"not JSON ({exc.msg} at column {exc.colno}); send one object per line like {{\"text\": \"...\"}}"}
    if not isinstance(req, dict) or not isinstance(req.get("text"), str):
        return {"error": 'each line must be an object with a string "text" (and optional "lang", "expecting")'}
    lang = req.get("lang", default_lang)
    if lang is not None and not isinstance(lang, str):
        return {"error": '"lang" must be a string such as "en" or null'}
    expecting = req.get("expecting")
    if expecting is not None and expecting not in EXPECTABLE:
        return {"error": f'"expecting" must be one of {list(EXPECTABLE)}'}
    result = nlu.understand(req["text"], lang, expecting=expecting)
    out = result.as_json()
    if with_frustration:
        out["frustration"] = result.frustration
    return out


def process(nlu: Nlu, stdin: IO[str], stdout: IO[str], default_lang: str | None = None, with_frustration: bool = False) -> int:
    """Read every line of ``stdin``; return how many lines were errors."""
    errors = 0
    for line in stdin:
        if not line.strip():
            continue
        try:
            out = _one(nlu, line, default_lang, with_frustration)
        except Exception as exc:  # noqa: BLE001 - one bad line must never stop the stream
            out = {"error": f"internal error on this line: {exc!r}"}
        errors += "error" in out
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return errors


def run(args: argparse.Namespace) -> int:
    nlu = Nlu()
    process(nlu, sys.stdin, sys.stdout, getattr(args, "lang", None), getattr(args, "frustration", False))
    return 0
