"""The TTS stage: a dialogue reply in, the bot's audio out, one sentence at a time.

Each sentence is synthesized in a worker thread and pushed as soon as it is ready, so the
caller hears the first sentence while the next is being made. An interruption (pipecat's
``InterruptionFrame``) cancels this processor's in-flight work; the output drops whatever
audio is still queued.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor

from pipecat.frames.frames import Frame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.dialogue.api import DialogueReply
from voicebot.logs import get_logger
from voicebot.pipeline.frames import BotReplyFrame, BotSentenceAudioFrame
from voicebot.pipeline.state import CallState
from voicebot.tts.catalog import VoiceCatalog
from voicebot.tts.sentences import split_for_speech

log = get_logger(__name__)


class TTSProcessor(FrameProcessor):
    def __init__(self, state: CallState, catalog: VoiceCatalog, executor: Executor | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.catalog = catalog
        self.executor = executor

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotReplyFrame):
            await self._speak(frame.reply, frame.turn_id)
        elif isinstance(frame, TTSSpeakFrame):  # pipecat's plain "say this"
            lang = self.state.language or self.state.ctx.language or self.catalog.default_language
            await self._speak(DialogueReply(text=frame.text, language=lang), turn_id=0)
        else:
            await self.push_frame(frame, direction)

    async def _speak(self, reply: DialogueReply, turn_id: int) -> None:
        voice = self.catalog.voice_for(reply.language)
        sentences = split_for_speech(reply.text)
        loop = asyncio.get_running_loop()
        if not sentences:
            await self.push_frame(BotSentenceAudioFrame(text="", turn_id=turn_id, last=True, reply=reply))
            return
        t0 = time.perf_counter()
        for i, sentence in enumerate(sentences):
            last = i == len(sentences) - 1
            try:
                speech, voice_name = await loop.run_in_executor(self.executor, self.catalog.speak, reply.language, sentence)
            except Exception as exc:  # a broken voice must not leave the caller in silence forever
                log.exception("tts failed", extra={"call_id": self.state.ctx.call_id, "voice": voice.name})
                self.state.emit("error", where="tts", message=str(exc), voice=voice.name)
                await self.push_frame(BotSentenceAudioFrame(text="", turn_id=turn_id, last=last, reply=reply if last else None))
                continue
            audio = TTSAudioRawFrame(audio=speech.pcm.tobytes(), sample_rate=speech.sample_rate, num_channels=1)
            audio.metadata.update(turn_id=turn_id, text=sentence, tts_ms=round((time.perf_counter() - t0) * 1000, 1) if i == 0 else None, voice=voice_name)
            await self.push_frame(audio)
            await self.push_frame(BotSentenceAudioFrame(text=sentence, turn_id=turn_id, last=last, reply=reply if last else None))
