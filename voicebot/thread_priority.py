"""Media first: every thread of the bot but the event loop runs at a lower OS priority.

The event loop paces every call's audio (one 20 ms packet per call every 20 ms). The heavy
work - speech recognition, synthesis, the models' own thread pools (CTranslate2, OpenMP,
ONNX Runtime) - runs in other threads. When those saturate the cores, the kernel shares the
CPU evenly and the loop waits its turn: under load its ticks came up to hundreds of ms late
and whole stretches of the callers' audio were never sent. With the compute threads at a
higher nice value the loop gets the CPU the moment it needs it (it needs little), and the
compute threads still get every cycle it leaves.

Linux only (niceness is per thread there); elsewhere these functions do nothing.
"""

from __future__ import annotations

import os
import sys
import threading

from voicebot.logs import get_logger

log = get_logger(__name__)


def lower_this_thread(nice: int) -> None:
    """Raise the calling thread's nice value to ``nice`` (a ThreadPoolExecutor ``initializer``)."""
    _renice(threading.get_native_id(), nice)


def lower_other_threads(nice: int, keep: int | None = None) -> int:
    """Every thread of this process except ``keep`` (default: the caller, the event loop) to ``nice``.

    Threads that libraries start on their own (model thread pools, executors) are found in
    /proc; call it again after they appear (the bot does every few seconds). Returns how many
    threads were lowered now."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return 0
    keep = threading.get_native_id() if keep is None else keep
    changed = 0
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return 0
    for tid in tids:
        if tid != keep and _renice(tid, nice):
            changed += 1
    return changed


def _renice(tid: int, nice: int) -> bool:
    """True when the thread's nice value was raised now (never lowered: that needs privileges)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) >= nice:
            return False
        os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except OSError as exc:  # the thread ended meanwhile, or a sandbox forbids it: media still works, only less protected
        log.debug("thread priority unchanged", extra={"tid": tid, "error": str(exc)})
        return False
