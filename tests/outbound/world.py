"""An outbound bot for the channel tests: the runtime with the built-in dialogue (dev ASR
model, espeak voice), call records and the campaign store on real database files, and one
campaign whose targets are the sample customers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from voicebot.audio.g711 import ulaw_encode
from voicebot.audio.pcm import load_audio, resample
from voicebot.outbound import campaigns
from voicebot.outbound.amd_corpus import opening_words, spoken_end
from voicebot.outbound.options import OutboundOptions
from voicebot.outbound.outcomes import Outcomes
from voicebot.outbound.scheduler import CallPlan
from voicebot.outbound.store import OutboundStore, TargetRow
from voicebot.records.service import Records
from voicebot.runtime import Runtime

from ..conftest import shared_audio

PIPELINE = "name: outbound-test\ndialogue:\n  engine: builtin\n  greet: true\n"
VOICEMAIL = "telephony/azure_voicemail_en-US5secsGoodQuality2.wav"  # a real voicemail recording, 8 kHz mu-law
HUMAN = "en/sb_timit_spk2_snt1.wav"  # a real person; the opening stretch is their "hello"


@dataclass
class World:
    runtime: Runtime
    store: OutboundStore
    outcomes: Outcomes
    options: OutboundOptions
    campaign: str = "late"

    @property
    def orders(self):  # type: ignore[no-untyped-def]
        return self.runtime.dialogue(self.runtime.spec()).store

    def target(self, customer_id: str) -> TargetRow:
        return next(t for t in self.store.targets(self.campaign) if t.customer_id == customer_id)

    def plan(self, customer_id: str) -> CallPlan:
        t = self.target(customer_id)
        attempt = self.store.claim(t, self.options.channel, "test", time.time())
        assert attempt is not None
        return CallPlan(attempt, t)

    def close(self) -> None:
        self.runtime.close()
        self.runtime.records.close()


async def make_world(settings, tmp_path: Path, **options) -> World:  # type: ignore[no-untyped-def]
    spec = tmp_path / "outbound-test.yaml"
    spec.write_text(PIPELINE)
    settings.pipeline = spec
    runtime = Runtime(settings)
    runtime.records = Records.open(settings)
    store = OutboundStore(runtime.records.store)
    opts = OutboundOptions(**{"call_hours": (0, 24), "call_days": tuple(range(7)), **options})
    engine = runtime.dialogue(runtime.spec())
    await campaigns.start(store, engine.store, "late", "late_parcel", 2, opts.channel, time.time(), date.today())
    for t in store.targets("late"):
        store.set_consent(t.customer_id, True, time.time(), source="test")
    return World(runtime, store, Outcomes(store, opts, time.time), opts)


def tone(freq: float, seconds: float, rate: int = 8000, dbfs: float = -12.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (32767 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def voicemail_ulaw(dest: Path, tail_s: float = 40.0) -> tuple[Path, float, float]:
    """The real voicemail greeting, a 1 kHz beep after its last word, then the machine records
    (silence). Returns the file and the beep's start and end (ms from the answer)."""
    vm = load_audio(shared_audio(VOICEMAIL), 8000)
    spoken = vm[: spoken_end(vm, 8000)]
    gap = np.zeros(2400, dtype=np.int16)
    beep = tone(1000.0, 0.5)
    pcm = np.concatenate([spoken, gap, beep, np.zeros(int(tail_s * 8000), dtype=np.int16)])
    path = dest / "voicemail.ulaw"
    path.write_bytes(ulaw_encode(pcm))
    start = (len(spoken) + len(gap)) / 8
    return path, start, start + len(beep) / 8


def hello_ulaw(dest: Path, tail_s: float = 60.0) -> Path:
    """A person picking up: half a second, the opening words of a real recording, then silence."""
    pcm = load_audio(shared_audio(HUMAN), 16000)
    x = resample(opening_words(HUMAN, pcm, {}, 1), 16000, 8000)
    pcm8 = np.concatenate([np.zeros(4000, dtype=np.int16), x, np.zeros(int(tail_s * 8000), dtype=np.int16)])
    path = dest / "hello.ulaw"
    path.write_bytes(ulaw_encode(pcm8))
    return path


def events(session, kind: str) -> list:  # type: ignore[no-untyped-def]
    return [e for e in session.state.events.events if e.kind == kind]
