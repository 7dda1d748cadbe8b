"""Turn-taking and barge-in policy: one typed object per pipeline (``turns:`` in the YAML).

Two-stage barge-in: while the bot talks, likely caller speech *pauses* the bot at the
transport at once (tentative: on the VAD's start, or ``early_pause_ms`` of loud audio
before it); the bot's turn is *cancelled* only when the caller's speech
is confirmed — a recognized word that is not a backchannel in the caller's language
(``confirm_by_words``), or voiced speech longer than ``confirm_ms`` — otherwise the bot
resumes where it paused.

End of turn: the VAD reports silence after ``quick_silence_ms``; a semantic check (the
speculative transcript's text and pipecat's smart-turn model) then answers at once when the
turn is complete, waits ``silence_ms`` when it cannot tell, and ``incomplete_silence_ms``
when the caller is mid-sentence or mid-number.

The dataclass defaults keep the plain behaviour (timeouts only, no speculative ASR, no echo
control); ``pipelines/phone.yaml`` turns the full policy on for phone calls.
All durations are caller-audio milliseconds (virtual-clock testable).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BargeInPolicy:
    enabled: bool = True
    # Stage 1: pause bot audio on the VAD's speech-start decision (False = never pause, cancel only).
    pause_on_speech: bool = True
    # Stage 2: this much *voiced* caller audio while the bot talks confirms the interruption
    # (frames the echo gate attributes to the bot or puts below the level floor are not voiced).
    # With ``confirm_by_words`` the words decide and this is only the fallback for when the
    # ASR has not answered: set it well above the word latency (phone.yaml: 1200 ms).
    confirm_ms: int = 300
    # Confirm as soon as a (speculative) partial transcript has a word that is not a backchannel.
    confirm_by_words: bool = False
    # While the partial transcript holds only backchannels, wait up to this much voiced audio.
    backchannel_max_ms: int = 900
    # confirm_by_words: a partial transcript of at least this much caller audio with no word at
    # all means the sound is not speech (noise, a cough, echo residue): length no longer confirms it.
    no_words_after_ms: int = 450
    # Partial transcription while paused: first after this much voiced speech, then every
    # ``partial_every_ms`` of audio (one request in flight at a time).
    partial_first_ms: int = 150
    partial_every_ms: int = 150
    # Paused this long without confirmation: resume the bot, even while the sound goes on
    # (continuous noise must not keep the bot silent); it is not paused again for that sound.
    resume_after_ms: int = 600
    # Keypad input interrupts the bot at once.
    dtmf_interrupts: bool = True
    # Early pause (stage 1 before the VAD's start decision): this much loud caller audio in a row
    # (see below) while the bot talks pauses it at once; 0 = off (pause on the VAD's start only). webrtcvad calls fricative and breathy onsets ("s...", "h...") unvoiced
    # for up to 200 ms; their energy shows at once. The VAD's start must then follow within
    # ``early_hold_ms``, else the bot resumes (the sound was a click, a breath, a leak of echo).
    early_pause_ms: int = 0
    early_hold_ms: int = 300
    # Loud = the frame's level after echo control (``level_db`` given by the adapter) is at least
    # ``early_level_dbfs`` and ``early_rise_db`` above the caller line's noise floor (the quietest
    # frame of the last 1.5 s that echo control let through).
    early_level_dbfs: float = -45.0
    early_rise_db: float = 12.0
    # Re-onset: while the bot is paused for an unconfirmed sound, 30 ms this much louder than that
    # sound so far (a caller's words after a breath or a click) restart the ``resume_after_ms``
    # clock (twice at most per pause): the bot must not resume into the words. 0 = off.
    reonset_rise_db: float = 0.0


@dataclass(frozen=True)
class EndOfTurnPolicy:
    # Silence after speech that ends the caller's turn when no semantic check decides earlier.
    silence_ms: int = 500
    # Silence after which the semantic check runs (the VAD's stop_secs); 0 = same as silence_ms
    # (no semantic check: the plain timeout).
    quick_silence_ms: int = 0
    # Silence to wait when the check says the caller is mid-sentence / mid-number.
    incomplete_silence_ms: int = 1500
    # A "complete" verdict answers once the silence is at least this long (0 = at once). With a
    # ``quick_silence_ms`` below it the check starts speculatively and its ~0.2 s of decoding
    # overlaps the silence a person leaves anyway: the answer comes at max(this, quick + check)
    # instead of quick + check, and a caller who goes on before it discards the check.
    complete_silence_ms: int = 0
    # Semantic checks: "smart_turn" (pipecat's bundled model), "text" (speculative transcript),
    # both, or neither ([]).
    semantic: tuple[str, ...] = ()
    # smart-turn probability at or above which the turn is complete.
    smart_turn_threshold: float = 0.5
    # Whether smart-turn's "incomplete" alone holds the turn open (incomplete_silence_ms). False:
    # smart-turn can only end a turn early (with the transcript agreeing); only the transcript
    # (a number being read, a dangling word) holds it open.
    smart_turn_holds: bool = True
    # The words read complete but smart-turn (which may not hold the turn) doubts it: wait this much
    # silence instead of ``silence_ms`` (0 = silence_ms). On real callers and read speech over a
    # phone line smart-turn calls many finished sentences unfinished ("The child almost hurt the
    # small dog." 0.02); a caller who does go on is caught by ``continue_within_ms``.
    doubt_silence_ms: int = 0
    # While the check's transcript is still being decoded, wait for it up to this much silence
    # instead of ``silence_ms`` (0 = never). The reply needs that very transcript (it becomes the
    # turn's), so waiting for it costs no reply time, and a number read in pieces ("1 7 3 4 ...
    # 1 2 5 6") that smart-turn calls complete is not cut while the words are on their way.
    check_wait_ms: int = 0
    # Start the check speculatively once the caller's level has stayed ``early_quiet_db`` under
    # their speech level this long (0 = off: the check waits for the VAD's stop). webrtcvad calls a
    # fading tail voiced for 80-180 ms more; the check is kept only if the caller stays that quiet
    # until the VAD's stop (voicebot/turns/quiet_tail.py), and the silence then counts from the
    # level's end, not the VAD's.
    # Lengths of the shop's order numbers: a number of such a length read at the end of a turn
    # ("... the number is 4 5 7 1 2") ends it like a sentence, as an IVR collects a known number of
    # digits; any other length still waits ``incomplete_silence_ms`` for more digits. () = none.
    order_digits: tuple[int, ...] = ()
    early_check_ms: int = 0
    early_quiet_db: float = 35.0
    early_pad_ms: int = 300  # the early check's audio ends with this much of the line's quiet (Whisper needs a tail)
    # Utterances with less voiced audio than this are noise/coughs, not turns.
    min_speech_ms: int = 120
    # Audio kept before the VAD's start decision so the first syllable is not cut.
    preroll_ms: int = 300
    # A keypad entry ends this long after the last digit, or at once on '#'.
    dtmf_timeout_ms: int = 2000
    # Longest utterance sent to the ASR in one piece.
    max_utterance_ms: int = 30000
    # A caller who goes on speaking this soon after the end of their turn (a pause mid-thought:
    # "And so my fellow Americans ... ask not ...") while the bot's reply is still to come or
    # playing, confirmed as an interruption by their words, continues that turn: the reply is
    # withdrawn and the dialogue answers both parts as one. 0 = off (each pause is a turn).
    continue_within_ms: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.semantic, (list, str)):
            object.__setattr__(self, "semantic", tuple([self.semantic] if isinstance(self.semantic, str) else self.semantic))
        if isinstance(self.order_digits, (list, int)):
            object.__setattr__(self, "order_digits", tuple([self.order_digits] if isinstance(self.order_digits, int) else self.order_digits))
        bad = set(self.semantic) - {"smart_turn", "text"}
        if bad:
            raise ValueError(f"turns.end_of_turn.semantic: unknown check(s) {sorted(bad)}; use smart_turn and/or text")

    @property
    def vad_stop_ms(self) -> int:
        """The VAD's stop_secs: the quick silence when a semantic check runs, else the timeout."""
        return self.quick_silence_ms if 0 < self.quick_silence_ms < self.silence_ms else self.silence_ms


