"""The SIP user agent against real SIP peers on loopback: sipp and baresip, audio captured with tshark.

The bot side here is the pipeline-free :class:`GreetingHandler` (plays an espeak-ng prompt,
records what the caller sent), so these tests need no models.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from pathlib import Path
from typing import Self

import pytest

from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import load_audio
from voicebot.channels.sip.greeter import GreetingHandler, GreetingOptions
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.ua import SipOptions, SipUserAgent

from .helpers import free_port, until
from .peers import (
    Capture,
    Proc,
    activity_match,
    best_correlation,
    decode_stream,
    render,
    require,
    rms_db,
    shared_audio,
    speech_fraction,
)

pytestmark = [pytest.mark.peers, pytest.mark.slow]

CALLER = "telephony/spokenwoz_turn16_ch1.wav"  # 4.54 s, 8 kHz, a real caller turn
GREETING_TEXT = "Hello, thank you for calling. How can I help you today?"


@pytest.fixture(scope="module")
def greeting(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    require("espeak-ng")
    wav = tmp_path_factory.mktemp("greeting") / "greeting.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", GREETING_TEXT, "-w", str(wav)], check=True, timeout=30)
    return load_audio(wav, 8000).astype("<i2").tobytes()


@pytest.fixture
def caller_ulaw(tmp_path: Path) -> tuple[Path, bytes]:
    pcm = load_audio(shared_audio(CALLER), 8000)
    raw = ulaw_encode(pcm)
    path = tmp_path / "caller.ulaw"
    path.write_bytes(raw)
    return path, raw


class Bot:
    """The UA in this process, on free ports, with one RTP port so tshark can filter on it."""

    def __init__(self, greeting: bytes, options: GreetingOptions | None = None, *, comedia: bool = False) -> None:
        self.rtp_port = free_port()
        self.handler = GreetingHandler(greeting, options or GreetingOptions())
        rtp = RtpOptions(port_min=self.rtp_port, port_max=self.rtp_port, comedia=comedia)
        self.ua = SipUserAgent(SipOptions(port=free_port(), rtp=rtp), self.handler)

    async def __aenter__(self) -> Self:
        await self.ua.start()
        return self

    async def __aexit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        await self.ua.stop()
        assert not self.ua.active_calls, "calls leaked"
        assert not self.ua._tasks, f"tasks leaked: {self.ua._tasks}"
        assert self.handler.active == 0

    def only_record(self):  # type: ignore[no-untyped-def]
        assert len(self.handler.records) == 1, self.handler.records.keys()
        return next(iter(self.handler.records.values()))

    async def wait_ended(self, timeout: float = 5.0) -> None:
        await until(lambda: self.handler.records and not self.ua.active_calls and self.handler.active == 0, timeout)


async def sipp(scenario: Path, bot: Bot, *extra: str, timeout: float = 40.0) -> tuple[int, str]:
    require("sipp")
    proc = await Proc.start("sipp", f"127.0.0.1:{bot.ua.port}", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_port()),
                            "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", f"{int(timeout) - 5}s",
                            "-trace_err", *extra, cwd=scenario.parent)
    return await proc.wait(timeout)


async def test_sipp_caller_hears_greeting_and_bot_hears_caller(tmp_path: Path, greeting: bytes, caller_ulaw) -> None:
    require("sipp", "tshark")
    ulaw_path, caller_raw = caller_ulaw
    scenario = render("caller_audio.xml", tmp_path, MEDIA=f'<nop><action><exec rtp_stream="{ulaw_path},1,0"/></action></nop>',
                      HOLD_MS="6000")
    async with Bot(greeting) as bot:
        async with Capture(tmp_path / "bot.pcapng", f"udp src port {bot.rtp_port}") as cap:
            rc, out = await sipp(scenario, bot)
            assert rc == 0, out[-3000:]
            await bot.wait_ended()
        rec = bot.only_record()
        assert rec.end_reason == "far_end_bye" and rec.caller == "+15550001111"
        assert rec.sent_frames == len(greeting) // 320 and rec.late_frames <= 10  # 2 shared CPUs: a few late ticks

    # What the caller heard, from the wire: exactly the greeting, one SSRC, 20 ms steps, real time.
    rows = cap.rtp(bot.rtp_port)
    assert len(rows) == rec.sent_frames
    assert len({r[3] for r in rows}) == 1 and {r[4] for r in rows} == {0}
    by_ts = sorted(rows, key=lambda r: r[2])
    assert all(b[2] - a[2] == 160 and (b[1] - a[1]) % 65536 == 1 for a, b in itertools.pairwise(by_ts))
    heard = decode_stream(rows)
    usable = len(greeting) // 320 * 320
    assert heard == ulaw_decode(ulaw_encode(greeting[:usable]))  # bit-exact G.711 of what we sent
    duration = len(heard) / 16000
    assert abs(duration - usable / 16000) < 0.001 and duration > 3.5
    span = by_ts[-1][0] - by_ts[0][0]
    assert abs(span - (duration - 0.02)) < 0.5, f"paced over {span:.2f} s for {duration:.2f} s of audio"
    assert rms_db(heard) > -35 and speech_fraction(heard) > 0.5

    # What the bot heard: the caller's recording, sample-exact after G.711.
    expected = ulaw_decode(caller_raw)
    got = bytes(rec.received)
    assert len(got) >= 0.95 * len(expected)
    assert got == expected[: len(got)]


async def test_sipp_rfc4733_dtmf_reaches_callback(tmp_path: Path, greeting: bytes) -> None:
    require("sipp")
    media = "".join(
        f'<nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_{d}.pcap"/></action></nop><pause milliseconds="600"/>'
        for d in ("1", "5", "pound")
    )
    if not Path("/usr/share/sip-tester/dtmf_2833_1.pcap").exists():
        pytest.skip("sipp's RFC 2833 pcaps are missing (/usr/share/sip-tester)")
    scenario = render("caller_audio.xml", tmp_path, MEDIA=media, HOLD_MS="500")
    async with Bot(greeting) as bot:
        rc, out = await sipp(scenario, bot)
        assert rc == 0, out[-3000:]
        await bot.wait_ended()
        rec = bot.only_record()
    assert rec.dtmf == ["1", "5", "#"]


async def test_bot_hangs_up_and_sipp_gets_bye(tmp_path: Path, greeting: bytes, caller_ulaw) -> None:
    ulaw_path, _ = caller_ulaw
    scenario = render("caller_waits_bye.xml", tmp_path, AUDIO=str(ulaw_path), TIMEOUT_MS="15000")
    async with Bot(greeting, GreetingOptions(hangup_after_s=5.0)) as bot:
        rc, out = await sipp(scenario, bot)
        assert rc == 0, out[-3000:]
        await bot.wait_ended()
        rec = bot.only_record()
    assert rec.end_reason == "bot_hangup" and rec.sent_frames == len(greeting) // 320


@pytest.mark.parametrize("final,expected", [("200 OK", True), ("486 Busy Here", False)])
async def test_refer_blind_transfer_to_sipp_transferee(tmp_path: Path, greeting: bytes, caller_ulaw, final: str, expected: bool) -> None:
    ulaw_path, _ = caller_ulaw
    scenario = render("transferee.xml", tmp_path, MEDIA=f'<nop><action><exec rtp_stream="{ulaw_path},1,0"/></action></nop>',
                      TIMEOUT_MS="15000", FINAL_STATUS=final, REFER_TO="sip:agent@127.0.0.1:5999")
    async with Bot(greeting, GreetingOptions(refer_to="sip:agent@127.0.0.1:5999")) as bot:
        rc, out = await sipp(scenario, bot)
        assert rc == 0, out[-3000:]
        await bot.wait_ended()
        rec = bot.only_record()
    assert rec.refer_result is expected
    assert rec.end_reason == ("transferred" if expected else "transfer_failed")


async def test_codec_mismatch_gets_488_from_sipp_view(tmp_path: Path, greeting: bytes) -> None:
    scenario = render("codec_mismatch.xml", tmp_path)
    async with Bot(greeting) as bot:
        rc, out = await sipp(scenario, bot)
        assert rc == 0, out[-3000:]
        assert bot.ua.counters["rejected_488"] == 1 and not bot.handler.records


async def test_baresip_calls_hears_greeting_and_hangs_up(tmp_path: Path, greeting: bytes) -> None:
    require("baresip", "sox")
    caller = tmp_path / "caller.wav"
    # baresip hangs up when its source WAV ends: 4.5 s of speech + 3.5 s of silence keeps it on for the greeting
    sox = await Proc.start("sox", str(shared_audio(CALLER)), "-r", "8000", "-c", "1", str(caller), "pad", "0", "3.5")
    assert (await sox.wait(30))[0] == 0
    conf = tmp_path / "baresip"
    rec_dir = tmp_path / "rec"
    conf.mkdir()
    rec_dir.mkdir()
    port = free_port()
    (conf / "config").write_text("\n".join([
        "poll_method epoll", f"sip_listen 127.0.0.1:{port}", "net_interface 127.0.0.1",  # SDP must say 127.0.0.1
        f"audio_source aufile,{caller}", "audio_player alsa,null", "audio_alert alsa,null",
        "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so", "module alsa.so", "module sndfile.so",
        f"snd_path {rec_dir}", "module_tmp account.so", "module_app menu.so", "",
    ]))
    (conf / "accounts").write_text("<sip:tester@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    async with Bot(greeting) as bot:
        phone = await Proc.start("baresip", "-f", str(conf), "-e", f"/dial sip:bot@127.0.0.1:{bot.ua.port}", "-t", "14")
        try:
            _rc, out = await phone.wait(30)
        finally:
            await phone.stop()
        assert "Call established" in out, out[-3000:]
        await bot.wait_ended()
        rec = bot.only_record()
    assert rec.end_reason == "far_end_bye"  # baresip hung up cleanly with BYE
    heard_files = list(rec_dir.glob("dump-*-dec.wav"))
    assert len(heard_files) == 1
    heard = load_audio(heard_files[0], 8000).astype("<i2").tobytes()
    voiced = speech_fraction(heard)
    assert len(heard) / 16000 >= 3.5 and voiced > 0.3, (len(heard) / 16000, voiced)
    # baresip decoded the greeting, and the bot got baresip's caller audio
    assert best_correlation(greeting, heard) > 0.9
    caller_pcm = load_audio(caller, 8000).astype("<i2").tobytes()
    assert best_correlation(caller_pcm[:16000 * 4], bytes(rec.received)) > 0.9


async def test_linphonec_calls_hears_greeting_and_hangs_up(tmp_path: Path, greeting: bytes) -> None:
    require("linphonec", "sox")
    caller = tmp_path / "caller.wav"
    sox = await Proc.start("sox", str(shared_audio(CALLER)), "-r", "8000", "-c", "1", str(caller), "pad", "0", "3.5")
    assert (await sox.wait(30))[0] == 0
    heard_wav = tmp_path / "heard.wav"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".linphonerc").write_text(  # plain playout: no echo canceller, fixed jitter buffer
        "[sip]\nsip_tcp_port=-1\n[sound]\nechocancellation=0\n[rtp]\naudio_adaptive_jitt_comp_enabled=0\n"
        "[video]\nenabled=0\ncapture=0\ndisplay=0\n")
    # linphonec writes its host address (not 127.0.0.1) in its SDP: the bot answers it "comedia",
    # sending only to where linphone's RTP comes from, so nothing leaves the loopback interface.
    async with Bot(greeting, comedia=True) as bot:
        phone = await Proc.start("linphonec", env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, stdin=subprocess.PIPE)
        try:
            stdin = phone.proc.stdin
            assert stdin is not None
            # linphonec 5.1 ignores sip_port from the rc file when driven on stdin: set it by command
            for cmd in ["soundcard use files", "ipv6 disable", f"ports sip {free_port()}", f"play {caller}", f"record {heard_wav}",
                        f"call sip:bot@127.0.0.1:{bot.ua.port}"]:
                stdin.write(cmd.encode() + b"\n")
            await stdin.drain()
            await phone.wait_for_line("connected", 15)
            await asyncio.sleep(7.0)  # the greeting plays (4.1 s) while the caller talks
            stdin.write(b"terminate\nquit\n")
            await stdin.drain()
            await phone.wait(20)
        finally:
            await phone.stop()  # by PID, whatever happened
        await bot.wait_ended()
        rec = bot.only_record()
    assert rec.end_reason == "far_end_bye" and rec.sent_frames == len(greeting) // 320
    caller_pcm = load_audio(caller, 8000).astype("<i2").tobytes()
    assert best_correlation(caller_pcm[:32000], bytes(rec.received), max_lag=8000) > 0.9
    heard = load_audio(heard_wav, 8000).astype("<i2").tobytes()
    # linphone's playout filters and time-stretches (waveform correlation only ~0.5), so check
    # what it played has the greeting's speech/pause structure and length
    def voiced_s(pcm: bytes) -> float:
        return sum(rms_db(pcm[i : i + 320]) > -45 for i in range(0, len(pcm) - 319, 320)) * 0.02

    assert abs(voiced_s(heard) - voiced_s(greeting)) < 0.4, (voiced_s(heard), voiced_s(greeting))
    assert activity_match(greeting, heard) >= 0.85 and speech_fraction(heard) > 0.3
