"""A call handed to people is recorded by what the hand-off did, not by the transfer alone."""

from __future__ import annotations

import pytest

from voicebot.core import CallContext
from voicebot.events import EventLog
from voicebot.records.analytics import compute
from voicebot.records.recorder import CallRecorder, RecorderOptions
from voicebot.records.store import open_store


def steps(*names, instead=None):
    out = [("transfer", {"reason": "caller_asked", "queue": "es"})]
    for n in names:
        data = {"agent": "maria", "agent_name": "María"} if n in ("offered", "accepted", "bridged") else {}
        if n == "no_agent":
            data = {"instead": instead, "next_open": "2026-11-30T09:00+01:00"}
        out.append(("handoff", {"reason": n, **data}))
    return out


@pytest.mark.parametrize("name,actions,end,outcome,reason", [
    ("agent took it", steps("queued", "offered", "accepted", "bridged", "ended"), "agent_ended", "handed_off", "agent_ended"),
    ("caller left the queue", steps("queued", "offered"), "caller_hung_up", "abandoned", "left_queue"),
    ("left after an unanswered offer", steps("queued", "offered", "offer_timeout", "offered"), "caller_hung_up", "abandoned", "left_queue"),
    ("callback promised", steps("no_agent", instead="callback"), "caller_hung_up", "handed_off", "caller_hung_up"),
    ("nobody on shift, the bot went on", steps("no_agent", instead="bot"), "caller_hung_up", "abandoned", "caller_hung_up"),
    ("no agent answered, back to the bot", steps("queued", "offered", "offer_timeout", "returned"), "caller_hung_up", "abandoned",
     "caller_hung_up"),
    ("no hand-off steps (a channel without the desk)", steps(), "caller_hung_up", "handed_off", "caller_hung_up"),
])
async def test_outcome_follows_the_handoff(tmp_path, name, actions, end, outcome, reason):
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    rec = CallRecorder(store, CallContext("c1", channel="webrtc", language="es"), RecorderOptions())
    log = EventLog()
    log.subscribe(rec)
    log.emit(0, "call_start", channel="webrtc")
    log.emit(100, "transcript", text="quiero hablar con una persona", language="es", final=True)
    log.emit(200, "bot_reply", text="Le paso con un compañero.", language="es", intent="human_agent")
    for i, (kind, data) in enumerate(actions):
        log.emit(300 + i, "action", action=kind, **data)
    log.emit(900, "call_end", reason=end, outcome="handed_off")  # what the channel says once the dialogue transferred
    await rec.aclose()
    call = store.get_call("c1")
    assert (call.outcome, call.end_reason) == (outcome, reason), name
    store.close()


async def test_agent_and_handoff_lines_are_recorded_as_theirs_and_are_no_intents(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    rec = CallRecorder(store, CallContext("c2", channel="webrtc", language="es"), RecorderOptions())
    log = EventLog()
    log.subscribe(rec)
    log.emit(0, "call_start", channel="webrtc")
    log.emit(100, "transcript", text="quiero hablar con una persona", language="es", final=True)
    log.emit(200, "bot_reply", text="Le paso con un compañero.", language="es", intent="human_agent")
    log.emit(300, "bot_reply", text="Ya está conectado con María.", language="es", agent=True, speaker="handoff")
    log.emit(400, "transcript", text="hola", language="es", final=True)
    log.emit(500, "bot_reply", text="Hola, soy María.", language="es", agent=True, speaker="agent", agent_name="María")
    log.emit(600, "bot_reply", text="older record", language="es", agent=True, intent="handoff")  # before speakers were recorded
    log.emit(900, "call_end", reason="agent_ended")
    await rec.aclose()
    turns = store.turns("c2")
    assert [(t.speaker, t.agent_name) for t in turns] == [(None, None), ("handoff", None), ("agent", "María"), ("handoff", None)]
    figures = compute(store.list_calls(), store.all_turns(), store.all_actions())
    assert dict(figures.intents) == {"human_agent": 1}
    store.close()


def test_a_store_from_before_the_speaker_columns_gets_them(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old = open_store(f"sqlite:///{path}")
    old.close()
    with sqlite3.connect(path) as db:  # as a version-1 store made before the speaker columns
        db.execute("ALTER TABLE turns DROP COLUMN agent_name")
        db.execute("ALTER TABLE turns DROP COLUMN speaker")
        db.execute("DELETE FROM schema_version WHERE version > 1")
    store = open_store(f"sqlite:///{path}")
    cols = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(turns)")}
    assert {"speaker", "agent_name"} <= cols
    store.close()