@dataclass(frozen=True)
class EchoPolicy:
    """Echo control on the caller channel, before the VAD (:mod:`voicebot.audio.echo`)."""

    enabled: bool = False
    # Acoustic echo canceller: "auto" (speexdsp, then pyaec), "speexdsp", "pyaec", "none" (gate only).
    canceller: str = "auto"
    tail_ms: int = 256  # echo path the canceller models (covers 40-200 ms line/speaker delay)
    max_delay_ms: int = 250  # the gate looks this far back in the bot's output
    # Residual below (predicted echo + margin) is explained by the bot's own voice: muted for the VAD.
    margin_db: float = 6.0
    initial_echo_gain_db: float = -6.0  # echo path gain assumed before it is learned (worst case)
    floor_dbfs: float = -55.0  # quieter caller audio is line noise: muted for the VAD
    # Estimate the line's bulk delay (GCC-PHAT) and run a second, short canceller on the
    # delay-aligned reference; the gate then predicts the echo from the aligned window only.
    align_delay: bool = True
    aligned_tail_ms: int = 64  # echo path the aligned canceller models (20 ms before the delay + this)


@dataclass(frozen=True)
class TurnPolicy:
    barge_in: BargeInPolicy = BargeInPolicy()
    end_of_turn: EndOfTurnPolicy = EndOfTurnPolicy()
    echo: EchoPolicy = EchoPolicy()
