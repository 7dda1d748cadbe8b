"""Structured logs: one line per event, ``key=value`` fields, call id on every call's line.

Use ``log = get_logger(__name__)`` and ``log.info("rtp timeout", extra={"call_id": cid})``.
pipecat logs through loguru; :func:`setup_logging` routes it into the same stream.

A field named like a LogRecord attribute (``module``, ``name``, ``msg``, ``args`` ...) makes the
standard library raise ``KeyError`` from inside the log call, so an error path that only wanted
to report a problem would crash instead. Loggers from :func:`get_logger` rename such a field
with a trailing underscore (``module_=...``) rather than raise.
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


def safe_key(key: str) -> str:
    """``key`` as a log field: reserved LogRecord names get a trailing underscore."""
    while key in _RESERVED:
        key += "_"
    return key


class _SafeLogger(logging.Logger):
    """A Logger whose ``extra`` can never collide with a LogRecord attribute."""

    def makeRecord(self, name, level, fn, lno, msg, args, exc_info, func=None, extra=None, sinfo=None):  # type: ignore[no-untyped-def]  # noqa: N802, PLR0913 - the stdlib signature
        if extra:
            extra = {safe_key(str(k)): v for k, v in extra.items()}
        return super().makeRecord(name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if type(logger) is logging.Logger:  # same state, one more safeguard; other Logger subclasses are left alone
        logger.__class__ = _SafeLogger
    return logger


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
