"""Child process of the kill -9 test: records a call mid-way, says so, and keeps the call going.

``python -m tests.records.kill_child STORE_URL RECORDINGS_DIR``; prints one JSON line once
three turns and the caller part of a fourth are recorded, then feeds silence (the caller is
thinking) until it is killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np

from voicebot.core import CallContext
from voicebot.records.recorder import CallRecorder, RecorderOptions
from voicebot.records.store import open_store

from .sim import CHUNK, SimCall, run_support_call


async def main(url: str, recordings: str) -> None:
    store = open_store(url)
    rec = CallRecorder(store, CallContext(call_id="crash-1", channel="sip", caller_number="+34612345678"),
                       RecorderOptions(recordings_dir=Path(recordings), header_every_s=1.0))  # fmt: skip
    sim = SimCall(rec, channel="sip")
    run_support_call(sim, stop_after_turns=3)
    await rec.flush()
    print(json.dumps({"frames": len(sim.caller_audio()), "path": str(rec.recording_path)}), flush=True)
    silence = np.zeros(CHUNK, np.int16).tobytes()
    for _ in range(30_000):  # at most ~10 minutes of call; the parent kills us long before
        rec.add_audio(silence, None)
        await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
