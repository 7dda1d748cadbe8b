"""Structured logs: one line per event, ``key=value`` fields, call id on every call's line.

Use ``log = get_logger(__name__)`` and ``log.info("rtp timeout", extra={"call_id": cid})``.
pipecat logs through loguru; :func:`setup_logging` routes it into the same stream.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        parts = [f"{ts}.{int(record.msecs):03d}Z", record.levelname.lower(), record.name, json.dumps(record.getMessage(), ensure_ascii=False)]
        parts += [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def setup_logging(level: str = "INFO", pipecat_level: str = "WARNING") -> None:
    """Configure the root logger once (called by the CLI, never at import time)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, KeyValueFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(KeyValueFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    try:
        from loguru import logger as loguru_logger

        loguru_logger.remove()
        loguru_logger.add(sys.stderr, level=pipecat_level.upper(), format="{time:YYYY-MM-DDTHH:mm:ss.SSS}Z {level} pipecat {message}")
    except ImportError:  # pragma: no cover - loguru comes with pipecat
        pass
