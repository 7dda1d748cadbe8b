"""Outbound calls over SIP to real peers on loopback: sipp as the customer's phone (a real
voicemail greeting and beep; a person who presses 1, or 9; busy; no answer; 404 and 503) and
baresip as a real phone answering with a real recording. The bot is the whole pipeline
(built-in dialogue, dev ASR, espeak voice, records) on the SIP channel's user agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sip.helpers import free_port, until
from tests.sip.peers import Proc, require
from voicebot.channels.sip.channel import SipChannel
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.ua import SipOptions
from voicebot.outbound.dialer_sip import SipDialer

from .world import events, hello_ulaw, make_world, voicemail_ulaw

pytestmark = [pytest.mark.peers, pytest.mark.slow]
SCENARIOS = Path(__file__).parent / "scenarios"
DTMF = "/usr/share/sip-tester/dtmf_2833_{}.pcap"


CAPTURE = ('<action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="bot_from"/>'
           '<ereg regexp="&lt;[^&gt;]*&gt;" search_in="hdr" header="To:" assign_to="me"/></action>')


def scenario(dest: Path, name: str, **subs: str) -> Path:
    text = (SCENARIOS / name).read_text()
    if subs.get("END") in ("bot", "phone"):
        subs["CAPTURE"] = CAPTURE if subs["END"] == "phone" else ""
        subs["END"] = (SCENARIOS / f"end_{subs['END']}.xml").read_text()
    for _ in range(2):  # an END part may carry placeholders of its own
        for key, value in subs.items():
            text = text.replace("{" + key + "}", value)
    out = dest / name
    out.write_text(text)
    return out


async def sipp_uas(tmp_path: Path, xml: Path, port: int) -> Proc:
    return await Proc.start("sipp", "-sf", str(xml), "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(free_port()),
                            "-m", "1", "-nostdin", "-timeout", "90s", "-trace_err", cwd=tmp_path)


@pytest.fixture
async def bot(settings, tmp_path):
    require("sipp", "espeak-ng")
    phone_port = free_port()
    world = await make_world(settings, tmp_path, sip_target=f"sip:{{number}}@127.0.0.1:{phone_port}", ring_timeout_s=3.0,
                             callback_number="+44 20 7946 0000")
    rtp = free_port()
    channel = SipChannel(world.runtime, SipOptions(port=free_port(), rtp=RtpOptions(port_min=rtp, port_max=rtp + 10)))
    await channel.start()
    dialer = SipDialer(channel, world.options, world.outcomes)
    yield world, channel, dialer, phone_port
    await channel.stop()
    world.close()


async def test_voicemail_greeting_and_beep_get_a_short_message_after_the_beep(bot, tmp_path):
    world, channel, dialer, port = bot
    audio, beep_start, beep_end = voicemail_ulaw(tmp_path)
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "callee.xml", RING_MS="300", AUDIO=str(audio), MEDIA="", END="bot",
                                              TIMEOUT_MS="60000"), port)
    plan = world.plan("C001")
    seen = {}
    original = dialer.sip.make_bridge

    def keep(call):  # the test looks at the call's events afterwards
        seen["bridge"] = bridge = original(call)
        return bridge

    dialer.sip.make_bridge = keep
    await dialer.place(plan)
    rc, out = await phone.wait(30)
    assert rc == 0, out[-3000:]  # the phone got the bot's BYE after the message
    session = seen["bridge"].session
    [amd] = events(session, "amd")
    assert amd.data["label"] == "machine"
    [start] = events(session, "amd_message_start")
    assert start.data["after"] == "beep" and start.data["at_ms"] >= beep_end
    speech = events(session, "bot_speech_start")
    assert speech and speech[0].t_ms >= beep_end  # nothing said over the greeting or the beep
    said = " ".join(e.data["text"] for e in events(session, "bot_reply"))
    assert "message from Acme Shop" in said and "+44 20 7946 0000" in said
    order_id = plan.target.order_id
    assert order_id not in said and "Emma" not in said and "late" not in said  # no detail in a voicemail
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == "voicemail_left" and a.detail["amd"]["label"] == "machine"
    assert world.store.target("late", "C001", order_id).state == "done"
    record = world.runtime.records.store.get_call(session.ctx.call_id)
    assert record is not None and record.channel == "sip" and record.caller.startswith("+4477") and record.ended_at
    print(f"\nAMD on the wire: verdict {amd.data['reason']} at {amd.data['at_ms']:.0f} ms; beep {beep_start:.0f}-{beep_end:.0f} ms; "
          f"message from {speech[0].t_ms:.0f} ms")


async def test_a_person_answers_presses_1_and_hears_the_news(bot, tmp_path):
    world, channel, dialer, port = bot
    media = f'<pause milliseconds="7000"/><nop><action><exec play_pcap_audio="{DTMF.format(1)}"/></action></nop><pause milliseconds="9000"/>'
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "callee.xml", RING_MS="500", AUDIO=str(hello_ulaw(tmp_path)), MEDIA=media,
                                              END="phone"), port)
    plan = world.plan("C001")
    seen = {}
    original = dialer.sip.make_bridge
    dialer.sip.make_bridge = lambda call: seen.setdefault("bridge", original(call))
    await dialer.place(plan)
    rc, out = await phone.wait(30)
    assert rc == 0, out[-2000:]
    session = seen["bridge"].session
    assert [e.data["label"] for e in events(session, "amd")] == ["human"]
    replies = [e.data["text"] for e in events(session, "bot_reply") if e.data["text"]]
    order_id = plan.target.order_id
    assert "Am I speaking with Emma Thompson?" in replies[0] and order_id not in replies[0]  # who, why; no detail before "yes"
    news = next(r for r in replies if order_id in r)
    assert news.startswith("Thank you, Emma Thompson.") and "late" in news
    notes = [e.data["name"] for e in events(session, "action") if e.action == "note"]
    assert notes.index("identity_verified") < len(notes) and "outbound_outcome" in notes
    assert world.store.attempt(plan.attempt.id).outcome == "reached"


async def test_nine_opts_out_at_once_and_the_number_is_never_called_again(bot, tmp_path):
    world, channel, dialer, port = bot
    media = f'<pause milliseconds="6000"/><nop><action><exec play_pcap_audio="{DTMF.format(9)}"/></action></nop>'
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "callee.xml", RING_MS="300", AUDIO=str(hello_ulaw(tmp_path)), MEDIA=media,
                                              END="bot", TIMEOUT_MS="40000"), port)
    plan = world.plan("C003")

    async def opted_out_before_hang_up():
        await until(lambda: world.store.is_dnc(plan.target.phone) or phone.proc.returncode is not None, 40)
        return world.store.is_dnc(plan.target.phone), phone.proc.returncode

    import asyncio

    watcher = asyncio.ensure_future(opted_out_before_hang_up())
    await dialer.place(plan)
    dnc_first, rc_then = await watcher
    assert dnc_first and rc_then is None  # on the list while the goodbye was still playing, not after the call
    rc, out = await phone.wait(30)
    assert rc == 0, out[-2000:]
    assert world.store.attempt(plan.attempt.id).outcome == "opted_out"
    assert world.store.consent("C003") is False
    assert world.store.target("late", "C003", plan.target.order_id).state == "done"


@pytest.mark.parametrize(("status", "outcome", "retried"), [("486 Busy Here", "busy", True), ("404 Not Found", "invalid_number", False),
                                                            ("503 Service Unavailable", "failed", True)])
async def test_refused_calls_end_with_the_carrier_s_reason(bot, tmp_path, status, outcome, retried):
    world, channel, dialer, port = bot
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "reject.xml", STATUS=status), port)
    plan = world.plan("C002")
    await dialer.place(plan)
    rc, out = await phone.wait(15)
    assert rc == 0, out[-2000:]
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == outcome and a.detail["sip_status"] == int(status.split()[0])
    t = world.store.target("late", "C002", plan.target.order_id)
    assert (t.state == "pending" and t.next_at is not None) if retried else t.state == "done"
    assert not channel.ua.active_calls


async def test_no_answer_is_cancelled_after_the_ring_timeout(bot, tmp_path):
    world, channel, dialer, port = bot
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "no_answer.xml", TIMEOUT_MS="20000"), port)
    plan = world.plan("C004")
    await dialer.place(plan)
    rc, out = await phone.wait(20)
    assert rc == 0, out[-2000:]  # the phone saw CANCEL, answered 487, got the ACK
    assert world.store.attempt(plan.attempt.id).outcome == "no_answer"


async def test_nothing_listens_at_the_number(bot, tmp_path):
    world, channel, dialer, port = bot  # no phone on that port: the INVITE goes unanswered
    world.options.__dict__["ring_timeout_s"] = 1.0
    plan = world.plan("C005")
    await dialer.place(plan)
    assert world.store.attempt(plan.attempt.id).outcome in ("no_connect", "no_answer")
    assert not channel.ua.active_calls


async def test_a_number_that_is_not_one(bot, tmp_path):
    world, channel, dialer, port = bot
    plan = world.plan("C006")
    bad = plan.target.__class__(**{**plan.target.__dict__, "phone": "n/a"})
    await dialer.place(plan.__class__(plan.attempt, bad))
    a = world.store.attempt(plan.attempt.id)
    assert a.outcome == "invalid_number" and "not a phone number" in a.detail["error"]


async def test_a_real_phone_baresip_answers_and_hears_the_introduction(bot, tmp_path):
    """baresip (a real SIP phone) answers by itself; its microphone is a real person's "hello"
    and then silence; it hangs up when that recording ends. It records what it heard."""
    require("baresip")
    world, channel, dialer, port = bot
    import numpy as np

    from tests.sip.peers import rms_db
    from voicebot.audio.g711 import ulaw_decode
    from voicebot.audio.pcm import load_audio, write_wav

    hello = np.frombuffer(ulaw_decode(hello_ulaw(tmp_path, tail_s=14).read_bytes()), "<i2")
    mic = tmp_path / "mic.wav"
    write_wav(mic, hello, 8000)
    conf, rec = tmp_path / "phone", tmp_path / "phone-rec"
    conf.mkdir()
    rec.mkdir()
    (conf / "config").write_text("\n".join([
        "poll_method epoll", f"sip_listen 127.0.0.1:{port}", "net_interface 127.0.0.1", f"audio_source aufile,{mic}",
        "audio_player alsa,null", "audio_alert alsa,null", "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so",
        "module alsa.so", "module sndfile.so", f"snd_path {rec}", "module_tmp account.so", "module_app menu.so", ""]))
    (conf / "accounts").write_text("<sip:+447700900123@127.0.0.1>;regint=0;audio_codecs=PCMU;answermode=auto\n")
    phone = await Proc.start("baresip", "-f", str(conf), "-t", "40")
    try:
        await phone.wait_for_line("baresip is ready", 15)
        plan = world.plan("C001")
        seen = {}
        original = dialer.sip.make_bridge
        dialer.sip.make_bridge = lambda call: seen.setdefault("bridge", original(call))
        await dialer.place(plan)
    finally:
        await phone.stop()
    session = seen["bridge"].session
    assert [e.data["label"] for e in events(session, "amd")] == ["human"]
    intro = next(e.data["text"] for e in events(session, "bot_reply") if e.data["text"])
    assert "Am I speaking with Emma Thompson?" in intro
    assert world.store.attempt(plan.attempt.id).outcome == "hung_up"  # the phone hung up without answering the question
    heard = sorted(rec.glob("dump-*-dec.wav"))
    assert heard, "baresip wrote no recording"
    pcm = load_audio(heard[0], 8000).astype("<i2").tobytes()
    loud = sum(rms_db(pcm[i : i + 320]) > -40 for i in range(0, len(pcm) - 320, 320)) * 0.02
    assert loud >= 3.0, f"the phone heard only {loud:.1f} s of the bot"


async def test_the_callee_talks_over_the_introduction_and_the_bot_stops(bot, tmp_path):
    """Barge-in on an outbound call is the inbound call's: the person starts talking while the
    bot introduces itself; the bot's audio stops and it asks again; 1 then confirms."""
    world, channel, dialer, port = bot
    import numpy as np

    from voicebot.audio.g711 import ulaw_decode, ulaw_encode
    from voicebot.audio.pcm import load_audio

    from ..conftest import shared_audio

    hello = np.frombuffer(ulaw_decode(hello_ulaw(tmp_path, tail_s=0.1).read_bytes()), "<i2")
    talk = load_audio(shared_audio("telephony/spokenwoz_turn16_ch1.wav"), 8000)
    audio = tmp_path / "talks-over.ulaw"
    audio.write_bytes(ulaw_encode(np.concatenate([hello, np.zeros(int(3.5 * 8000), np.int16), talk, np.zeros(40 * 8000, np.int16)])))
    media = f'<pause milliseconds="16000"/><nop><action><exec play_pcap_audio="{DTMF.format(1)}"/></action></nop><pause milliseconds="6000"/>'
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "callee.xml", RING_MS="300", AUDIO=str(audio), MEDIA=media, END="phone"), port)
    plan = world.plan("C001")
    seen = {}
    original = dialer.sip.make_bridge
    dialer.sip.make_bridge = lambda call: seen.setdefault("bridge", original(call))
    await dialer.place(plan)
    rc, out = await phone.wait(30)
    assert rc == 0, out[-3000:]
    session = seen["bridge"].session
    stops = events(session, "bot_speech_stop")
    assert stops and stops[0].data["interrupted"] is True and stops[0].data["heard_text"] != ""  # the introduction, cut short
    assert events(session, "interruption")
    assert world.store.attempt(plan.attempt.id).outcome == "reached"


