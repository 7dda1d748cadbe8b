"""The turn-taking state machine, pure: observations in, actions out, no I/O, no asyncio.

The actions are the small types of :mod:`voicebot.turns.actions`.
:class:`voicebot.turns.processor.TurnTaker` adapts it to the pipecat pipeline (frames,
executor work, the playback gate); :mod:`voicebot.turns.evaluate` drives the very same
engine over labelled recordings. Time is the caller's audio time in ms, passed in with
every observation, so a scripted timeline gives the same decisions on any machine.

Rules (see :mod:`voicebot.turns.policy`):

* **pause** — the VAD's speech start while the bot talks pauses the bot's audio.
* **early pause** (``early_pause_ms`` > 0) — before the VAD decides: that much loud caller audio
  in a row (``early_level_dbfs`` and ``early_rise_db`` over the line's noise floor) pauses the bot;
  the VAD's start must follow within ``early_hold_ms``, else the bot resumes ("early_unconfirmed");
  sooner when the sound stops (neither loud nor voiced, frames muted as echo not counted) for
  ``EARLY_RELEASE_MS``.
* **confirm** — while the bot's turn stands: a partial transcript with a word that is not
  a backchannel, or voiced speech of ``confirm_ms`` (``backchannel_max_ms`` while the words
  so far are all backchannels; never once a partial of ``no_words_after_ms`` of audio came
  back without any word: noise), cancels the bot's turn (``interrupt``).
* **resume** — the caller's sound ended unconfirmed (VAD stop), or ``resume_after_ms``
  passed without confirmation (even while the sound goes on): the bot resumes where it paused.
* **re-onset** (``reonset_rise_db`` > 0) — while paused unconfirmed, the caller's words after a
  breath restart the ``resume_after_ms`` clock (:mod:`voicebot.turns.reonset`).
* **outlasting sound** — a sound dismissed while the bot talked (unconfirmed after
  ``resume_after_ms``) that goes on after the bot's turn ended is no longer dismissed: it ends
  as a caller utterance like any other (the caller may answer inside line noise).
* **end of turn** — after the VAD's quick silence, a semantic check (speculative
  transcript + smart-turn) ends the turn at once when complete, else the turn ends after
  ``silence_ms`` (undecided) or ``incomplete_silence_ms`` (mid-sentence). Speech resuming
  in the closing silence discards the check and continues the same utterance; no turn
  ends on a voiced frame. With ``early_check_ms`` the check starts once the caller's level
  has fallen, before the VAD's stop (:mod:`voicebot.turns.quiet_tail`).
* **continuation** (``continue_within_ms`` > 0) — while a reply is pending or playing, speech
  starting within that long of the previous turn's end counts as barge-in (it holds the reply);
  confirmed by words, the utterance is marked as continuing the previous turn.
* **keypad** — a digit interrupts the bot; '#', a lone '0' or ``dtmf_timeout_ms`` ends the entry.
"""

from __future__ import annotations

import collections
import math
from voicebot.events import EventKind
from voicebot.turns.actions import (
    CheckTurnEnd,
    EmitEvent,
    EndTurn,
    InterruptBot,
    PauseBot,
    ResumeBot,
    TranscribePartial,
    TurnAction,
    Utterance,
)
from voicebot.turns.backchannels import first_content_word, is_backchannel
from voicebot.turns.completeness import text_incomplete, text_preamble
from voicebot.turns.policy import TurnPolicy
from voicebot.turns.quiet_tail import CheckPart, QuietTail, pad_with_quiet
from voicebot.turns.reonset import Reonset
from voicebot.turns.states import BotHold, CallerPhase, EngineStates

EARLY_RELEASE_MS = 60  # an early pause ends when the sound stops this long before the VAD's start
FLOOR_FRAMES = 150  # 1.5 s of frames echo control let through: the line's noise floor is their minimum
FLOOR_MIN_FRAMES = 50  # fewer than this (a quiet line: echo control mutes what is below its floor): the default floor


