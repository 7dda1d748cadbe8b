"""A small, varied set of recorded calls for the page tests (several days, languages, outcomes;
two web calls handed to people: one María took, one whose caller left the queue)."""

from __future__ import annotations

from pathlib import Path

from voicebot.core import CallContext
from voicebot.events import EventLog
from voicebot.records.recorder import CallRecorder, RecorderOptions
from voicebot.records.store import RecordStore

from .sim import SimCall, run_support_call

DAY = 86400.0

# (call id, language, day offset, caller text, intent, ending)
SHORT_CALLS = [
    ("en-1", "en", -1, "where is my order 45712", "order_status", "bye"),
    ("en-2", "en", -2, "i want a refund for the broken lamp", "return_refund", "transfer:policy"),
    ("de-1", "de", -1, "mein paket ist nicht angekommen", "not_received", "bye"),
    ("de-2", "de", -3, "ich möchte mit einem menschen sprechen", "human_agent", "transfer:caller_asked"),
    ("fr-1", "fr", -2, "je veux annuler ma commande", "cancel_order", "hangup"),
    ("es-2", "es", -3, "me cobraron dos veces", "payment_issue", "transfer:frustration"),
    ("en-3", "en", -3, "hello", "out_of_scope", "abandon"),
]


async def _short_call(store: RecordStore, cid: str, lang: str, started: float, text: str, intent: str, ending: str, offset_ms: float) -> None:
    rec = CallRecorder(store, CallContext(call_id=cid, channel="twilio" if lang == "en" else "sip", caller_number="+4930123456"),
                       RecorderOptions(clock=lambda: started))  # fmt: skip
    log = EventLog()
    log.subscribe(rec)
    t = 0.0
    log.emit(t, "call_start", channel=rec.ctx.channel, pipeline="phone", dev_models=False)
    log.emit(t + 200, "bot_reply", text="Hello, how can I help?", language=lang, intent="greeting")
    log.emit(t + 300, "bot_speech_start")
    log.emit(t + 2300, "bot_speech_stop", heard_text="Hello, how can I help?", interrupted=False)
    log.emit(t + 2600, "vad_start", onset_ms=2500)
    log.emit(t + 4200, "vad_stop", end_ms=4000)
    log.emit(t + 4500 + offset_ms, "transcript", text=text, language=lang, final=True)
    log.emit(t + 4800 + offset_ms, "bot_reply", text="Let me check that for you.", language=lang, intent=intent)
    log.emit(t + 5000 + offset_ms * 2, "bot_speech_start")
    log.emit(t + 7000 + offset_ms * 2, "bot_speech_stop", heard_text="Let me check that for you.", interrupted=False)
    if ending.startswith("transfer:"):
        log.emit(t + 7100, "action", action="transfer", reason=ending.split(":", 1)[1], queue=lang)
    elif ending == "hangup":
        log.emit(t + 7100, "action", action="hangup", reason="completed")
    elif ending == "bye":
        log.emit(t + 8000, "transcript", text="thanks bye", language=lang, final=True)
        log.emit(t + 8200, "bot_reply", text="Goodbye!", language=lang, intent="goodbye")
    log.emit(t + 9000, "call_end", reason="caller_hung_up")
    await rec.aclose()


async def _handoff_call(store: RecordStore, cid: str, lang: str, started: float, taken: bool) -> None:
    """A web caller handed to people: María takes it (``taken``), or the caller leaves the queue first."""
    rec = CallRecorder(store, CallContext(call_id=cid, channel="webrtc", customer_id=f"customer-{cid}", language=lang),
                       RecorderOptions(clock=lambda: started))  # fmt: skip
    log = EventLog()
    log.subscribe(rec)
    log.emit(0, "call_start", channel="webrtc", pipeline="phone", dev_models=False)
    log.emit(200, "bot_reply", text="Hola, ¿en qué puedo ayudarle?", language=lang, intent="greeting")
    log.emit(2000, "transcript", text="quiero hablar con una persona", language=lang, final=True, typed=True)
    log.emit(2100, "bot_reply", text="Le paso con un compañero.", language=lang, intent="human_agent")
    log.emit(2200, "bot_speech_start")
    log.emit(3500, "bot_speech_stop", heard_text="Le paso con un compañero.", interrupted=False)
    log.emit(3600, "action", action="transfer", reason="caller_asked", queue=lang)
    log.emit(3700, "action", action="handoff", reason="queued", queue=lang, wait_s=0.0)
    log.emit(3800, "action", action="handoff", reason="offered", agent="maria", agent_name="María")
    if taken:
        log.emit(9800, "action", action="handoff", reason="accepted", agent="maria", agent_name="María")
        log.emit(9900, "action", action="handoff", reason="bridged", agent="maria", agent_name="María", mode="relay", language=lang)
        log.emit(10000, "bot_reply", text="Ya está conectado con María.", language=lang, agent=True, speaker="handoff", turn_id=1_000_001)
        log.emit(14000, "transcript", text="mi pedido 45712 no ha llegado", language=lang, final=True, typed=True)
        log.emit(16000, "bot_reply", text="Lo reviso ahora mismo.", language=lang, agent=True, speaker="agent", agent_name="María",
                 turn_id=1_000_002)
        log.emit(30000, "action", action="handoff", reason="ended", agent="maria", agent_name="María")
        log.emit(30100, "call_end", reason="agent_ended", outcome="handed_off")
    else:
        log.emit(20000, "call_end", reason="caller_hung_up", outcome="handed_off")  # the channel said "handed off"; nobody took it
    await rec.aclose()


async def seed(store: RecordStore, rec_dir: Path, now: float) -> None:
    """One fully recorded Spanish call with audio (today) plus short calls over three days."""
    rec = CallRecorder(store, CallContext(call_id="es-1", channel="twilio", caller_number="+34612345678"),
                       RecorderOptions(recordings_dir=rec_dir, clock=lambda: now - 3600))  # fmt: skip
    run_support_call(SimCall(rec, channel="twilio"))
    await rec.aclose()
    for i, (cid, lang, day, text, intent, ending) in enumerate(SHORT_CALLS):
        await _short_call(store, cid, lang, now + day * DAY, text, intent, ending, offset_ms=100.0 * i)
    await _handoff_call(store, "es-3", "es", now - 2 * 3600, taken=True)
    await _handoff_call(store, "es-4", "es", now - 3 * 3600, taken=False)
