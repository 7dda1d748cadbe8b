"""kamailio (telephony/kamailio/kamailio.cfg) in front of two bot processes: calls are split
between them, and when one is killed the calls fail over to the other."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from .helpers import free_port
from .peers import Proc, render, require

pytestmark = [pytest.mark.peers, pytest.mark.slow]

CFG = Path(__file__).resolve().parents[2] / "telephony" / "kamailio" / "kamailio.cfg"


async def start_bot(tmp_path: Path, name: str, prompt: Path) -> tuple[Proc, int, Path]:
    port, rtp = free_port(), free_port()
    stats = tmp_path / f"{name}.json"
    proc = await Proc.start(sys.executable, "-m", "voicebot.channels.sip.standalone", "--port", str(port), "--name", name,
                            "--prompt", str(prompt), "--rtp-min", str(rtp), "--rtp-max", str(rtp + 200), "--stats", str(stats),
                            cwd=Path(__file__).resolve().parents[2])
    await proc.wait_for_line("READY", 30)
    return proc, port, stats


async def run_calls(scenario: Path, kam_port: int, calls: int, tmp_path: Path) -> tuple[int, str]:
    proc = await Proc.start("sipp", f"127.0.0.1:{kam_port}", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_port()),
                            "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", str(calls), "-r", "5", "-l", "4",
                            "-nostdin", "-timeout", "50s", "-trace_err", cwd=tmp_path)
    return await proc.wait(60)


async def test_dispatcher_splits_calls_and_fails_over(tmp_path: Path) -> None:
    require("kamailio", "sipp", "espeak-ng")
    prompt = tmp_path / "prompt.wav"
    await (await Proc.start("espeak-ng", "Welcome to the shop.", "-w", str(prompt))).wait(30)
    bots = [await start_bot(tmp_path, f"bot{i}", prompt) for i in (1, 2)]
    kam_port = free_port()
    ds_list = tmp_path / "dispatcher.list"
    ds_list.write_text("".join(f"1 sip:127.0.0.1:{port} 0 0\n" for _, port, _ in bots))
    kam = await Proc.start("kamailio", "-DD", "-E", "-f", str(CFG), "-P", str(tmp_path / "kam.pid"), "-m", "64", "-M", "8",
                           "-A", f"LISTEN=udp:127.0.0.1:{kam_port}", "-A", f'DS_LIST="{ds_list}"', "-A", "DS_PING_S=1")
    scenario = render("caller_audio.xml", tmp_path, MEDIA="", HOLD_MS="300")
    try:
        await asyncio.sleep(1.5)  # first OPTIONS round: both bots answer
        assert kam.proc.returncode is None, "kamailio exited: check the config with kamailio -c"
        rc, out = await run_calls(scenario, kam_port, 10, tmp_path)
        assert rc == 0, out[-3000:]

        os_kill = bots[0][0]
        await os_kill.stop(signal.SIGKILL)  # bot1 crashes
        rc, out = await run_calls(scenario, kam_port, 6, tmp_path)
        assert rc == 0, out[-3000:]  # every call still answered
    finally:
        for proc, _, _ in bots:
            await proc.stop()
        await kam.stop()
    survivor = json.loads(bots[1][2].read_text())
    assert not bots[0][2].exists()  # killed: no stats written
    # 10 calls split 5/5, then all 6 on the survivor
    assert survivor["calls"] == 5 + 6 and survivor["end_reasons"] == {"far_end_bye": 11}
    assert survivor["leaked_calls"] == 0 and survivor["active_handlers"] == 0
