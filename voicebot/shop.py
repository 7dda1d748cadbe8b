"""The ``shop:`` settings section: who the bot answers for, in which languages, and when.

One place for what a merchant states about their shop: its name (said in greetings and
replies), the languages it serves (the knowledge base, reply templates and ``voicebot kb
check`` must cover those and no others; language detection prefers them; agents' and
replays' languages must be among them), and its business hours (the hand-off's default when a
queue or agent has none of its own). Kept free of heavy imports: ``voicebot.config`` loads it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from voicebot.config_types import Section
from voicebot.schedule import Schedule


def available_languages() -> tuple[str, ...]:
    """Codes of every language this installation has a language pack for, in pack order."""
    from voicebot.dialogue.languages import pack_codes

    return pack_codes()


def _codes(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def parse_languages(value: Any, *, served: tuple[str, ...] | None = None, what: str = "languages") -> tuple[str, ...]:
    """``"en, es"`` or ``["en", "es"]`` -> ("en", "es"), each an ISO 639-1 code with a language pack
    (and, when ``served`` is given, one of those). Raises ValueError naming what to write."""
    codes = _codes(value)
    if not isinstance(codes, list | tuple) or not codes:
        raise ValueError(f"{what}: write one or more ISO 639-1 codes separated by commas, e.g. en,es")
    known = served if served is not None else available_languages()
    out: list[str] = []
    for raw in codes:
        code = str(raw).strip().lower().replace("_", "-")
        if code not in known:
            what_is = "a language this shop serves (shop.languages)" if served is not None else "the ISO 639-1 code of a language pack"
            raise ValueError(f"{raw!r} is not {what_is}; write codes from: {', '.join(known)}")
        if code not in out:
            out.append(code)
    return tuple(out)


Languages = Annotated[tuple[str, ...], BeforeValidator(_codes)]


class ShopSettings(Section):
    """The shop itself (``shop:``). Defaults: a sample shop serving every packed language on weekdays 9-17 UTC."""

    name: str = "Acme Shop"  # said in greetings and replies ({shop})
    # The languages the shop serves (ISO 639-1, first = the fallback when a caller's language is
    # unknown or not served). Default: every language with a pack (voicebot/dialogue/languages/).
    languages: Languages = Field(default_factory=available_languages)
    # Business hours: when people answer. The hand-off uses these unless a queue or agent has its own.
    hours: Schedule = Field(default_factory=Schedule)

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return parse_languages(v, what="shop.languages")

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def serves(self, code: str | None) -> bool:
        return bool(code) and str(code).split("-")[0].lower() in self.languages
