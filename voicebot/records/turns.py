"""Builds turn records from a call's event timeline (pure: events in, turn snapshots out).

A turn is one caller utterance and the bot's answer to it (turn 0 is usually the greeting,
which has no caller part). The caller part opens a turn at the final transcript; the bot
part attaches at ``bot_reply``; the turn is complete when the bot's speech stops (played to
the end or cut off by a barge-in). Every change returns a snapshot so the recorder can store
the turn at once: what the caller said is in the store before the bot has even answered.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from voicebot.events import CallEvent
from voicebot.records.model import TurnRecord


@dataclass
class _Speech:
    onset_ms: float | None = None
    end_ms: float | None = None


class TurnAssembler:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.turns: list[TurnRecord] = []
        self._speech = _Speech()  # caller speech not yet attached to a turn
        self._dtmf = ""  # digits not yet attached to a turn
        self._speaking: TurnRecord | None = None  # the turn whose bot reply is playing
        self._by_turn_id: dict[int, TurnRecord] = {}  # the pipeline's turn_id, when its events carry one
        self.language: str | None = None  # the latest language the caller or the bot used

    @property
    def current(self) -> TurnRecord | None:
        return self.turns[-1] if self.turns else None

    def feed(self, ev: CallEvent) -> list[TurnRecord]:
        """Apply one event; return snapshots of the turns it changed (to be stored)."""
        handler = getattr(self, f"_on_{ev.kind}", None)
        changed = handler(ev) if handler else None
        return [copy.deepcopy(t) for t in (changed or [])]

    def finish(self) -> list[TurnRecord]:
        """Call over: complete every turn still open; return those that changed."""
        out = []
        for t in self.turns:
            if not t.complete:
                t.complete = True
                out.append(copy.deepcopy(t))
        self._speaking = None
        return out

    # -- caller side ------------------------------------------------------------------------
    def _on_vad_start(self, ev: CallEvent) -> None:
        # Several VAD segments can make one caller turn (a pause mid-sentence): the turn's
        # speech starts at the first onset; an empty final transcript clears it (noise).
        if self._speech.onset_ms is None:
            self._speech = _Speech(onset_ms=float(ev.data.get("onset_ms", ev.t_ms)))

    def _on_vad_stop(self, ev: CallEvent) -> None:
        if self._speech.onset_ms is not None:
            self._speech.end_ms = float(ev.data.get("end_ms", ev.t_ms))

    def _on_turn_end(self, ev: CallEvent) -> None:
        # the turn taker knows the whole turn's bounds (several VAD segments, pre-roll trimmed)
        if ev.data.get("start_ms") is not None:
            self._speech.onset_ms = float(ev.data["start_ms"])
        if ev.data.get("end_ms") is not None:
            self._speech.end_ms = float(ev.data["end_ms"])

    def _on_dtmf(self, ev: CallEvent) -> list[TurnRecord] | None:
        digit = str(ev.data.get("digit", ""))
        cur = self.current
        if cur is not None and cur.caller_text is not None and cur.bot_text is None:
            cur.caller_dtmf += digit
            return [cur]
        self._dtmf += digit
        return None

    def _on_transcript(self, ev: CallEvent) -> list[TurnRecord] | None:
        if not ev.data.get("final", True):
            return None
        text = str(ev.data.get("text") or "").strip()
        lang = ev.data.get("language")
        self._dtmf += str(ev.data.get("dtmf") or "")  # keys the pipeline collected with this turn
        if not text and not self._dtmf:
            self._speech = _Speech()  # noise or silence: no caller turn
            return None
        cur = self.current
        if cur is not None and cur.caller_text is not None and cur.bot_text is None:
            # a second final before the bot answered: the same caller turn, continued
            cur.caller_text = f"{cur.caller_text} {text}".strip()
            cur.caller_dtmf += self._dtmf
            self._dtmf = ""
            cur.asr_final_ms = ev.t_ms
            if self._speech.end_ms is not None:
                cur.caller_speech_end_ms = self._speech.end_ms
            self._speech = _Speech()
            return [cur]
        turn = TurnRecord(call_id=self.call_id, index=len(self.turns), caller_speech_start_ms=self._speech.onset_ms,
                          caller_speech_end_ms=self._speech.end_ms, asr_final_ms=ev.t_ms, caller_text=text,
                          caller_language=lang, caller_dtmf=self._dtmf)  # fmt: skip
        self._speech = _Speech()
        self._dtmf = ""
        if lang:
            self.language = lang
        self.turns.append(turn)
        self._remember(ev, turn)
        return [turn]

    def _remember(self, ev: CallEvent, turn: TurnRecord) -> None:
        if isinstance(ev.data.get("turn_id"), int):
            self._by_turn_id[ev.data["turn_id"]] = turn

    def _bot_turn(self, ev: CallEvent) -> TurnRecord | None:
        """The turn a bot speech event is about: by turn_id when given, else the one playing."""
        tid = ev.data.get("turn_id")
        if isinstance(tid, int) and tid in self._by_turn_id:
            return self._by_turn_id[tid]
        return self._speaking

    # -- bot side ---------------------------------------------------------------------------
    def _on_bot_reply(self, ev: CallEvent) -> list[TurnRecord]:
        cur = self.current
        if cur is None or cur.bot_text is not None:
            # the bot speaks first (greeting), answers keypad digits only, or re-prompts after silence
            cur = TurnRecord(call_id=self.call_id, index=len(self.turns))
            self.turns.append(cur)
        cur.caller_dtmf += self._dtmf
        self._dtmf = ""
        self._remember(ev, cur)
        d = ev.data
        cur.bot_text = str(d.get("text") or "")
        cur.bot_reply_ms = ev.t_ms
        cur.speaker = d.get("speaker") or ("handoff" if d.get("agent") else None)
        cur.agent_name = d.get("agent_name") if cur.speaker == "agent" else None
        if cur.speaker is None:  # an agent's or the bridge's line is no dialogue intent
            cur.intent = d.get("intent") or cur.intent
        cur.slots = dict(d.get("slots") or cur.slots)
        cur.sentiment = d.get("sentiment") or cur.sentiment
        if d.get("language"):
            self.language = d["language"]
        if not cur.bot_text:
            cur.complete = True  # nothing to say: the turn is over
        else:
            self._speaking = cur
        return [cur]

    def _on_bot_speech_start(self, ev: CallEvent) -> list[TurnRecord] | None:
        t = self._bot_turn(ev)
        if t is None or t.bot_first_audio_ms is not None:
            return None
        t.bot_first_audio_ms = ev.t_ms
        return [t]

    def _on_interruption(self, ev: CallEvent) -> list[TurnRecord] | None:
        t = self._speaking
        if t is None:
            return None
        t.interrupted = True
        return [t]

    def _on_bot_speech_stop(self, ev: CallEvent) -> list[TurnRecord] | None:
        t = self._bot_turn(ev)
        if t is None or t.complete:
            return None
        if "heard_text" in ev.data:
            t.bot_text_heard = ev.data.get("heard_text")
        elif not t.interrupted:
            t.bot_text_heard = t.bot_text
        t.interrupted = t.interrupted or bool(ev.data.get("interrupted"))
        t.bot_speech_end_ms = ev.t_ms
        t.complete = True
        if self._speaking is t:
            self._speaking = None
        return [t]
