"""The value types every settings section is built from: strict flags, comma lists, secrets.

Environment variables are strings and YAML is loose ("no" is a string in some parsers, a bool
in others), so each type says exactly what it accepts and anything else is an error that
names the key. Pydantic's own bool would also take "t", "y" or 2.5-as-int; an operator who
wrote "maybe" or "flase" must hear about it instead of getting a guess.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


class ConfigError(ValueError):
    """A setting the program cannot use; the message names the key and says what to write."""


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"{value!r} is not a yes/no value; write true/false, 1/0, yes/no or on/off")


def _csv(value: Any) -> Any:
    """``"a, b"`` (an environment variable) -> ("a", "b"); lists pass through."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _mapping(value: Any) -> Any:
    """``'{"es": "sip:es@pbx"}'`` or ``"es=sip:es@pbx, en=sip:en@pbx"`` -> a dict."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc}") from None
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"write key=value pairs separated by commas (or a JSON object), not {part.strip()!r}")
        out[key.strip()] = val.strip()
    return out


# A yes/no setting: true/false, 1/0, yes/no, on/off (any case); anything else is refused.
Flag = Annotated[bool, BeforeValidator(_flag)]
# A list setting; from the environment as comma-separated text.
CsvTuple = Annotated[tuple[str, ...], BeforeValidator(_csv)]
# A name -> text mapping; from the environment as JSON or "key=value, key=value".
StrMap = Annotated[dict[str, str], BeforeValidator(_mapping)]
Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
# Secrets print as "**********" (``--print-config``, logs, reprs); ``reveal()`` gives the text.
Secret = SecretStr


def reveal(value: SecretStr | str | None) -> str | None:
    """The text of a secret setting (or of a plain string a test or library caller passed)."""
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class Section(BaseModel):
    """Base of every settings section: unknown keys refused, values checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True,
                              arbitrary_types_allowed=True)


def describe(exc: ValidationError, where: str = "", sources: dict[str, str] | None = None) -> str:
    """One line per problem: the dotted key, where it came from, and what is wrong."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = f"{where}{loc}" if loc else where.rstrip(".")
        src = (sources or {}).get(key)
        origin = f" (from {src})" if src else ""
        if err["type"] == "extra_forbidden":
            parent_model = _known_keys(exc, err["loc"][:-1])
            known = f"; known: {parent_model}" if parent_model else ""
            lines.append(f"unknown setting {key!r}{origin}{known}")
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        shown = err.get("input")
        value = f" = {shown!r}" if isinstance(shown, str | int | float | bool) and "secret" not in key and "password" not in key \
            and "token" not in key else ""
        lines.append(f"setting {key}{value}{origin}: {msg}")
    return "; ".join(lines)


def _known_keys(exc: ValidationError, loc: tuple[Any, ...]) -> list[str] | None:
    model = getattr(exc, "_voicebot_model", None)
    for part in loc:
        if model is None:
            return None
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        if field is None:
            return None
        model = _section_type(field.annotation)
    return sorted(model.model_fields) if model is not None else None


def _section_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _section_type(arg)
        if found is not None:
            return found
    return None


S = TypeVar("S", bound=BaseModel)


def validate_section(cls: type[S], raw: Any, where: str = "", sources: dict[str, str] | None = None) -> S:
    """``cls`` from a mapping, or :class:`ConfigError` naming each bad key (``where`` prefixes them)."""
    if raw is None:
        raw = {}
    if isinstance(raw, cls):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if not isinstance(raw, dict):
        raise ConfigError(f"setting {where.rstrip('.') or cls.__name__} must be a mapping of keys to values, not {type(raw).__name__}")
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        exc._voicebot_model = cls  # type: ignore[attr-defined]
        raise ConfigError(describe(exc, where, sources)) from None
