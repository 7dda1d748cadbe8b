"""Turn-taking and barge-in policy: one typed object per pipeline (``turns:`` in the YAML).

Two-stage barge-in: while the bot talks, likely caller speech *pauses* the bot at the
transport at once (tentative); the bot's turn is *cancelled* only when the caller's speech
is confirmed (it lasts ``confirm_ms``); otherwise the bot resumes where it paused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BargeInPolicy:
    enabled: bool = True
    # Stage 1: pause bot audio on the VAD's speech-start decision (0 = never pause, cancel only).
    pause_on_speech: bool = True
    # Stage 2: this much *voiced* caller audio while the bot talks confirms the interruption.
    confirm_ms: int = 300
    # Paused this long without confirmation: resume the bot.
    resume_after_ms: int = 600
    # Keypad input interrupts the bot at once.
    dtmf_interrupts: bool = True


@dataclass(frozen=True)
class EndOfTurnPolicy:
    # Silence after speech that ends the caller's turn (the VAD's stop_secs).
    silence_ms: int = 500
    # Utterances with less voiced audio than this are noise/coughs, not turns.
    min_speech_ms: int = 120
    # Audio kept before the VAD's start decision so the first syllable is not cut.
    preroll_ms: int = 300
    # A keypad entry ends this long after the last digit, or at once on '#'.
    dtmf_timeout_ms: int = 2000
    # Longest utterance sent to the ASR in one piece.
    max_utterance_ms: int = 30000


@dataclass(frozen=True)
class TurnPolicy:
    barge_in: BargeInPolicy = BargeInPolicy()
    end_of_turn: EndOfTurnPolicy = EndOfTurnPolicy()
