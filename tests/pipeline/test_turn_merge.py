"""The dialogue stage when the caller went on after a pause: the first part's answer is taken
back and both parts are answered as one turn, unless that answer already did something."""

from __future__ import annotations

from voicebot.clock import VirtualClock
from voicebot.core import CallContext, Note
from voicebot.dialogue.api import CallerTurn, DialogueReply
from voicebot.dialogue.processor import DialogueProcessor
from voicebot.pipeline.frames import CallerTextFrame
from voicebot.pipeline.state import CallState


class Session:
    """Answers with what it was told; its state is the list of turns it answered."""

    def __init__(self, action=None):
        self.turns: list[str] = []
        self.action = action

    async def respond(self, turn: CallerTurn) -> DialogueReply:
        self.turns.append(turn.text)
        return DialogueReply(text=f"you said: {turn.text}", language="en", actions=(self.action,) if self.action else ())

    def snapshot(self):
        return list(self.turns)

    def restore(self, snapshot):
        self.turns = list(snapshot)


def processor(session):
    state = CallState(ctx=CallContext(call_id="c"), clock=VirtualClock())
    proc = DialogueProcessor(state, session, greet=False)
    said = []

    async def say(reply, turn_id, dialogue_ms=None):
        said.append((turn_id, reply.text))

    proc._say = say
    return proc, state, said


def text(turn_id, words, continues=None):
    return CallerTextFrame(text=words, language="en", turn_id=turn_id, continues=continues)


async def test_an_answered_first_part_is_taken_back_and_both_parts_answered_as_one():
    session = Session()
    proc, state, said = processor(session)
    await proc._respond(text(1, "And so my fellow Americans."))
    state.superseded.add(1)  # the caller went on while that answer played
    await proc._respond(text(2, "Ask not what your country can do for you.", continues=1))
    assert session.turns == ["And so my fellow Americans. Ask not what your country can do for you."]
    assert said[-1] == (2, "you said: And so my fellow Americans. Ask not what your country can do for you.")
    assert [e.data["continues"] for e in state.events.events if e.kind == "turn_merged"] == [1]


async def test_a_first_part_the_caller_went_on_from_before_its_answer_is_held_not_answered():
    session = Session()
    proc, state, said = processor(session)
    state.superseded.add(1)
    await proc._respond(text(1, "my order is 4 5"))
    assert said == [] and session.turns == []
    await proc._respond(text(2, "7 8 9", continues=1))
    assert said == [(2, "you said: my order is 4 5 7 8 9")]


async def test_an_answer_that_already_acted_is_not_taken_back():
    session = Session(action=Note("refund_requested", {"order": "A1"}))
    proc, state, said = processor(session)
    await proc._respond(text(1, "refund order A1"))
    state.superseded.add(1)
    await proc._respond(text(2, "and the other one too", continues=1))
    assert session.turns == ["refund order A1", "and the other one too"]  # never requested twice
