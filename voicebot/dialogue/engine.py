"""The process-wide dialogue engine: knowledge base, templates, order store, NLU, guard and
the optional LLM, loaded once and shared by every call's session."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from ..config_types import CsvTuple, Flag, Section, Seconds, StrMap, validate_section
from ..shop import ShopSettings
from voicebot.core import CallContext
from .flows import Resources, missing_kb_entries
from .guard import Guard
from .kb import KbError, KnowledgeBase
from .kb.knowledge import load_shop_kb, placeholders
from .languages.handoff_lines import check_all as check_handoff_lines
from .nlu_types import LANGUAGES
from .orders import OrderStore
from .orders.factory import check_store_name, make_store
from .orders.options import ShopifyOptions, WooCommerceOptions
from .session import CustomerServiceSession, SessionOptions, Understands
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
    """Operator settings for the dialogue: the ``dialogue:`` section of the settings (``Settings.dialogue``).

    The shop's name and languages are ``shop:`` (voicebot/shop.py)."""

    # The shop's own knowledge base: *.yaml files laid over the built-in entries by id (an entry
    # with the same id replaces ours whole). Default: <home>/kb, where the KB page saves edits.
    kb_dir: Path | None = None
    kb_replace_builtin: Flag = False  # true: the shop's files are the whole knowledge base (the flows' entries must be there)
    templates_file: Path | None = None  # reply templates reworded by the shop: {key: {language: text}} over the packs' ones
    # Where orders come from: "shopify", "woocommerce", "http" (docs/order-api.md),
    # "package.module:factory" (your own OrderStore, called with order_store_options as keyword
    # arguments), or "demo" (sample customers, fictional numbers: a loud banner says so; what
    # `serve --demo` sets). No default: unset, the bot refuses to start. See docs/order-stores.md.
    order_store: str | None = None
    order_store_options: dict[str, Any] = Field(default_factory=dict)
    order_api_url: str | None = None
    order_api_token_env: str = "VOICEBOT_ORDER_API_TOKEN"
    shopify: ShopifyOptions = Field(default_factory=ShopifyOptions)
    woocommerce: WooCommerceOptions = Field(default_factory=WooCommerceOptions)
    greetings: StrMap = Field(default_factory=dict)  # language -> opening line ({shop}, {name})
    allowed_domains: CsvTuple = ()  # the shop's own web domains (links elsewhere are blocked)
    session: SessionOptions = Field(default_factory=SessionOptions)
    llm: LlmOptions = Field(default_factory=LlmOptions)
    today: Callable[[], date] = Field(default=date.today, exclude=True)  # tests pin the calendar (not a setting)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "shop_name" in data:
            raise ValueError("dialogue.shop_name moved to shop.name (the shop section: name, languages, hours)")
        return data

    @field_validator("order_store")
    @classmethod
    def _store_name(cls, v: str | None) -> str | None:
        return check_store_name(v)


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


def load_nlu(languages: tuple[str, ...] = ()) -> Understands:
    """The NLU over every language pack, leaning to the shop's ``languages`` when it detects one."""
    try:
        from .nlu import Nlu  # type: ignore[attr-defined]
    except ImportError as exc:
        raise RuntimeError(f"language understanding is not available ({exc}); voicebot.dialogue.nlu must be installed") from exc
    return Nlu(prefer=languages)


GREETING_PLACEHOLDERS = frozenset({"shop", "name"})


class DialogueDataError(ValueError):
    """The knowledge base or reply templates cannot serve the shop; the message lists every problem."""


def shop_of(settings: Any) -> ShopSettings:
    shop = getattr(settings, "shop", None)
    return shop if isinstance(shop, ShopSettings) else ShopSettings()


def kb_folder(settings: Any, options: DialogueOptions) -> Path:
    """The shop's knowledge-base folder: ``dialogue.kb_dir``, else ``<home>/kb``."""
    return Path(options.kb_dir) if options.kb_dir is not None else Path(settings.home) / "kb"


