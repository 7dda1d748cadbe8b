"""What one bot process shares between all its calls: settings, models, voices, dialogue
engines, worker threads. Heavy things are loaded once, on first use, and never per call.

The optional services (call records, hand-off, voicemail, outbound campaigns) are set once by
the composition root (``voicebot serve``, :func:`voicebot.server.compose`) before any router or
channel reads them; their types are imported for type checking only, so the runtime depends on
none of them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicebot.config import Settings
from voicebot.logs import get_logger
from voicebot.thread_priority import lower_this_thread
from voicebot.models.registry import ModelInfo, build_dev_models, read_model, resolve
from voicebot.pipeline.spec import PipelineSpec, load_spec

if TYPE_CHECKING:
    from voicebot.channels.base import AttachHandoff
    from voicebot.handoff.service import HandoffService
    from voicebot.handoff.voicemail_call import VoicemailService
    from voicebot.outbound.service import OutboundService
    from voicebot.records.service import Records

log = get_logger(__name__)

DEV_BANNER = (
    "*** DEV MODEL IN USE: {name} has RANDOM WEIGHTS. It measures latency and cost, NEVER accuracy; "
    "its transcripts are meaningless. Pull a real model with `voicebot models pull {real}` on a machine with network access. ***"
)


@dataclass
class Runtime:
    settings: Settings
    _asr: dict[str, Any] = field(default_factory=dict)
    _engines: dict[str, Any] = field(default_factory=dict)
    _specs: dict[str, PipelineSpec] = field(default_factory=dict)
    _catalogs: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    dev_models: set[str] = field(default_factory=set)
    records: Records | None = None  # every call is recorded when set
    handoff: HandoffService | None = None  # queues, agents, the bridge: the agent desk
    attach_handoff: AttachHandoff | None = None  # how a channel gives a call its hand-off (with ``handoff``)
    voicemail: VoicemailService | None = None  # messages taken outside hours (the hand-off bridge's)
    outbound: OutboundService | None = None  # campaigns: calls the bot places (needs records)
    require_user: Callable[..., Any] | None = None  # the agent desk's sign-in (a FastAPI dependency), reused by the QA pages
    # What /health asks: name -> check() returning None when fine, else a sentence saying what is
    # wrong and what to do. Any part may add one (records: disk writes; models: a load check).
    health_checks: dict[str, Callable[[], str | None]] = field(default_factory=dict)

    @property
    def store(self) -> Any:
        """The call record store (QA pages, analytics), when records are on."""
        return self.records.store if self.records is not None else None

    def __post_init__(self) -> None:
        threads = max(2, self.settings.models.cpu_threads)
        nice = (lower_this_thread, (self.settings.models.compute_nice,))  # the media loop comes first
        self.asr_executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="asr", initializer=nice[0], initargs=nice[1])
        self.tts_executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tts", initializer=nice[0], initargs=nice[1])

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages a call may be in, the shop's (``shop.languages``): the ASR detects among
        these, not all of Whisper's 99 (a shop serving es and en never hears Portuguese)."""
        shop = getattr(self.settings, "shop", None)
        if shop is not None:
            return tuple(shop.languages)
        from voicebot.dialogue.nlu_types import LANGUAGES

        return tuple(LANGUAGES)

    def spec(self, path: str | Path | None = None) -> PipelineSpec:
        key = str(path or self.settings.pipeline)
        if key not in self._specs:
            self._specs[key] = load_spec(key)
        return self._specs[key]

    def asr_model_info(self, spec: PipelineSpec) -> ModelInfo:
        models_dir = self.settings.models.dir
        name = spec.asr.model or self.settings.models.asr
        info = read_model(models_dir / name)
        if info is None and spec.asr.allow_dev and not name.endswith("-dev"):
            dev_name = f"{name}-dev"
            info = read_model(models_dir / dev_name)
            if info is None and self.settings.models.build_dev_if_missing and dev_name in ("whisper-tiny-dev", "whisper-base-dev"):
                build_dev_models(models_dir, [dev_name])
                info = read_model(models_dir / dev_name)
        return info or resolve(models_dir, name)

    def asr(self, spec: PipelineSpec):
        from voicebot.asr.whisper import WhisperASR, WhisperOptions

        info = self.asr_model_info(spec)
        a = spec.asr
        key = f"{info.path}|{a.beam_size}|{a.max_new_tokens}|{a.window_s}|{a.fit_pad_s}|{a.fit_min_s}"
        with self._lock:
            if key not in self._asr:
                if info.dev:
                    self.dev_models.add(info.name)
                    log.warning(DEV_BANNER.format(name=info.name, real=info.name.removesuffix("-dev")))
                m = self.settings.models
                self._asr[key] = WhisperASR(info.path, dev=info.dev, device=m.device, compute_type=m.compute_type, cpu_threads=m.cpu_threads,
                                            num_workers=2, options=WhisperOptions(beam_size=a.beam_size, max_new_tokens=a.max_new_tokens,
                                                                           window_s=a.window_s, fit_pad_s=a.fit_pad_s, fit_min_s=a.fit_min_s,
                                                                           languages=self.languages))
            return self._asr[key]

    def voices(self, spec: PipelineSpec):
        from voicebot.tts.catalog import VoiceCatalog

        with self._lock:
            if spec.tts.prefer not in self._catalogs:
                self._catalogs[spec.tts.prefer] = VoiceCatalog(self.settings.voices, self.settings.models.dir, prefer=spec.tts.prefer,
                                                               cache_dir=self.tts_cache_dir)
            return self._catalogs[spec.tts.prefer]

    @property
    def tts_cache_dir(self) -> Path:
        """Where the pre-rendered fixed phrases live (voicebot.tts.warm)."""
        return self.settings.home / "cache" / "tts"

    def fixed_phrases(self, spec: PipelineSpec, languages: tuple[str, ...] | None = None) -> dict[str, list[str]]:
        """The sentences the bot says the same on every call, per language (what is worth pre-rendering)."""
        engine = self.dialogue(spec)
        phrases = getattr(engine, "fixed_phrases", None)
        if phrases is None:
            return {}
        return {lang: phrases(lang) for lang in (languages or self.languages)}

    def dialogue(self, spec: PipelineSpec):
        name = spec.dialogue.engine
        with self._lock:
            if name not in self._engines:
                if name == "minimal":
                    from voicebot.dialogue.minimal import MinimalEngine

                    self._engines[name] = MinimalEngine(spec.dialogue.greetings)
                elif name == "builtin":
                    from voicebot.dialogue.engine import build_engine

                    self._engines[name] = build_engine(self.settings)
                else:
                    raise ValueError(f"unknown dialogue engine {name!r} in pipeline {spec.name}; use builtin or minimal")
            return self._engines[name]

    def loaded_engines(self) -> list[Any]:
        """The dialogue engines loaded so far (the knowledge-base page hands them its edits)."""
        with self._lock:
            return [e for name, e in self._engines.items() if name != "smart_turn"]

    @property
    def smart_turn(self):
        """pipecat's bundled smart-turn model (ONNX), loaded once when a pipeline asks for it."""
        with self._lock:
            if "smart_turn" not in self._engines:
                from voicebot.turns.smart_turn import SmartTurn

                self._engines["smart_turn"] = SmartTurn()
            return self._engines["smart_turn"]

    def warm_up(self, spec: PipelineSpec, asr: bool = True) -> None:
        """Load everything a call needs before the first caller waits for it (blocking: call it
        from a thread, or before the event loop starts)."""
        if asr:
            self.asr(spec)
        if "smart_turn" in spec.turns.end_of_turn.semantic:
            _ = self.smart_turn
        self.voices(spec).voice_for(None)
        self.dialogue(spec)

    async def aclose(self) -> None:
        """Close what the dialogue engines hold open (HTTP sessions to an order API or an LLM)."""
        for engine in self._engines.values():
            close = getattr(engine, "close", None)
            if close is not None and not asyncio.iscoroutinefunction(close):
                continue
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("dialogue engine close failed")
        self.close()

    def close(self) -> None:
        # Queued work is dropped; running work (bounded by the decoding caps) is waited for, so
        # nothing keeps decoding after the runtime is gone.
        self.asr_executor.shutdown(wait=True, cancel_futures=True)
        self.tts_executor.shutdown(wait=True, cancel_futures=True)
