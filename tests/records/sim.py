"""A call driven the way a channel drives the recorder: audio-time events and 20 ms audio chunks.

Caller speech is real recorded speech from ../shared/audio; the bot's audio is real
synthesized speech from the same folder (en_tts_synthetic). No wall clock: time advances
with the audio fed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from voicebot.events import EventLog
from voicebot.records.recorder import CallRecorder

SHARED_AUDIO = (Path(__file__).resolve().parents[2] / ".." / "shared" / "audio").resolve()
RATE = 16000
CHUNK = RATE // 50  # 20 ms


def load_pcm(rel: str, seconds: float | None = None) -> np.ndarray:
    """A 16 kHz mono int16 clip from the shared recordings (these files are 16 kHz mono)."""
    data, rate = sf.read(SHARED_AUDIO / rel, dtype="int16", always_2d=True)
    assert rate == RATE, f"{rel} is {rate} Hz; pick a 16 kHz file"
    mono = data[:, 0]
    return mono[: int(seconds * RATE)] if seconds else mono


class SimCall:
    def __init__(self, recorder: CallRecorder | None, channel: str = "direct") -> None:
        self.events = EventLog()
        if recorder is not None:
            self.events.subscribe(recorder)
        self.recorder = recorder
        self.t_ms = 0.0
        self.caller_track: list[np.ndarray] = []  # everything fed as caller audio, for checks
        self.bot_track: list[np.ndarray] = []
        self.channel = channel

    def emit(self, kind: str, **data: object) -> None:
        self.events.emit(self.t_ms, kind, **data)

    def _feed(self, caller: np.ndarray, bot: np.ndarray | None = None) -> None:
        """Feed audio in 20 ms chunks; bot audio (if any) is played in the same 20 ms slots."""
        for i in range(0, len(caller), CHUNK):
            c = caller[i : i + CHUNK]
            b = bot[i : i + CHUNK] if bot is not None else None
            if self.recorder is not None:
                self.recorder.add_audio(c.tobytes(), None if b is None or not len(b) else b.tobytes())
            self.caller_track.append(c)
            self.bot_track.append(b if b is not None and len(b) == len(c) else np.zeros(len(c), np.int16))
            self.t_ms += len(c) * 1000 / RATE

    def silence(self, ms: float) -> None:
        self._feed(np.zeros(int(ms * RATE / 1000), np.int16))

    def start(self, caller: str = "+34612345678") -> None:
        self.emit("call_start", call_id="sim", channel=self.channel, caller=caller, pipeline="phone", dev_models=True)

    def caller_says(self, pcm: np.ndarray, text: str, language: str = "es") -> tuple[float, float]:
        onset = self.t_ms
        self._feed(pcm[: CHUNK * 10])
        self.emit("vad_start", onset_ms=onset)
        self._feed(pcm[CHUNK * 10 :])
        end = self.t_ms
        self.silence(200)
        self.emit("vad_stop", end_ms=end)
        self.silence(300)
        self.emit("turn_end")
        self.silence(100)
        self.emit("transcript", text=text, language=language, final=True, asr_ms=100.0, dev_model=True)
        return onset, end

    def bot_says(self, text: str, pcm: np.ndarray, intent: str | None = None, language: str = "es",
                 slots: dict | None = None, sentiment: str = "neutral", cut_at_ms: float | None = None,
                 caller_pcm: np.ndarray | None = None, caller_text: str | None = None) -> None:  # fmt: skip
        """The bot answers; with ``cut_at_ms`` the caller barges in (``caller_pcm``) after that much bot speech."""
        self.emit("bot_reply", text=text, language=language, intent=intent, slots=slots or {}, sentiment=sentiment, dialogue_ms=50.0)
        self.silence(160)
        self.emit("bot_speech_start")
        if cut_at_ms is None:
            self._feed(np.zeros(len(pcm), np.int16), pcm)
            self.emit("bot_speech_stop", heard_text=text, interrupted=False)
            self.silence(400)
            return
        played = int(cut_at_ms * RATE / 1000)
        self._feed(np.zeros(played, np.int16), pcm[:played])
        assert caller_pcm is not None and caller_text is not None
        onset = self.t_ms
        overlap = min(len(pcm) - played, CHUNK * 15)
        self._feed(caller_pcm[:overlap], pcm[played : played + overlap])
        self.emit("vad_start", onset_ms=onset)
        self.emit("bot_paused")
        self.emit("interruption")
        heard = " ".join(text.split()[: max(1, len(text.split()) // 3)])
        self.emit("bot_speech_stop", heard_text=heard, interrupted=True)
        self._feed(caller_pcm[overlap:])
        end = self.t_ms
        self.silence(200)
        self.emit("vad_stop", end_ms=end)
        self.silence(400)
        self.emit("turn_end")
        self.emit("transcript", text=caller_text, language="es", final=True, asr_ms=90.0, dev_model=True)

    def caller_audio(self) -> np.ndarray:
        return np.concatenate(self.caller_track) if self.caller_track else np.zeros(0, np.int16)

    def bot_audio(self) -> np.ndarray:
        return np.concatenate(self.bot_track) if self.bot_track else np.zeros(0, np.int16)


def run_support_call(sim: SimCall, stop_after_turns: int | None = None) -> None:
    """A Spanish shipping-delay call: greeting, order question, order id, a barge-in, handoff.

    With ``stop_after_turns`` the script stops after that many complete turns plus the caller
    part of the next one (the point where a kill -9 hits in the crash test).
    """
    bot1 = load_pcm("en_tts_synthetic/multiwoz_mul0981_Turn-1.wav", 2.0)
    bot2 = load_pcm("en_tts_synthetic/multiwoz_mul0981_Turn-3.wav", 2.5)
    bot3 = load_pcm("en_tts_synthetic/multiwoz_mul0981_Turn-13.wav", 3.0)
    bot4 = load_pcm("en_tts_synthetic/multiwoz_mul0981_Turn-7.wav", 2.0)
    said1 = load_pcm("es/azure_es-mx.wav", 2.0)
    said2 = load_pcm("es/picovoice_test_es.wav", 1.6)
    said3 = load_pcm("es/silero_es.wav", 1.8)
    sim.start()
    sim.silence(300)
    sim.bot_says("Hola, soy el asistente de la tienda. ¿En qué puedo ayudarle?", bot1, intent="greeting")
    if stop_after_turns == 1:
        sim.caller_says(said1, "mi paquete lleva diez días en aduana")
        return
    sim.caller_says(said1, "mi paquete lleva diez días en aduana")
    sim.bot_says("Lo siento. ¿Me dice el número de pedido?", bot2, intent="shipping_delay")
    if stop_after_turns == 2:
        sim.caller_says(said2, "es el cuatro cinco siete uno dos")
        return
    sim.caller_says(said2, "es el cuatro cinco siete uno dos, mi correo es ana.garcia@example.com")
    sim.emit("action", action="note", name="order_lookup", order_id="45712", found=True)
    sim.bot_says("El pedido 45712 está retenido en aduana desde el día tres. Necesitamos una copia de su documento.",
                 bot3, intent="shipping_delay", slots={"order_id": "45712", "email": "ana.garcia@example.com"},
                 cut_at_ms=1200, caller_pcm=said3, caller_text="quiero hablar con una persona por favor")  # fmt: skip
    if stop_after_turns == 3:
        return
    sim.bot_says("Le paso con un agente. Un momento por favor.", bot4, intent="human_agent", sentiment="negative")
    sim.emit("action", action="transfer", reason="caller_asked", queue="es")
    sim.silence(200)
    sim.emit("call_end", reason="transferred")