def load_dialogue_data(settings: Any, options: DialogueOptions) -> tuple[KnowledgeBase, Templates]:
    """The shop's knowledge base and templates, checked for what the calls need: the flows'
    entries, every served language, the same placeholders. DialogueDataError lists every problem."""
    shop = shop_of(settings)
    folder = kb_folder(settings, options)
    try:
        kb = load_shop_kb(folder, replace_builtin=options.kb_replace_builtin, fallback=shop.default_language)
        templates = Templates.load(override=options.templates_file, fallback=shop.default_language)
        check_handoff_lines(("en", *shop.languages))  # a malformed handoff.yaml stops the start, not a call
    except (KbError, ValueError) as exc:
        raise DialogueDataError(str(exc)) from None
    missing = missing_kb_entries(kb.entries)
    if missing:
        raise DialogueDataError(
            f"the knowledge base in {folder} lacks entries the call flows say: {', '.join(missing)}; "
            "add them there, or set dialogue.kb_replace_builtin to false so the built-in ones are used")
    problems = [str(p) for p in kb.check(shop.languages) + templates.check(shop.languages)]
    for lang, text in options.greetings.items():
        if lang not in LANGUAGES:
            problems.append(f"dialogue.greetings: {lang!r} is not a language code with a pack ({', '.join(LANGUAGES)})")
        elif unknown := placeholders(text) - GREETING_PLACEHOLDERS:
            problems.append(f"dialogue.greetings[{lang}]: {sorted(unknown)} are not known; a greeting may use {{shop}} and {{name}}")
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise DialogueDataError(
            f"the knowledge base or reply templates do not cover the shop's languages ({', '.join(shop.languages)}):\n{shown}\n"
            "Fix them, or narrow shop.languages; `voicebot kb check` lists the same problems.")
    return kb, templates


class DialogueEngineImpl:
    """Implements :class:`voicebot.dialogue.api.DialogueEngine`."""

    def __init__(self, kb: KnowledgeBase, templates: Templates, store: OrderStore, nlu: Understands, options: DialogueOptions,
                 shop: ShopSettings | None = None) -> None:
        self.store, self.nlu, self.options = store, nlu, options
        self.shop = shop or ShopSettings()
        self.use(kb, templates)
        self.llm = None
        if options.llm.enabled:
            from .llm import LlmBackend

            self.llm = LlmBackend(options.llm)

    def use(self, kb: KnowledgeBase, templates: Templates) -> None:
        """Serve new calls with this knowledge base and these templates (a call in progress keeps
        the ones it started with: what it was told stays consistent)."""
        self.kb, self.templates = kb, templates
        self.guard = Guard(fallback=dict(templates.table["guard_fallback"]))
        self.policy_numbers = policy_numbers(kb)
        self.resources = Resources(kb, templates, self.store, self.shop.name, self.options.today, self.shop.languages)

    def fixed_phrases(self, lang: str) -> list[str]:
        """What this shop's bot may say in ``lang`` that is the same on every call (reply templates
        and knowledge-base answers with their values): the sentences worth pre-rendering."""
        texts = [texts.get(lang, "") for texts in self.resources.templates.table.values()]
        kb = [(e.text.get(lang, ""), e.values) for e in self.resources.kb.entries.values()]
        out = fixed_sentences(texts, shop=self.resources.shop_name)
        for text, values in kb:
            out += [s for s in fixed_sentences([text], shop=self.resources.shop_name, **values) if s not in out]
        return out

    def new_session(self, call: CallContext) -> CustomerServiceSession:
        if call.extra.get("outbound"):
            return self.new_outbound_session(call)  # type: ignore[return-value]
        session_opts = self.options.session.model_copy(update={"allowed_domains": self.options.allowed_domains or self.options.session.allowed_domains})
        return CustomerServiceSession(call, self.resources, self.nlu, self.guard, self.policy_numbers, session_opts,
                                      greetings=self.options.greetings, llm=self.llm)

    def new_outbound_session(self, call: CallContext) -> Any:
        """A call the bot placed (voicebot.dialogue.outbound). The ordinary session inside it gets
        no caller number or customer id: whoever picks up is not the customer until they say so."""
        from .outbound import OutboundSession

        inner_ctx = dataclasses.replace(call, caller_number=None, customer_id=None)
        session_opts = self.options.session.model_copy(update={"allowed_domains": self.options.allowed_domains or self.options.session.allowed_domains})
        inner = CustomerServiceSession(inner_ctx, self.resources, self.nlu, self.guard, self.policy_numbers, session_opts, llm=self.llm)
        return OutboundSession(call, inner, self.templates)  # the packs' ob_* lines, with the shop's rewording

    async def close(self) -> None:
        for part in (self.store, self.llm):
            if part is not None and hasattr(part, "close"):
                await part.close()


def build_engine(settings: Settings, *, nlu: Understands | None = None, options: DialogueOptions | None = None) -> DialogueEngineImpl:
    """Load everything once. ``nlu`` defaults to :class:`voicebot.dialogue.nlu.Nlu`. Raises
    DialogueDataError (knowledge base, templates) or OrderStoreConfigError with what to fix."""
    options = options or options_from_settings(settings)
    shop = shop_of(settings)
    kb, templates = load_dialogue_data(settings, options)
    store = make_store(settings, options)
    return DialogueEngineImpl(kb, templates, store, nlu or load_nlu(shop.languages), options, shop)
