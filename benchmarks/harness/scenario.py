"""Benchmark scenarios: YAML files describing the caller's side of a call, validated.

Pure parsing and validation (no audio is read here, only checked to exist): every problem
names the file, the key and what to do, and a folder is checked as a whole so an operator
sees every broken file at once. The format is documented in ``benchmarks/README.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicebot.dialogue.nlu_types import INTENTS, LANGUAGES

CHANNELS = ("direct", "replay", "twilio", "sip", "webrtc")
RUNNABLE_CHANNELS = CHANNELS
WHEN = ("after_bot", "during_bot", "at", "continue")
BARGE_IN = ("expected", "not_expected")
SHARED_PREFIX = "shared:"


def shared_audio_dir() -> Path:
    """``../shared/audio`` beside the checkout (``$VOICEBOT_SHARED_AUDIO`` overrides)."""
    env = os.environ.get("VOICEBOT_SHARED_AUDIO")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "audio"


class ScenarioError(ValueError):
    """A scenario file that cannot run; the message says where and how to fix it."""


@dataclass(frozen=True)
class Turn:
    """One thing the caller says (or a noise they make)."""

    text: str | None = None  # what the caller says (oracle ASR, WER, synthesis when no audio)
    audio: Path | None = None  # a recording; resolved absolute path
    when: str = "after_bot"  # after_bot | during_bot | at | continue (the caller goes on after a pause)
    gap_ms: int = 400  # after_bot: silence after the bot's audio ends; continue: the pause after the previous turn's speech
    offset_ms: int = 900  # during_bot: after the bot's audio starts
    at_ms: int | None = None  # at: from call start
    expect_intent: str | None = None
    barge_in: str | None = None  # expected | not_expected; None = the bot is not expected to be speaking
    language: str | None = None  # synthesis language when it differs from the scenario's
    start_s: float | None = None  # cut of the recording
    end_s: float | None = None
    gain_db: float = 0.0
    wait_bot_ms: int = 15000  # after_bot/during_bot: start anyway if the bot has not spoken by then


@dataclass(frozen=True)
class Noise:
    audio: Path
    snr_db: float = 15.0  # noise level relative to the caller's speech


@dataclass(frozen=True)
class Expect:
    handoff: bool | None = None
    order_id: str | None = None
    outcome: str | None = None  # resolved_by_bot | handed_off | abandoned | ended
    v2v_max_ms: float | None = None  # every answered turn within this (a latency gate)
    barge_in_max_ms: float | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    language: str
    channel: str = "direct"
    turns: tuple[Turn, ...] = ()
    expect: Expect = Expect()
    noise: Noise | None = None
    sample_rate: int = 16000  # the line's rate (8000 = telephone)
    tail_s: float = 3.0  # keep the call open this long after everything went quiet
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


_TURN_KEYS = {"text", "audio", "when", "gap_ms", "offset_ms", "at_ms", "expect_intent", "barge_in", "language", "start_s", "end_s",
              "gain_db", "wait_bot_ms"}
_EXPECT_KEYS = {"handoff", "order_id", "outcome", "v2v_max_ms", "barge_in_max_ms"}
_TOP_KEYS = {"name", "language", "channel", "turns", "expect", "noise", "sample_rate", "tail_s", "description", "tags"}
_OUTCOMES = ("resolved_by_bot", "handed_off", "abandoned", "ended", "error")


def resolve_audio(ref: str, base: Path) -> Path:
    """``shared:en/x.wav`` -> ../shared/audio/en/x.wav; anything else is relative to the scenario file."""
    if ref.startswith(SHARED_PREFIX):
        return shared_audio_dir() / ref[len(SHARED_PREFIX):].lstrip("/")
    p = Path(ref)
    return p if p.is_absolute() else (base / p).resolve()


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[str] = []

    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{self.path}: {where}: {msg}")

    def keys(self, data: dict, known: set[str], where: str) -> None:
        unknown = set(data) - known
        if unknown:
            self.err(where, f"unknown key(s) {sorted(unknown)}; known: {sorted(known)}")

    def number(self, data: dict, key: str, where: str, default, *, minimum: float = 0.0, integer: bool = False):
        v = data.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.err(f"{where}.{key}", f"expected a number, got {v!r}")
            return default
        if v < minimum:
            self.err(f"{where}.{key}", f"must be >= {minimum}, got {v}")
        return int(v) if integer else float(v)

    def audio(self, ref: Any, where: str) -> Path | None:
        if ref is None:
            return None
        if not isinstance(ref, str) or not ref.strip():
            self.err(where, f"expected a file path, got {ref!r}")
            return None
        p = resolve_audio(ref, self.path.parent)
        if not p.is_file():
            hint = " (shared: paths are read from ../shared/audio beside the checkout, or $VOICEBOT_SHARED_AUDIO)" if ref.startswith(SHARED_PREFIX) else ""
            self.err(where, f"audio file {p} not found{hint}")
        return p


def _parse_turn(c: _Checker, raw: Any, i: int, language: str) -> Turn | None:
    where = f"turns[{i}]"
    if not isinstance(raw, dict):
        c.err(where, f"expected a mapping with text/audio/when, got {type(raw).__name__}")
        return None
    c.keys(raw, _TURN_KEYS, where)
    text = raw.get("text")
    if text is not None and not isinstance(text, (str, int, float)):
        c.err(f"{where}.text", f"expected a string, got {text!r}")
        text = None
    text = None if text is None else str(text).strip() or None
    audio = c.audio(raw.get("audio"), f"{where}.audio")
    if text is None and audio is None:
        c.err(where, "give `text` (synthesized with espeak-ng) or `audio` (a recording), or both")
    when = raw.get("when", "after_bot")
    if when not in WHEN:
        c.err(f"{where}.when", f"must be one of {list(WHEN)}, got {when!r}")
        when = "after_bot"
    at_ms = c.number(raw, "at_ms", where, None, integer=True)
    if when == "at" and at_ms is None:
        c.err(f"{where}.at_ms", "`when: at` needs at_ms (milliseconds from call start)")
    if when == "continue" and i == 0:
        c.err(f"{where}.when", "`continue` goes on from a previous caller turn: it cannot be the first turn")
    barge_in = raw.get("barge_in", "expected" if when == "during_bot" else None)
    if barge_in not in (*BARGE_IN, None):
        c.err(f"{where}.barge_in", f"must be one of {list(BARGE_IN)}, got {barge_in!r}")
        barge_in = None
    intent = raw.get("expect_intent")
    if intent is not None and intent not in INTENTS:
        c.err(f"{where}.expect_intent", f"unknown intent {intent!r}; known: {', '.join(INTENTS)}")
    lang = raw.get("language")
    if lang is not None and lang not in LANGUAGES:
        c.err(f"{where}.language", f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    start_s = c.number(raw, "start_s", where, None)
    end_s = c.number(raw, "end_s", where, None)
    if start_s is not None and end_s is not None and end_s <= start_s:
        c.err(f"{where}.end_s", f"must be after start_s ({start_s}), got {end_s}")
    if (start_s is not None or end_s is not None) and audio is None:
        c.err(where, "start_s/end_s cut a recording: give `audio` too")
    return Turn(text=text, audio=audio, when=when, gap_ms=c.number(raw, "gap_ms", where, 400, integer=True),
                offset_ms=c.number(raw, "offset_ms", where, 900, integer=True), at_ms=at_ms, expect_intent=intent,
                barge_in=barge_in, language=lang, start_s=start_s, end_s=end_s,
                gain_db=c.number(raw, "gain_db", where, 0.0, minimum=-60.0),
                wait_bot_ms=c.number(raw, "wait_bot_ms", where, 15000, integer=True))


def _parse_expect(c: _Checker, raw: Any) -> Expect:
    if raw is None:
        return Expect()
    if not isinstance(raw, dict):
        c.err("expect", f"expected a mapping, got {type(raw).__name__}")
        return Expect()
    c.keys(raw, _EXPECT_KEYS, "expect")
    handoff = raw.get("handoff")
    if handoff is not None and not isinstance(handoff, bool):
        c.err("expect.handoff", f"expected true or false, got {handoff!r}")
        handoff = None
    order_id = raw.get("order_id")
    outcome = raw.get("outcome")
    if outcome is not None and outcome not in _OUTCOMES:
        c.err("expect.outcome", f"must be one of {list(_OUTCOMES)}, got {outcome!r}")
    return Expect(handoff=handoff, order_id=None if order_id is None else str(order_id), outcome=outcome,
                  v2v_max_ms=c.number(raw, "v2v_max_ms", "expect", None), barge_in_max_ms=c.number(raw, "barge_in_max_ms", "expect", None))


def parse_scenario(data: Any, path: Path) -> Scenario:
    """A parsed YAML document -> :class:`Scenario`, or :class:`ScenarioError` listing every problem."""
    path = Path(path)
    c = _Checker(path)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping with name, language, turns; got {type(data).__name__}")
    c.keys(data, _TOP_KEYS, "scenario")
    name = data.get("name") or path.stem
    language = data.get("language")
    if language not in LANGUAGES:
        c.err("language", f"the caller's language is required, one of {', '.join(LANGUAGES)}; got {language!r}")
        language = "en"
    channel = data.get("channel", "direct")
    if channel not in CHANNELS:
        c.err("channel", f"must be one of {list(CHANNELS)}, got {channel!r}")
    rate = data.get("sample_rate", 8000 if channel in ("twilio", "sip") else 16000)
    if rate not in (8000, 16000):
        c.err("sample_rate", f"must be 8000 (telephone) or 16000, got {rate!r}")
    raw_turns = data.get("turns")
    if not isinstance(raw_turns, list) or not raw_turns:
        c.err("turns", "a non-empty list of caller turns is required")
        raw_turns = []
    turns = [t for i, raw in enumerate(raw_turns) if (t := _parse_turn(c, raw, i, language)) is not None]
    noise = None
    raw_noise = data.get("noise")
    if raw_noise is not None:
        if not isinstance(raw_noise, dict) or "audio" not in raw_noise:
            c.err("noise", "expected a mapping with audio (and snr_db)")
        else:
            c.keys(raw_noise, {"audio", "snr_db"}, "noise")
            npath = c.audio(raw_noise["audio"], "noise.audio")
            snr = c.number(raw_noise, "snr_db", "noise", 15.0, minimum=-20.0)
            if npath is not None:
                noise = Noise(npath, snr)
    tags = data.get("tags") or ()
    if not isinstance(tags, (list, tuple)):
        c.err("tags", f"expected a list, got {tags!r}")
        tags = ()
    scenario = Scenario(name=str(name), path=path, language=language, channel=channel, turns=tuple(turns), expect=_parse_expect(c, data.get("expect")),
                        noise=noise, sample_rate=rate if rate in (8000, 16000) else 16000,
                        tail_s=c.number(data, "tail_s", "scenario", 3.0) or 3.0, description=str(data.get("description") or ""),
                        tags=tuple(str(t) for t in tags))
    if c.errors:
        raise ScenarioError("\n".join(c.errors))
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return parse_scenario(data, path)


def find_scenario_files(paths: list[str | Path]) -> list[Path]:
    """Files and folders (``*.yaml``/``*.yml``, sorted) -> scenario files."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise ScenarioError(f"{p}: no such file or folder")
    if not files:
        raise ScenarioError(f"no scenario files (*.yaml) in {', '.join(map(str, paths))}")
    return files


def load_scenarios(paths: list[str | Path]) -> list[Scenario]:
    """Load every scenario; raise one :class:`ScenarioError` listing every broken file."""
    scenarios, errors = [], []
    for f in find_scenario_files(paths):
        try:
            scenarios.append(load_scenario(f))
        except ScenarioError as exc:
            errors.append(str(exc))
    names = [s.name for s in scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        errors.append(f"duplicate scenario name(s) {dupes}: give each file a distinct `name`")
    if errors:
        raise ScenarioError("\n".join(errors))
    return scenarios
