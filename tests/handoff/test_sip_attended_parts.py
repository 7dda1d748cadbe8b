"""The attended transfer's parts: briefing text, hold tone, settings; and the agent leg failing
(no answer, caller gone while it rings) between user agents on loopback."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.sip.helpers import free_port, until
from tests.sip.peers import rms_db
from voicebot.channels.sip.rtp_session import RtpOptions
from voicebot.channels.sip.sip_call import SipCall
from voicebot.channels.sip.ua import SipOptions, SipUserAgent
from voicebot.config import load_settings
from voicebot.core import CallerCard, ContextPacket
from voicebot.handoff.context import build_card
from voicebot.handoff.routing import Agent
from voicebot.handoff.sip_attended import AttendedOptions, AttendedTransfer, HoldTone, briefing_text


async def test_briefing_is_the_cards_summary_in_the_agents_language() -> None:
    packet = ContextPacket(caller=CallerCard(name="Marta", verified=True), intents=["order_status"], orders=["A1001"], reason="frustration")
    es = briefing_text(await build_card("c1", packet, "en", "es"))
    assert es.startswith("Llamada transferida por el asistente de voz.")
    assert "Marta" in es and "Identidad verificada" in es and "A1001" in es and "frustración" in es
    en = briefing_text(await build_card("c1", ContextPacket(), "de", "en"))
    assert en.startswith("Call transferred from the voice bot.") and "Unknown caller" in en
    assert "none" not in en and "Orders" not in en and "Sentiment" not in en  # nothing known is not read out to the agent
    assert briefing_text(await build_card("c1", ContextPacket(), "en", "ja")).startswith("Call transferred")  # no Japanese lead-in: English


def test_hold_tone_is_a_soft_beep_then_silence_each_period() -> None:
    tone = HoldTone(on_s=0.2, period_s=3.0, level_dbfs=-24.0)
    frames = [tone.next_frame() for _ in range(300)]  # 6 s
    assert all(len(f) == 320 for f in frames)
    loud = [rms_db(f) > -40 for f in frames]
    assert loud[:10] == [True] * 10 and not any(loud[10:150]) and loud[150:160] == [True] * 10
    peak = max(np.abs(np.frombuffer(b"".join(frames), "<i2")))
    assert 1500 < peak < 2400  # -24 dBFS, never loud


def test_transfer_mode_is_checked_with_a_hint(tmp_path) -> None:
    assert AttendedOptions().mode == "blind"  # the default stays REFER
    with pytest.raises(ValueError, match="blind.*attended"):
        AttendedOptions(mode="warm")
    settings = load_settings(env={"VOICEBOT_SIP__TRANSFER_MODE": "attended", "VOICEBOT_SIP__AGENT_ANSWER_TIMEOUT_S": "12"})
    opts = AttendedOptions.from_settings(settings.sip)
    assert (opts.mode, opts.answer_timeout_s, opts.hold_tone) == ("attended", 12.0, True)
    with pytest.raises(ValueError, match="sip.transfer_mode"):
        load_settings(env={"VOICEBOT_SIP__TRANSFER_MODE": "warm"})


class Phone:
    def __init__(self, answer_delay_s: float = 0.0) -> None:
        rtp = free_port()
        self.calls: list[SipCall] = []
        self.ua = SipUserAgent(SipOptions(port=free_port(), transports=("udp",), answer_delay_s=answer_delay_s,
                                          rtp=RtpOptions(port_min=rtp, port_max=rtp + 40)), self._keep)

    async def _keep(self, call: SipCall) -> None:
        self.calls.append(call)
        await call.ended


@pytest.fixture
async def phones():
    ringing_forever, bot, caller = Phone(answer_delay_s=3600), Phone(), Phone()
    for p in (ringing_forever, bot, caller):
        await p.ua.start()
    yield ringing_forever, bot, caller
    for p in (caller, bot, ringing_forever):
        await p.ua.stop()


async def _caller_leg(bot: Phone, caller: Phone) -> tuple[SipCall, SipCall]:
    leg = await caller.ua.dial(f"sip:bot@127.0.0.1:{bot.ua.port}")
    await until(lambda: bot.calls, 5)
    return leg, bot.calls[0]


async def test_agent_phone_not_answering_is_cancelled_after_the_timeout(phones) -> None:
    agent, bot, caller = phones
    _leg, at_bot = await _caller_leg(bot, caller)
    events: list[tuple[str, dict]] = []
    done = asyncio.get_running_loop().create_future()
    done.set_result(b"")
    transfer = AttendedTransfer(at_bot, Agent("ann", "Ann", ("en",), contact=f"sip:ann@127.0.0.1:{agent.ua.port}"), done,
                                options=AttendedOptions(mode="attended", answer_timeout_s=0.3),
                                emit=lambda kind, **d: events.append((kind, d)))
    assert await transfer.connect() is False
    assert transfer.failure is not None and transfer.failure[0] == 487  # CANCELled: Request Terminated
    assert [d["stage"] for _, d in events] == ["dialing", "failed"]
    assert at_bot.is_up and not agent.ua.active_calls  # the caller stays with the bot; nothing rings on


async def test_caller_hanging_up_while_the_agent_rings_cancels_the_agent_leg(phones) -> None:
    agent, bot, caller = phones
    leg, at_bot = await _caller_leg(bot, caller)
    done = asyncio.get_running_loop().create_future()
    done.set_result(b"")
    transfer = AttendedTransfer(at_bot, Agent("ann", "Ann", ("en",), contact=f"sip:ann@127.0.0.1:{agent.ua.port}"), done,
                                options=AttendedOptions(mode="attended", answer_timeout_s=30.0))
    connecting = asyncio.create_task(transfer.connect())
    await until(lambda: agent.ua._invites, 5)  # the agent's phone rings
    await leg.hangup("caller_left")
    assert await asyncio.wait_for(connecting, 5) is False
    assert transfer.failure is not None and transfer.failure[0] == 487
    await until(lambda: not agent.ua._invites and not agent.ua.active_calls, 5)
