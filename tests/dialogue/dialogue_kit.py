"""Helpers for the dialogue tests: a pinned calendar, an engine on a temporary SQLite store,
and a scripted NLU for flow tests that must not depend on language understanding."""

from __future__ import annotations

from collections import deque
from datetime import date
from pathlib import Path
from typing import Any

from voicebot.config import Settings
from voicebot.dialogue.api import CallContext, CallerTurn, DialogueReply, Note, Transfer
from voicebot.dialogue.engine import DialogueEngineImpl, DialogueOptions, build_engine
from voicebot.dialogue.nlu_types import NluResult
from voicebot.dialogue.orders.seed import SampleData, sample_data

TODAY = date(2026, 3, 16)


class ScriptedNlu:
    """Returns the given results in order and records what the session expected each time."""

    def __init__(self) -> None:
        self.queue: deque[NluResult] = deque()
        self.expecting: list[str | None] = []

    def push(self, *results: NluResult) -> None:
        self.queue.extend(results)

    def understand(self, text: str, lang: str | None = None, *, expecting: str | None = None) -> NluResult:
        self.expecting.append(expecting)
        if not self.queue:
            raise AssertionError(f"the test scripted no NLU result for {text!r}")
        return self.queue.popleft()


def nlu(intent: str, lang: str = "en", confidence: float = 0.95, **kw: Any) -> NluResult:
    sentiment = kw.pop("sentiment", "neutral")
    frustration = kw.pop("frustration", 0.0)
    escalate = kw.pop("escalate", False)
    return NluResult(intent, confidence, lang, slots=kw, sentiment=sentiment, frustration=frustration, escalate=escalate)


def make_engine(home: Path, understands: Any, *, shop_name: str | None = None, languages: tuple[str, ...] | None = None,
                **options: Any) -> DialogueEngineImpl:
    shop = {k: v for k, v in (("name", shop_name), ("languages", languages)) if v is not None}
    return build_engine(Settings(home=home, shop=shop), nlu=understands, options=DialogueOptions(**{"today": lambda: TODAY, "order_store": "demo", **options}))


def data() -> SampleData:
    return sample_data(TODAY)


class Call:
    """One scripted call: ``await call.say(result)`` feeds a scripted NLU result and returns the reply."""

    def __init__(self, engine: DialogueEngineImpl, scripted: ScriptedNlu, lang: str = "en", *, caller_number: str | None = None, **ctx: Any) -> None:
        self.engine, self.scripted, self.lang = engine, scripted, lang
        self.session = engine.new_session(CallContext("test-call", channel="text", caller_number=caller_number, **ctx))
        self.replies: list[DialogueReply] = []

    async def say(self, result: NluResult, text: str = "(scripted)", dtmf: str = "", asr_confidence: float | None = None) -> DialogueReply:
        self.scripted.push(result)
        reply = await self.session.respond(CallerTurn(text, result.language, dtmf=dtmf, asr_confidence=asr_confidence))
        self.replies.append(reply)
        return reply

    def notes(self, name: str) -> list[Note]:
        return [a for r in self.replies for a in r.actions if isinstance(a, Note) and a.name == name]

    @property
    def transfer(self) -> Transfer | None:
        return next((r.transfer for r in self.replies if r.transfer), None)
