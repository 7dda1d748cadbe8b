"""The process-wide dialogue engine: knowledge base, templates, order store, NLU, guard and
the optional LLM, loaded once and shared by every call's session."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ..config_types import CsvTuple, Flag, Section, Seconds, StrMap, validate_section
from .api import CallContext
from .flows import Resources
from .guard import Guard
from .kb import KnowledgeBase, load_kb
from .orders import OrderStore
from .session import DialogueSessionImpl, SessionOptions, Understands
from .templates import Templates, fixed_sentences

if TYPE_CHECKING:
    from ..config import Settings


class LlmOptions(Section):
    """An OpenAI-compatible chat-completions endpoint (a local server works). Off by default."""

    enabled: Flag = False
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "local-model"
    api_key_env: str = "VOICEBOT_LLM_API_KEY"  # the key is read from this variable, never from a file
    timeout_s: Seconds = 8.0
    max_tool_rounds: int = Field(3, ge=0)
    rephrase: Flag = False  # also let the model reword the built-in replies (facts are checked to survive)
    temperature: float = Field(0.2, ge=0, le=2)


class DialogueOptions(Section):
    """Operator settings for the dialogue: the ``dialogue:`` section of the settings (``Settings.dialogue``)."""

    shop_name: str = "Acme Shop"
    kb_dir: Path | None = None  # the merchant's own knowledge base (*.yaml); default: the built-in one
    order_store: Literal["sqlite", "http"] = "sqlite"  # "sqlite" (embedded, seeded with sample data) | "http" (docs/order-api.md)
    order_api_url: str | None = None
    order_api_token_env: str = "VOICEBOT_ORDER_API_TOKEN"
    greetings: StrMap = Field(default_factory=dict)  # language -> opening line ({shop}, {name})
    allowed_domains: CsvTuple = ()  # the shop's own web domains (links elsewhere are blocked)
    session: SessionOptions = Field(default_factory=SessionOptions)
    llm: LlmOptions = Field(default_factory=LlmOptions)
    today: Callable[[], date] = Field(default=date.today, exclude=True)  # tests pin the calendar (not a setting)


def options_from_settings(settings: Settings) -> DialogueOptions:
    """``settings.dialogue`` (the typed section; a mapping is validated the same way)."""
    raw: Any = getattr(settings, "dialogue", None)
    if isinstance(raw, DialogueOptions):
        return raw
    return validate_section(DialogueOptions, raw or {}, "dialogue.")


def _numbers(value: Any) -> set[int]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, int | float):
        return {int(value)}
    if isinstance(value, dict):
        return set().union(*(_numbers(v) for v in value.values())) if value else set()
    return set()


def policy_numbers(kb: KnowledgeBase) -> frozenset[int]:
    """Every number the knowledge base states: the only durations the bot may promise."""
    return frozenset(set().union(*(_numbers(e.values) for e in kb.entries.values())))


def make_store(settings: Settings, options: DialogueOptions) -> OrderStore:
    if options.order_store == "http":
        if not options.order_api_url:
            raise ValueError("dialogue.order_store is 'http' but dialogue.order_api_url is empty; set it to the merchant API base URL")
        from .orders.http_store import HttpOrderStore, HttpStoreOptions

        return HttpOrderStore(HttpStoreOptions(options.order_api_url, os.environ.get(options.order_api_token_env)))
    if options.order_store != "sqlite":
        raise ValueError(f"dialogue.order_store must be 'sqlite' or 'http', not {options.order_store!r}")
    from .orders.sqlite_store import SqliteOrderStore

    return SqliteOrderStore(settings.home / "orders.sqlite3", today=options.today)


def load_nlu() -> Understands:
    try:
        from .nlu import Nlu  # type: ignore[attr-defined]
    except ImportError as exc:
        raise RuntimeError(f"language understanding is not available ({exc}); voicebot.dialogue.nlu must be installed") from exc
    return Nlu()


class DialogueEngineImpl:
    """Implements :class:`voicebot.dialogue.api.DialogueEngine`."""

    def __init__(self, kb: KnowledgeBase, templates: Templates, store: OrderStore, nlu: Understands, options: DialogueOptions) -> None:
        self.kb, self.templates, self.store, self.nlu, self.options = kb, templates, store, nlu, options
        self.guard = Guard(fallback=dict(templates.table["guard_fallback"]))
        self.policy_numbers = policy_numbers(kb)
        self.resources = Resources(kb, templates, store, options.shop_name, options.today)
        self.llm = None
        if options.llm.enabled:
            from .llm import LlmBackend

            self.llm = LlmBackend(options.llm)

    def fixed_phrases(self, lang: str) -> list[str]:
        """What this shop's bot may say in ``lang`` that is the same on every call (reply templates
        and knowledge-base answers with their values): the sentences worth pre-rendering."""
        texts = [texts.get(lang, "") for texts in self.resources.templates.table.values()]
        kb = [(e.text.get(lang, ""), e.values) for e in self.resources.kb.entries.values()]
        out = fixed_sentences(texts, shop=self.resources.shop_name)
        for text, values in kb:
            out += [s for s in fixed_sentences([text], shop=self.resources.shop_name, **values) if s not in out]
        return out

    def new_session(self, call: CallContext) -> DialogueSessionImpl:
        if call.extra.get("outbound"):
            return self.new_outbound_session(call)  # type: ignore[return-value]
        session_opts = self.options.session.model_copy(update={"allowed_domains": self.options.allowed_domains or self.options.session.allowed_domains})
        return DialogueSessionImpl(call, self.resources, self.nlu, self.guard, self.policy_numbers, session_opts,
                                   greetings=self.options.greetings, llm=self.llm)

    def new_outbound_session(self, call: CallContext) -> Any:
        """A call the bot placed (voicebot.dialogue.outbound). The ordinary session inside it gets
        no caller number or customer id: whoever picks up is not the customer until they say so."""
        from .outbound import OutboundSession, load_outbound_templates

        if not hasattr(self, "_outbound_templates"):
            self._outbound_templates = load_outbound_templates()
        inner_ctx = dataclasses.replace(call, caller_number=None, customer_id=None)
        session_opts = self.options.session.model_copy(update={"allowed_domains": self.options.allowed_domains or self.options.session.allowed_domains})
        inner = DialogueSessionImpl(inner_ctx, self.resources, self.nlu, self.guard, self.policy_numbers, session_opts, llm=self.llm)
        return OutboundSession(call, inner, self._outbound_templates)

    async def close(self) -> None:
        for part in (self.store, self.llm):
            if part is not None and hasattr(part, "close"):
                await part.close()


def build_engine(settings: Settings, *, nlu: Understands | None = None, options: DialogueOptions | None = None) -> DialogueEngineImpl:
    """Load everything once. ``nlu`` defaults to :class:`voicebot.dialogue.nlu.Nlu`."""
    options = options or options_from_settings(settings)
    kb = load_kb(directory=options.kb_dir)
    templates = Templates.load()
    problems = kb.check() + templates.check()
    if problems:
        raise ValueError("knowledge base is incomplete; run `voicebot kb check`:\n" + "\n".join(map(str, problems[:20])))
    return DialogueEngineImpl(kb, templates, make_store(settings, options), nlu or load_nlu(), options)
