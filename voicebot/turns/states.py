"""The turn engine's two explicit states (pure, no I/O): where the caller's utterance stands,
and whether caller sound holds the bot's audio. They change independently: the caller may
speak while the bot plays, is held, or has been interrupted.
"""

from __future__ import annotations

from enum import Enum


class CallerPhase(Enum):
    """Where the caller's utterance stands."""

    QUIET = "quiet"  # no utterance: audio only feeds the pre-roll
    SPEAKING = "speaking"  # the VAD's start came: audio gathers into the utterance
    CLOSING = "closing"  # the VAD said quiet: the semantic check or the silence timeout ends the turn


class BotHold(Enum):
    """Whether caller sound holds the bot's audio (a pause, not yet an interruption)."""

    PLAYING = "playing"  # not held
    EARLY = "early"  # held by loud caller audio before the VAD's start (early pause)
    PAUSED = "paused"  # held by the caller's speech until words or voiced time confirm it, or it ends
    # An early pause lifted by something else (an interruption, the resume timeout) while its
    # stage lasts: the VAD's start may still date the sound from it; the next frame ends the stage.
    EARLY_LIFTED = "early_lifted"


def lifted(hold: BotHold) -> BotHold:
    """``hold`` once the bot's audio is no longer held (resumed, interrupted or flushed)."""
    return {BotHold.EARLY: BotHold.EARLY_LIFTED, BotHold.PAUSED: BotHold.PLAYING}.get(hold, hold)


def early_stage_ended(hold: BotHold) -> BotHold:
    """``hold`` once the early stage is over: an early pause still holding the bot becomes an ordinary pause."""
    return {BotHold.EARLY: BotHold.PAUSED, BotHold.EARLY_LIFTED: BotHold.PLAYING}.get(hold, hold)


class EngineStates:
    """The turn engine's view of the two states, as the flags its rules read (a mixin of
    :class:`voicebot.turns.engine.TurnEngine`)."""

    phase: CallerPhase
    hold: BotHold

    @property
    def speaking(self) -> bool:
        return self.phase is CallerPhase.SPEAKING

    @speaking.setter
    def speaking(self, value: bool) -> None:  # a driver whose VAD can no longer report the stop
        if value:
            self.phase = CallerPhase.SPEAKING
        elif self.phase is CallerPhase.SPEAKING:
            self.phase = CallerPhase.QUIET

    @property
    def _closing(self) -> bool:
        return self.phase is CallerPhase.CLOSING

    @property
    def paused(self) -> bool:
        """The bot's audio is held (an early or a speech pause)."""
        return self.hold in (BotHold.EARLY, BotHold.PAUSED)

    @property
    def _early(self) -> bool:
        """In the early stage: paused early (or lifted since), the VAD's start not yet come."""
        return self.hold in (BotHold.EARLY, BotHold.EARLY_LIFTED)

    def _lift_hold(self) -> None:
        """The bot's audio is no longer held (resumed, interrupted or flushed)."""
        self.hold = lifted(self.hold)

    def _end_early_stage(self) -> None:
        """The early stage is over: an early pause still holding the bot becomes an ordinary pause."""
        self.hold = early_stage_ended(self.hold)