async def test_through_kamailio_in_front_of_the_bots(bot, tmp_path):
    """kamailio fronts the bot processes (telephony/kamailio/kamailio.cfg): an INVITE from a bot
    goes out to OUTBOUND_GW (here the customer's phone), not back to a bot; the dialog is
    record-routed, so the bot's BYE after the voicemail goes through kamailio too."""
    require("kamailio")
    import asyncio

    world, channel, dialer, port = bot
    cfg = Path(__file__).resolve().parents[2] / "telephony" / "kamailio" / "kamailio.cfg"
    kam_port = free_port()
    ds_list = tmp_path / "dispatcher.list"
    ds_list.write_text(f"1 sip:127.0.0.1:{channel.ua.port} 0 0\n")
    kam = await Proc.start("kamailio", "-DD", "-E", "-f", str(cfg), "-P", str(tmp_path / "kam.pid"), "-m", "64", "-M", "8",
                           "-A", f"LISTEN=udp:127.0.0.1:{kam_port}", "-A", f'DS_LIST="{ds_list}"', "-A", "DS_PING_S=1",
                           "-A", f'OUTBOUND_GW="sip:127.0.0.1:{port}"')
    audio, _, _ = voicemail_ulaw(tmp_path)
    phone = await sipp_uas(tmp_path, scenario(tmp_path, "callee.xml", RING_MS="300", AUDIO=str(audio), MEDIA="", END="bot", TIMEOUT_MS="60000"), port)
    try:
        await asyncio.sleep(1.5)  # kamailio up and its first OPTIONS round answered (as tests/sip/test_kamailio.py)
        assert kam.proc.returncode is None, "kamailio exited: check the config with kamailio -c"
        world.options.sip_target = f"sip:{{number}}@127.0.0.1:{kam_port}"
        plan = world.plan("C001")
        await dialer.place(plan)
        rc, out = await phone.wait(30)
        assert rc == 0, out[-3000:]
    finally:
        await kam.stop()
    assert world.store.attempt(plan.attempt.id).outcome == "voicemail_left"
    assert world.store.attempt(plan.attempt.id).detail["uri"] == f"sip:+447700900123@127.0.0.1:{kam_port}"
