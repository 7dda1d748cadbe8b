"""The commands that answer callers (serve, replay, voices warm) share one rule about orders:
no ``dialogue.order_store`` and no ``--demo`` is refused before anything loads, with a message
saying what to set; ``--demo`` chooses the sample store, and is refused beside a real one."""

from __future__ import annotations

from typing import Any


def order_store_problem(settings: Any, demo: bool) -> str | None:
    """Apply ``--demo`` to ``settings``; the message that stops the command, or None.

    A pipeline whose dialogue reads no orders (``engine: minimal``) needs no store."""
    from voicebot.dialogue.orders.factory import choose_demo
    from voicebot.pipeline.spec import load_spec

    problem = choose_demo(settings.dialogue, demo)
    if problem is None or demo:
        return problem
    try:
        reads_orders = load_spec(settings.pipeline).dialogue.engine == "builtin"
    except Exception:  # noqa: BLE001 - the command loads the pipeline next and reports its own problem
        reads_orders = True
    return problem if reads_orders else None
