"""Attended transfer on SIP: the bot calls the agent, briefs them, then bridges the two legs.

While the agent's phone rings and the bot speaks the briefing (the context card's summary in
the agent's language, with the call's own TTS voice, sent as RTP at real-time pace), the
caller hears a soft hold tone and the bot says nothing to them. Once briefed, the caller's
and the agent's RTP are relayed through the bot (:class:`~voicebot.channels.sip.leg_bridge.LegBridge`);
either side hanging up ends the other with BYE.

Chosen with ``sip.transfer_mode: attended`` (default ``blind``: REFER, the bot leaves the
call at once and uses no media resources for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicebot.audio.pcm import resample
from voicebot.channels.sip.leg_bridge import BridgeEnd, LegBridge, send_paced
from voicebot.channels.sip.rtp_session import FRAME_SAMPLES, SAMPLE_RATE
from voicebot.channels.sip.sip_call import SipCall
from voicebot.channels.sip.ua import SipCallFailed
from voicebot.logs import get_logger
from voicebot.tts.sentences import split_sentences

from .context import LABELS, Card, term
from .routing import Agent

log = get_logger(__name__)

TRANSFER_MODES = ("blind", "attended")
Emit = Callable[..., None]  # CallState.emit(kind, **data)

LEAD_IN = {
    "en": "Call transferred from the voice bot.",
    "es": "Llamada transferida por el asistente de voz.",
    "de": "Anruf vom Sprachassistenten weitergeleitet.",
    "fr": "Appel transféré par l'assistant vocal.",
}


@dataclass(frozen=True)
class AttendedOptions:
    """How a SIP call reaches an agent who has a SIP contact (``settings.sip``)."""

    mode: str = "blind"  # blind: REFER; attended: the bot calls the agent, briefs them, bridges
    answer_timeout_s: float = 30.0  # the agent's phone rings this long before the bot gives up (CANCEL)
    hold_tone: bool = True  # the caller hears a soft beep every few seconds while waiting; False = silence

    def __post_init__(self) -> None:
        if self.mode not in TRANSFER_MODES:
            raise ValueError(f"sip.transfer_mode is {self.mode!r}: set it to 'blind' (REFER) or 'attended' (the bot calls and briefs the agent)")

    @classmethod
    def from_settings(cls, sip: Any) -> AttendedOptions:
        """From the typed ``voicebot.config.SipSettings`` (None: a runtime without settings, the defaults)."""
        if sip is None:
            return cls()
        return cls(mode=sip.transfer_mode, answer_timeout_s=sip.agent_answer_timeout_s, hold_tone=sip.hold_tone)


def briefing_text(card: Card) -> str:
    """What the bot tells the agent before connecting, in the agent's language: a lead-in, then
    only what is known (who, whether verified, what they asked, orders, a non-neutral mood, why).
    Spoken at real time while the caller holds, so empty fields are left out, not read as "none"."""
    lang = card.agent_language
    lab = LABELS.get(lang, LABELS["en"])
    who = card.caller.get("name") or card.caller.get("number") or lab["unknown"].capitalize()
    parts = [LEAD_IN.get(lang, LEAD_IN["en"]), f"{who}, {lab['verified'] if card.caller.get('verified') else lab['not_verified']}."]
    if card.intents:
        parts.append(f"{lab['intents']}: {', '.join(dict.fromkeys(term(i, lang) for i in card.intents))}.")
    if card.orders:
        parts.append(f"{lab['orders']}: {', '.join(card.orders)}.")
    if card.sentiment not in ("neutral", "positive", ""):
        parts.append(f"{lab['sentiment']}: {term(card.sentiment, lang)}.")
    parts.append(f"{lab['reason']}: {term(card.reason, lang)}.")
    return " ".join(parts)


class HoldTone:
    """What a caller on hold hears: a soft 425 Hz beep (``on_s``) every ``period_s``; 20 ms PCM16 frames."""

    def __init__(self, freq_hz: float = 425.0, on_s: float = 0.2, period_s: float = 3.0, level_dbfs: float = -24.0) -> None:
        n = round(period_s * SAMPLE_RATE / FRAME_SAMPLES) * FRAME_SAMPLES
        t = np.arange(n) / SAMPLE_RATE
        amp = 32767 * 10 ** (level_dbfs / 20)
        wave = np.where(t < on_s, amp * np.sin(2 * math.pi * freq_hz * t), 0.0)
        ramp = min(len(wave), int(0.01 * SAMPLE_RATE))  # 10 ms fades: no clicks
        wave[:ramp] *= np.linspace(0, 1, ramp)
        on = int(on_s * SAMPLE_RATE)
        wave[max(0, on - ramp) : on] *= np.linspace(1, 0, min(ramp, on))
        self._pcm = wave.astype("<i2").tobytes()
        self._pos = 0

    def next_frame(self) -> bytes:
        size = 2 * FRAME_SAMPLES
        frame = self._pcm[self._pos : self._pos + size]
        self._pos = (self._pos + size) % len(self._pcm)
        return frame


async def synthesize_8k(runtime: Any, spec: Any, text: str, language: str) -> bytes:
    """``text`` in the runtime's voice for ``language`` (the calls' own TTS), as PCM16 8 kHz; off the loop."""
    loop = asyncio.get_running_loop()
    catalog = runtime.voices(spec)
    voice = await loop.run_in_executor(runtime.tts_executor, catalog.voice_for, language)
    parts = []
    for sentence in split_sentences(text):
        speech = await loop.run_in_executor(runtime.tts_executor, voice.synthesize, sentence)
        parts.append(resample(speech.pcm, speech.sample_rate, SAMPLE_RATE).astype("<i2").tobytes())
    return b"".join(parts)


class AttendedTransfer:
    """One attended transfer of ``caller`` to ``agent``: :meth:`connect`, then :meth:`wait_end`."""

    def __init__(self, caller: SipCall, agent: Agent, briefing: Awaitable[bytes], *,
                 options: AttendedOptions = AttendedOptions(mode="attended"), emit: Emit | None = None) -> None:
        self.caller = caller
        self.agent = agent
        self.briefing = briefing
        self.options = options
        self.emit: Emit = emit or (lambda *_a, **_k: None)
        self.leg: SipCall | None = None
        self.bridge: LegBridge | None = None
        self.marks: dict[str, float] = {}  # loop times: dialing, answered, bridged, ended
        self.failure: tuple[int, str] | None = None  # (SIP status, reason) of a failed agent leg
        self.end: BridgeEnd | None = None
        self._run: asyncio.Task[BridgeEnd] | None = None

    def _mark(self, name: str) -> None:
        self.marks[name] = asyncio.get_running_loop().time()

    def timings_ms(self) -> dict[str, float]:
        """dial (dialing -> answered) and briefing (answered -> bridged), in ms."""
        m, out = self.marks, {}
        if "answered" in m:
            out["dial_ms"] = round((m["answered"] - m["dialing"]) * 1000, 1)
        if "bridged" in m:
            out["briefing_ms"] = round((m["bridged"] - m["answered"]) * 1000, 1)
        return out

    def _failed(self, status: int, reason: str) -> bool:
        self.failure = (status, reason)
        self.emit("handoff_leg", stage="failed", agent=self.agent.id, target=self.agent.contact, status=status, reason=reason)
        log.warning("agent leg failed; the caller stays with the bot", extra={
            "call_id": self.caller.call_id, "agent": self.agent.id, "target": self.agent.contact, "status": status, "reason": reason})
        return False

    async def connect(self) -> bool:
        """Dial, brief, bridge. False when the agent's leg failed (busy, no answer, 4xx/5xx, hung up
        during the briefing) or the caller left first; nothing is left ringing or up then."""
        contact = self.agent.contact or ""
        if not contact.startswith(("sip:", "sips:")):
            return self._failed(0, f"agent {self.agent.id} has no SIP contact ({contact or 'none'}): set a sip: URI on the agent")
        self._mark("dialing")
        self.emit("handoff_leg", stage="dialing", agent=self.agent.id, target=contact)
        try:
            self.leg = await self.caller.user_agent.dial(contact, timeout_s=self.options.answer_timeout_s, abandon=self.caller.ended)
        except SipCallFailed as exc:
            return self._failed(exc.status, exc.reason)
        except (OSError, ValueError) as exc:  # no RTP port, an unparseable contact
            return self._failed(0, str(exc))
        self._mark("answered")
        self.emit("handoff_leg", stage="answered", agent=self.agent.id, codec=self.leg.rtp.media.codec if self.leg.rtp.media else None,
                  **self.timings_ms())
        if not self.caller.is_up:
            await self.leg.hangup("caller_left")
            return self._failed(0, "the caller hung up while the agent's phone rang")
        try:
            pcm = await self.briefing
        except Exception:  # the agent still gets the caller, just without the spoken briefing
            log.exception("briefing synthesis failed; bridging without it", extra={"call_id": self.caller.call_id})
            pcm = b""
        sent = await send_paced(self.leg, pcm, stop=lambda: not self.caller.is_up)
        if not self.caller.is_up:
            await self.leg.hangup("caller_left")
            return self._failed(0, "the caller hung up during the briefing")
        if not self.leg.is_up:
            return self._failed(0, "the agent hung up during the briefing")
        self.bridge = LegBridge(self.caller, self.leg)
        self.bridge.start()
        self._mark("bridged")
        self.emit("handoff_leg", stage="bridged", agent=self.agent.id, briefing_frames=sent, **self.timings_ms())
        self._run = asyncio.get_running_loop().create_task(self._follow(), name=f"attended-{self.caller.call_id}")
        return True

    async def _follow(self) -> BridgeEnd:
        assert self.bridge is not None
        self.end = await self.bridge.run()
        self._mark("ended")
        self.emit("handoff_leg", stage="ended", agent=self.agent.id, ended_by=self.end.ended_by, reason=self.end.reason,
                  bridged_s=round(self.marks["ended"] - self.marks["bridged"], 3),
                  relayed={k: v.relayed for k, v in self.bridge.stats.items()})
        return self.end

    async def wait_end(self, timeout_s: float | None = None) -> BridgeEnd | None:
        """The bridge's end (who hung up first); None if it is not bridged or still running after ``timeout_s``."""
        if self._run is None:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self._run), timeout_s)
        return None

    async def hang_up(self, reason: str) -> None:
        """End both legs (the desk ended the call)."""
        for call in (self.leg, self.caller):
            if call is not None and call.is_up:
                await call.hangup(reason)

    async def back_to_bot(self) -> None:
        """The agent sends the caller back: the agent's leg ends, the caller's stays and is the bot's again."""
        if self.bridge is not None:
            await self.bridge.release(keep=self.caller, reason="back_to_bot")
        elif self.leg is not None and self.leg.is_up:
            await self.leg.hangup("back_to_bot")