class TurnEngine(EngineStates):
    def __init__(self, policy: TurnPolicy | None = None, rate: int = 16000) -> None:
        self.policy = policy or TurnPolicy()
        self.rate = rate
        self.now = 0.0
        self.bot_active = False  # the bot is playing (set by the adapter before each observation)
        self.reply_pending = False  # a reply to the last turn is coming (set by the adapter; continue_within_ms)
        self._last_end_ms = -math.inf  # end of the last caller turn handed over
        self._continues = False  # the current utterance continues the previous turn
        self.language: str | None = None  # the call's language (backchannel lexicon, text rules)
        self._preroll: collections.deque[bytes] = collections.deque()
        self._preroll_bytes = 0
        self._utterance: list[bytes] = []
        self.phase = CallerPhase.QUIET
        self._close_end_ms = 0.0
        self._close_verdict: str | None = None  # complete | incomplete | None (unknown yet)
        self._onset_ms = 0.0
        self._voiced_ms = 0.0
        self.hold = BotHold.PLAYING
        self._paused_at_ms = 0.0
        self._interrupted = False
        self._seq = 0  # speculative work generation: results of older generations are discarded
        self._partial_in_flight, self._next_partial_ms, self._partial_text = False, 0.0, ""
        self._partial_covers_ms = 0.0  # caller audio (ms, from the onset) the newest partial request covers
        self._no_words = False  # a long enough partial came back with no word: not speech
        self._dismissed = False  # this sound outlasted the pause unconfirmed; the bot plays on over it
        self._voiced_run_ms = 0.0  # voiced audio in a row up to now (the VAD's start decision comes later)
        self._active_run_ms = 0.0  # loud audio in a row (the early pause)
        self._quiet_run_ms = 0.0  # neither loud nor voiced, in a row (frames muted as echo not counted)
        self._floor_db: float | None = None  # the caller line's noise floor (level after echo control)
        self._levels: collections.deque[float] = collections.deque(maxlen=FLOOR_FRAMES)
        self._early_spent = False  # an early pause of this sound was released: not again until it stops
        self._early_paused_at_ms = 0.0
        self._reonset = Reonset(self.policy.barge_in.reonset_rise_db, self.policy.barge_in.early_level_dbfs)
        self._check_in_flight, self._check_bytes = False, 0
        self._check_text: str | None = None
        self._check_incomplete = False  # a part of the current check said "incomplete"
        self._check_answered = False  # a part of the current check has answered
        self._st_doubts = False  # smart-turn said "incomplete" where it may not hold the turn (smart_turn_holds: false)
        eot = self.policy.end_of_turn
        self._tail = QuietTail(eot.early_quiet_db, eot.early_check_ms)  # the check started before the VAD's stop
        self._dtmf, self._last_dtmf_ms = "", 0.0

    # ---- helpers ---------------------------------------------------------------------------
    def _ms(self, nbytes: int) -> float:
        return nbytes / 2 / self.rate * 1000

    def _emit(self, out: list[TurnAction], kind: EventKind, **data) -> None:
        out.append(EmitEvent(kind, data))

    def _keep_preroll(self, audio: bytes) -> None:
        self._preroll.append(audio)
        self._preroll_bytes += len(audio)
        limit = int(self.rate * 2 * self.policy.end_of_turn.preroll_ms / 1000)
        while self._preroll and self._preroll_bytes - len(self._preroll[0]) >= limit:
            self._preroll_bytes -= len(self._preroll.popleft())

    @property
    def _bot_active(self) -> bool:
        return self.bot_active or self.paused or (self.reply_pending and self.policy.end_of_turn.continue_within_ms > 0)

    def _pause(self, out: list[TurnAction]) -> None:
        if self.paused or not self.policy.barge_in.pause_on_speech:
            return
        self.hold = BotHold.EARLY if self.hold is BotHold.EARLY_LIFTED else BotHold.PAUSED  # an early stage goes on
        self._paused_at_ms = self.now
        self._reonset.reset()
        out.append(PauseBot(self._onset_ms))

    def _resume(self, out: list[TurnAction], why: str) -> None:
        if not self.paused:
            return
        self._lift_hold()
        out.append(ResumeBot(why))

    def _interrupt(self, out: list[TurnAction], why: str, voiced_ms: float | None = None, word: str | None = None) -> None:
        self._lift_hold()
        self._interrupted = True
        self._seq += 1  # partials of the paused stage are done with
        self._partial_in_flight = False
        within = self.policy.end_of_turn.continue_within_ms
        continues = within > 0 and why != "dtmf" and self._onset_ms - self._last_end_ms <= within
        if continues:
            self._continues = True
        out.append(InterruptBot(why, self._onset_ms, voiced_ms=voiced_ms, word=word, continues=continues))

    def output_flushed(self) -> None:
        """The pipeline's interruption has flushed the output (pipecat's InterruptionFrame came by)."""
        self._lift_hold()

    # ---- observations ----------------------------------------------------------------------
    def audio(self, t_end_ms: float, pcm: bytes, voiced: bool, level_db: float | None = None,
              echo_masked: bool = False) -> list[TurnAction]:
        """``pcm`` (16-bit mono) ends at caller-audio time ``t_end_ms``; ``voiced``: the VAD's frame state;
        ``level_db``: the frame's level (dBFS) as the VAD saw it, after echo control (None: no early pause);
        ``echo_masked``: echo control muted this frame as the bot's own echo (the caller may be under it)."""
        out: list[TurnAction] = []
        self.now = max(self.now, t_end_ms)
        self._early_pause_step(out, self._ms(len(pcm)), voiced, level_db, echo_masked)
        self._reonset_step(out, level_db)
        eot = self.policy.end_of_turn
        if self.speaking or self._closing:
            self._utterance.append(pcm)
            if self._ms(sum(map(len, self._utterance))) > eot.max_utterance_ms:
                self._finish(out, self.now)
        else:
            self._keep_preroll(pcm)
        if self.speaking and voiced:
            self._voiced_ms += self._ms(len(pcm))
        if self.speaking and not self._closing and level_db is not None and eot.early_check_ms > 0:
            self._early_check_step(out, level_db, self._ms(len(pcm)), voiced)
        self._voiced_run_ms = self._voiced_run_ms + self._ms(len(pcm)) if voiced else 0.0
        bi = self.policy.barge_in
        if self.speaking and self._bot_active and bi.enabled and not self._interrupted:
            limit = bi.confirm_ms
            if bi.confirm_by_words and self._partial_text and is_backchannel(self._partial_text, self.language):
                limit = max(limit, bi.backchannel_max_ms)
            if self._voiced_ms >= limit and not (bi.confirm_by_words and self._no_words):
                self._interrupt(out, "speech_confirmed", voiced_ms=round(self._voiced_ms))
            elif bi.confirm_by_words:
                self._maybe_request_partial(out)
        if self.paused and self.now - self._paused_at_ms >= bi.resume_after_ms:
            self._dismissed = self.speaking  # the sound goes on unconfirmed: not a turn, unless words confirm it
            self._resume(out, self._unconfirmed_reason("not_confirmed"))
        if self._dismissed and self.speaking and not self._bot_active:
            # the bot finished its turn while the dismissed sound went on: the caller may be answering in it
            # (noise that began under the bot's last words must not swallow the caller's turn)
            self._dismissed = False
            self._emit(out, "sound_outlasts_bot")
        if self._closing:
            self._maybe_close(out)
        if self._dtmf and self.now - self._last_dtmf_ms >= eot.dtmf_timeout_ms:
            self._flush_dtmf(out)
        return out

    def vad_start(self, start_len_ms: float) -> list[TurnAction]:
        """The VAD decided "speaking" after ``start_len_ms`` of voiced audio (its start_secs)."""
        out: list[TurnAction] = []
        if self._closing:  # the caller goes on after a pause: same utterance, discard the check
            self.phase = CallerPhase.SPEAKING
            self._seq += 1
            self._check_in_flight = False
            self._tail.drop()
            self._emit(out, "turn_continues", paused_ms=round(self.now - self._close_end_ms, 1))
            return out
        self.phase = CallerPhase.SPEAKING
        self._tail.reset()
        self._voiced_ms = start_len_ms
        self._interrupted = False
        self._continues = False
        self._partial_text = ""
        self._no_words = False
        self._dismissed = False
        self._onset_ms = max(0.0, self.now - start_len_ms - 10.0)
        self._utterance = list(self._preroll)
        self._preroll.clear()
        self._preroll_bytes = 0
        sound_start = self.now - start_len_ms
        if self._early:  # the early pause heard this sound begin before the VAD did (soft onsets: up to ~200 ms)
            sound_start = min(sound_start, self._early_paused_at_ms - self.policy.barge_in.early_pause_ms)
        self._next_partial_ms = sound_start + self.policy.barge_in.partial_first_ms
        self._end_early_stage()  # the VAD's start came: the early pause (if any) is the pause of this sound
        self._emit(out, "vad_start", onset_ms=round(self._onset_ms, 1))
        if self._bot_active and self.policy.barge_in.enabled:
            self._pause(out)
            if self._early_spent and self.paused:
                # this sound already held the bot early (released at early_hold_ms, the sound went on):
                # resume_after_ms counts from that first pause, the bot is not held twice as long
                self._paused_at_ms = min(self._paused_at_ms, self._early_paused_at_ms)
        return out

    def vad_stop(self, stop_len_ms: float) -> list[TurnAction]:
        """The VAD decided "quiet" after ``stop_len_ms`` of silence (its stop_secs)."""
        out: list[TurnAction] = []
        if not self.speaking:
            return out
        end_ms = max(self._onset_ms, self.now - stop_len_ms)
        self._emit(out, "vad_stop", end_ms=round(end_ms, 1))
        self.phase = CallerPhase.QUIET
        if self.paused or (self._dismissed and not self._interrupted):
            # the sound ended before it was confirmed: a backchannel, a cough, noise
            self._dismissed = False
            self._utterance = []
            self._seq += 1
            self._partial_in_flight = False
            self._resume(out, self._unconfirmed_reason("speech_too_short"))
            return out
        eot = self.policy.end_of_turn
        if eot.vad_stop_ms >= eot.silence_ms or not eot.semantic or end_ms - self._onset_ms < eot.min_speech_ms:
            self._finish(out, end_ms)
            return out
        self.phase = CallerPhase.CLOSING
        self._close_end_ms = end_ms
        self._close_verdict = None
        if self._tail.seq is not None and self._tail.seq == self._seq:
            return self._adopt_early_check(out)
        self._seq += 1
        self._check_in_flight = True
        self._check_bytes = sum(map(len, self._utterance))
        self._check_text = None
        self._check_incomplete = self._check_answered = self._st_doubts = False
        out.append(CheckTurnEnd(self._seq, b"".join(self._utterance), text="text" in eot.semantic,
                                smart_turn="smart_turn" in eot.semantic))
        self._maybe_close(out)
        return out

    def partial_result(self, seq: int, text: str) -> list[TurnAction]:
        """A speculative transcript of the paused caller speech (request ``seq``)."""
        out: list[TurnAction] = []
        if seq != self._seq:
            return out
        self._partial_in_flight = False
        if not self.speaking or not self._bot_active or self._interrupted:
            return out
        self._partial_text = text
        self._emit(out, "partial_transcript", text=text)
        word = first_content_word(text, self.language) if text.strip() else None
        if word is not None:
            self._interrupt(out, "words", word=word)
        elif not text.strip() and self._partial_covers_ms >= self.policy.barge_in.no_words_after_ms:
            self._no_words = True  # long enough to hold a word, and none: noise / a cough / echo residue
        return out

    def check_result(self, seq: int, *, text: str | None = None, smart_turn_prob: float | None = None,
                     more: bool = False) -> list[TurnAction]:
        """The semantic end-of-turn check for request ``seq``: the transcript and/or smart-turn probability.

        It may come in parts (``more=True``: another part follows): smart-turn answers in tens of
        milliseconds, a transcript in hundreds, and an "incomplete" from the first part must not
        wait behind the second. Either part saying "incomplete" decides; "complete" needs every part.
        """
        out: list[TurnAction] = []
        if seq == self._tail.seq and not self._closing:  # the early check answered before the VAD's stop
            self._tail.parts.append(CheckPart(text, smart_turn_prob, more))
            return out
        if seq != self._seq or not self._closing:
            return out  # the caller went on: the speculative work is discarded
        self._check_in_flight = more
        eot = self.policy.end_of_turn
        if text is not None:
            self._check_text = text
            self._check_incomplete = self._check_incomplete or text_incomplete(text, self.language, eot.order_digits)
            self._st_doubts = self._st_doubts or text_preamble(text, self.language)  # "Hello." - the request follows
        if smart_turn_prob is not None:
            if smart_turn_prob < eot.smart_turn_threshold:
                if eot.smart_turn_holds:
                    self._check_incomplete = True
                else:
                    self._st_doubts = True  # it cannot hold the turn, but neither may it end it early
            self._check_answered = True
        self._check_answered = self._check_answered or text is not None
        if self._check_incomplete:
            verdict: str | None = "incomplete"
        elif self._st_doubts and not more:
            verdict = None  # the words read complete, smart-turn doubts it: the plain silence timeout decides
        elif self._check_answered and not more:
            verdict = "complete"
        else:
            verdict = None
        self._close_verdict = verdict
        self._emit(out, "end_of_turn_check", verdict=verdict, text=text, partial=more,
                   smart_turn=None if smart_turn_prob is None else round(smart_turn_prob, 3))
        self._maybe_close(out)
        return out

    def dtmf(self, digit: str) -> list[TurnAction]:
        out: list[TurnAction] = []
        self._emit(out, "dtmf", digit=digit)
        if self._bot_active and self.policy.barge_in.dtmf_interrupts:
            self._interrupt(out, "dtmf")
        self._last_dtmf_ms = self.now
        if digit == "#":
            self._flush_dtmf(out)
        else:
            self._dtmf += digit
            if digit == "0" and len(self._dtmf) == 1:  # "press 0 for an agent" ends the entry at once
                self._flush_dtmf(out)
        return out

    def end(self) -> list[TurnAction]:
        """The call is ending: hand over a pending keypad entry."""
        out: list[TurnAction] = []
        self._flush_dtmf(out)
        return out

    # ---- internals -------------------------------------------------------------------------
    def _reonset_step(self, out: list[TurnAction], level_db: float | None) -> None:
        if self.policy.barge_in.reonset_rise_db <= 0 or level_db is None or not self.paused or self._interrupted:
            return
        hit = self._reonset.step(level_db)
        if hit is not None:
            self._paused_at_ms = self.now  # the words after a breath: resume_after_ms counts from here
            self._emit(out, "reonset", level_db=round(hit[0], 1), before_db=round(hit[1], 1))

    def _early_pause_step(self, out: list[TurnAction], ms: float, voiced: bool, level_db: float | None, masked: bool) -> None:
        bi = self.policy.barge_in
        loud = False
        if level_db is not None and level_db > -100.0:  # a frame muted by echo control is not line noise
            # the floor: the quietest of the last FLOOR_FRAMES frames echo control let through
            self._levels.append(level_db)
            floor = min(self._levels) if len(self._levels) >= FLOOR_MIN_FRAMES else bi.early_level_dbfs - bi.early_rise_db
            self._floor_db = floor
            loud = level_db >= max(bi.early_level_dbfs, floor + bi.early_rise_db)
        # loud, not merely voiced: webrtcvad calls much line noise voiced, and a quiet voiced sound
        # still pauses the bot at the VAD's start (measured: 13 instead of 17 pauses in 5 noisy turns)
        active = loud
        self._active_run_ms = self._active_run_ms + ms if active else 0.0
        # a frame muted as echo is not quiet: the bot's echo (still arriving after the pause) may hide the caller
        self._quiet_run_ms = 0.0 if (active or voiced) else self._quiet_run_ms + (0.0 if masked else ms)
        if not active:
            self._early_spent = False
        if not bi.enabled or bi.early_pause_ms <= 0:
            return
        if self._early:
            # held while the sound goes on, up to early_hold_ms; the VAD's start ends the early stage
            if not self.paused:
                self._end_early_stage()
            elif self._quiet_run_ms >= EARLY_RELEASE_MS or (self.now - self._paused_at_ms >= bi.early_hold_ms and not voiced):
                # (a voiced frame at early_hold_ms: the VAD may be counting toward its start; wait one frame more)
                self._end_early_stage()
                self._early_spent = self._active_run_ms > 0
                self._resume(out, "early_unconfirmed")
            return
        if (not self.speaking and not self._closing and not self.paused and self._bot_active and not self._early_spent
                and self._active_run_ms >= bi.early_pause_ms):
            self._onset_ms = max(0.0, self.now - self._active_run_ms)
            self._pause(out)
            if self.paused:
                self.hold = BotHold.EARLY
                self._early_paused_at_ms = self.now
                self._emit(out, "early_pause", onset_ms=round(self._onset_ms, 1), loud=loud, voiced=voiced)

    def _unconfirmed_reason(self, default: str) -> str:
        if self._partial_text and is_backchannel(self._partial_text, self.language):
            return "backchannel"
        return "no_words" if self._no_words else default

    def _maybe_request_partial(self, out: list[TurnAction]) -> None:
        if self._partial_in_flight or self.now < self._next_partial_ms:
            return
        self._partial_in_flight = True
        self._next_partial_ms = self.now + self.policy.barge_in.partial_every_ms
        self._seq += 1
        self._partial_covers_ms = self.now - self._onset_ms
        out.append(TranscribePartial(self._seq, b"".join(self._utterance)))

    def _maybe_close(self, out: list[TurnAction]) -> None:
        if self._voiced_run_ms > 0:
            return  # the caller is making sound again: never answer into it (the VAD's start may follow)
        eot = self.policy.end_of_turn
        silence = self.now - self._close_end_ms
        if self._close_verdict == "complete":
            wait = eot.complete_silence_ms
        elif self._close_verdict == "incomplete":
            wait = eot.incomplete_silence_ms
        else:
            wait = eot.silence_ms
            if self._st_doubts and not self._check_in_flight and eot.doubt_silence_ms:
                wait = eot.doubt_silence_ms  # the words read complete; only the prosody model doubts it
            if self._check_in_flight and "text" in eot.semantic:  # the transcript is on its way: the reply waits for it anyway
                wait = max(wait, eot.check_wait_ms)
        if silence >= wait:
            transcript = self._check_text  # valid: the caller said nothing since (that discards the check)
            self._finish(out, self._close_end_ms, reason=self._close_verdict or "timeout", transcript=transcript)

    def _early_check_step(self, out: list[TurnAction], level_db: float, ms: float, voiced: bool) -> None:
        if not self._tail.observe(level_db, ms, voiced):
            self._emit(out, "early_check_dropped")  # louder again: the caller goes on
            return
        eot = self.policy.end_of_turn
        if (self._tail.ready() and eot.semantic and not self._bot_active and eot.vad_stop_ms < eot.silence_ms
                and self.now - self._tail.quiet_ms - self._onset_ms >= eot.min_speech_ms):
            self._seq += 1
            audio = b"".join(self._utterance)
            self._tail.seq, self._tail.cut_bytes = self._seq, len(audio)
            self._emit(out, "early_check", quiet_ms=round(self._tail.quiet_ms, 1))
            audio = pad_with_quiet(audio, int(self.rate * 2 * eot.early_check_ms / 1000), int(self.rate * 2 * eot.early_pad_ms / 1000))
            out.append(CheckTurnEnd(self._seq, audio, text="text" in eot.semantic, smart_turn="smart_turn" in eot.semantic))

    def _adopt_early_check(self, out: list[TurnAction]) -> list[TurnAction]:
        """The VAD stopped and the caller stayed quiet since the early check: it is this turn's check,
        and the silence counts from where the level fell."""
        parts, self._check_bytes = self._tail.parts, self._tail.cut_bytes
        self._close_end_ms = min(self._close_end_ms, self.now - self._tail.quiet_ms)
        self._tail.drop()
        self._check_in_flight = True
        self._check_text = None
        self._check_incomplete = self._check_answered = self._st_doubts = False
        self._emit(out, "early_check_adopted", end_ms=round(self._close_end_ms, 1))
        for part in parts:
            out.extend(self.check_result(self._seq, text=part.text, smart_turn_prob=part.smart_turn_prob, more=part.more))
        if self._closing:  # (an answered check may have ended the turn already)
            self._maybe_close(out)
        return out

    def _finish(self, out: list[TurnAction], end_ms: float, reason: str = "silence", transcript: str | None = None) -> None:
        self.phase = CallerPhase.QUIET
        self._tail.reset()
        self._seq += 1
        audio = b"".join(self._utterance)
        self._utterance = []
        # Keep 200 ms of the closing silence (the ASR wants a little tail), drop the rest.
        trailing_ms = self.now - end_ms - 200
        if trailing_ms > 0:
            cut = int(trailing_ms * self.rate / 1000) * 2
            audio = audio[: max(0, len(audio) - cut)]
        continues, self._continues = self._continues, False
        if end_ms - self._onset_ms < self.policy.end_of_turn.min_speech_ms:
            self._emit(out, "turn_end", ignored="too_short", start_ms=round(self._onset_ms, 1), end_ms=round(end_ms, 1))
            return
        self._last_end_ms = end_ms
        utt = Utterance(audio, self._onset_ms, end_ms, self._take_dtmf(), transcript, continues=continues)
        out.append(EndTurn(utt, reason))

    def _take_dtmf(self) -> str:
        digits, self._dtmf = self._dtmf, ""
        return digits

    def _flush_dtmf(self, out: list[TurnAction]) -> None:
        if not self._dtmf or self.speaking or self._closing:
            return
        out.append(EndTurn(Utterance(b"", self.now, self.now, self._take_dtmf()), "dtmf"))
