"""Language packs: everything the bot knows about one language, in one folder.

Each folder here named by an ISO 639-1 code (``en/``, ``es/`` ...) is a pack, found at start:

* ``pack.yaml``      — name, script, how dates, lists and order numbers are said, the
  backchannels a listener says, the guard's phrases, the recogniser's hint sentences, the
  phrases a called customer opts out with;
* ``lexicon.yaml``   — the NLU lexicon: intent patterns, number words, spelled letters, email words;
* ``templates.yaml`` — the bot's reply templates (``key: text``), the outbound call's (``ob_*``) too;
* ``kb.yaml``        — translations of the built-in knowledge base (``entry id: {text, name, keywords}``);
* ``training.jsonl`` — labelled utterances for the intent classifier (optional);
* ``handoff.yaml``   — what the hand-off says to a caller (:mod:`.handoff_lines`; lines left out are English).

A pack's voice is ``voice:`` in ``pack.yaml`` (espeak-ng's voice of the same code when unset);
``voices/catalog.yaml`` overrides it per language.

Adding a language is adding a folder, here or in a folder named by $VOICEBOT_LANGUAGE_PACKS
(``README.md`` here lists the steps); nothing in the code names a language. Packs are read once
per process and are read-only afterwards.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PACKS_DIR = Path(__file__).resolve().parent
ENV_EXTRA = "VOICEBOT_LANGUAGE_PACKS"  # more folders of packs (read before the settings: it decides which languages exist)
_CODE = re.compile(r"^[a-z]{2,3}$")
VOICE_KEYS = ("espeak", "rate", "reader", "voices")


class _PlainLoader(yaml.SafeLoader):
    """YAML without the 1.1 surprises: ``yes``, ``no``, ``on``, ``null`` stay words (backchannels, range words)."""


_PlainLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:null")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class LanguagePackError(ValueError):
    """A language pack is malformed; the message names the file and the key to fix."""


@dataclass(frozen=True)
class GuardPhrases:
    """What the compliance guard looks for in this language (regular expressions, lower case)."""

    off_platform: str = ""  # steering the caller to pay outside the shop
    promise: str = ""  # compensation, vouchers, promises
    duration_units: str = ""  # words for spans of time ("days?|hours?"): a number before one is a commitment
    range_words: tuple[str, ...] = ()  # "to", "bis", "到": "3 to 5 days"
    dates: str = ""  # day-and-month shapes that are dates, not durations ("6月12日")


@dataclass(frozen=True)
class LanguagePack:
    code: str
    name: str
    directory: Path
    rank: int = 100  # order among packs: the first is the fallback, and it breaks ties in detection
    script: str = "latin"  # the script the language is written in (see nlu/text.py script_of)
    script_decides: bool = False  # any character of this script means this language (kana -> ja)
    unspaced: bool = False  # written without spaces between words (zh, ja, th)
    simplify_han: bool = False  # traditional Chinese characters are read as simplified (zh)
    letter_hints: dict[str, float] = field(default_factory=dict)  # characters pointing to this language: weight per character
    date_format: str = "{day}/{month}"  # fields: day, month, month_name
    month_names: tuple[str, ...] = ()
    list_separator: str = ", "  # "a, b and c"; the "and" is the template ``and``
    group_separator: str = ", "  # between digit groups of an order number read back
    backchannels: frozenset[str] = frozenset()  # listener words that do not take the turn (normalised)
    backchannel_phrases: tuple[str, ...] = ()  # two-word ones ("uh huh", "va bene")
    guard: GuardPhrases = field(default_factory=GuardPhrases)
    asr_hints: dict[str, str] = field(default_factory=dict)  # expected answer kind -> a sample answer
    opt_out_phrases: tuple[str, ...] = ()  # "stop calling me": a called customer's opt-out (lower case, substring)
    # How the language is spoken when voices/catalog.yaml has no entry for it: the keys of a
    # catalog entry (espeak, rate, reader, voices). Default: espeak-ng's voice named by the code.
    voice: dict[str, Any] = field(default_factory=dict)

    @property
    def lexicon_path(self) -> Path:
        return self.directory / "lexicon.yaml"

    @property
    def templates_path(self) -> Path:
        return self.directory / "templates.yaml"

    @property
    def kb_path(self) -> Path:
        return self.directory / "kb.yaml"

    @property
    def training_path(self) -> Path:
        return self.directory / "training.jsonl"

    def format_date(self, day: Any) -> str:
        """A day and month the way this language says them (``day`` is a ``datetime.date``)."""
        month_name = self.month_names[day.month - 1] if len(self.month_names) == 12 else str(day.month)
        return self.date_format.format(day=day.day, month=day.month, month_name=month_name)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_PlainLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise LanguagePackError(f"language pack file missing: {path}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise LanguagePackError(f"{path}: cannot read it: {exc}") from None


def _text(data: dict[str, Any], key: str, where: Path, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise LanguagePackError(f"{where}: `{key}` must be text, not {type(value).__name__}")
    return value


def _number(data: dict[str, Any], key: str, where: Path, default: float) -> Any:
    try:
        value = float(data.get(key, default))
    except (TypeError, ValueError):
        raise LanguagePackError(f"{where}: `{key}` must be a number, not {data[key]!r}") from None
    return int(value) if value.is_integer() and isinstance(default, int) else value


def _flag(data: dict[str, Any], key: str, where: Path) -> bool:
    value = str(data.get(key, "false")).lower()
    if value not in ("true", "false"):
        raise LanguagePackError(f"{where}: `{key}` is true or false, not {data[key]!r}")
    return value == "true"


def parse_pack(code: str, directory: Path) -> LanguagePack:
    """A pack from its folder (``pack.yaml``; the other files are read by their own loaders)."""
    where = directory / "pack.yaml"
    data = _read_yaml(where) or {}
    if not isinstance(data, dict):
        raise LanguagePackError(f"{where}: expected a mapping of keys (name, script, ...)")
    known = {f for f in LanguagePack.__dataclass_fields__ if f not in ("code", "directory")}
    unknown = set(data) - known
    if unknown:
        raise LanguagePackError(f"{where}: unknown keys {sorted(unknown)}; known: {', '.join(sorted(known))}")
    guard = data.get("guard") or {}
    if not isinstance(guard, dict) or set(guard) - set(GuardPhrases.__dataclass_fields__):
        raise LanguagePackError(f"{where}: `guard` takes {', '.join(GuardPhrases.__dataclass_fields__)}")
    for key, pattern in guard.items():
        if key != "range_words":
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise LanguagePackError(f"{where}: guard.{key} is not a regular expression: {exc}") from None
    months = tuple(str(m) for m in data.get("month_names") or ())
    if months and len(months) != 12:
        raise LanguagePackError(f"{where}: month_names must list 12 months, not {len(months)}")
    hints_raw = data.get("letter_hints") or {}
    if not isinstance(hints_raw, dict):
        raise LanguagePackError(f"{where}: letter_hints maps characters to a weight, e.g. {{\"ñ¿¡\": 3}}")
    voice = data.get("voice") or {}
    if not isinstance(voice, dict) or set(voice) - set(VOICE_KEYS):
        raise LanguagePackError(f"{where}: `voice` takes {', '.join(VOICE_KEYS)} (as an entry of voices/catalog.yaml)")
    hints = data.get("asr_hints") or {}
    if not isinstance(hints, dict):
        raise LanguagePackError(f"{where}: asr_hints maps an answer kind (order_id, yes_no) to a sample answer")
    return LanguagePack(
        code=code,
        name=_text(data, "name", where, code),
        directory=directory,
        rank=_number(data, "rank", where, 100),
        script=_text(data, "script", where, "latin"),
        script_decides=_flag(data, "script_decides", where),
        unspaced=_flag(data, "unspaced", where),
        simplify_han=_flag(data, "simplify_han", where),
        letter_hints={str(k): float(_number(hints_raw, k, where, 0.0)) for k in hints_raw},
        date_format=_text(data, "date_format", where, "{day}/{month}"),
        month_names=months,
        list_separator=_text(data, "list_separator", where, ", "),
        group_separator=_text(data, "group_separator", where, ", "),
        backchannels=frozenset(str(w) for w in data.get("backchannels") or ()),
        backchannel_phrases=tuple(str(w) for w in data.get("backchannel_phrases") or ()),
        guard=GuardPhrases(**{k: (tuple(str(w) for w in v) if k == "range_words" else str(v)) for k, v in guard.items()}),
        asr_hints={str(k): str(v) for k, v in hints.items()},
        opt_out_phrases=tuple(str(w).lower() for w in data.get("opt_out_phrases") or ()),
        voice=dict(voice),
    )


def pack_folders() -> list[Path]:
    """This folder, then each folder in $VOICEBOT_LANGUAGE_PACKS (separated by ``os.pathsep``)."""
    extra = [Path(p) for p in os.environ.get(ENV_EXTRA, "").split(os.pathsep) if p.strip()]
    for folder in extra:
        if not folder.is_dir():
            raise LanguagePackError(f"${ENV_EXTRA}: {folder} is not a folder of language packs (<code>/pack.yaml)")
    return [PACKS_DIR, *extra]


@cache
def packs() -> dict[str, LanguagePack]:
    """Every pack, by code, in rank order (then by code); a later folder's pack replaces one of the same code."""
    found: dict[str, LanguagePack] = {}
    for folder in pack_folders():
        for directory in sorted(folder.iterdir()):
            if directory.is_dir() and _CODE.match(directory.name) and (directory / "pack.yaml").is_file():
                found[directory.name] = parse_pack(directory.name, directory)
    if not found:
        raise LanguagePackError(f"no language packs in {PACKS_DIR}: the installation is incomplete")
    return {p.code: p for p in sorted(found.values(), key=lambda p: (p.rank, p.code))}


def pack_codes() -> tuple[str, ...]:
    """Codes of every pack, in rank order ("en" first)."""
    return tuple(packs())


def get_pack(code: str) -> LanguagePack:
    """The pack of ``code`` ("en", "es-MX" -> "es"); LanguagePackError when there is none."""
    base = code.lower().replace("_", "-").split("-")[0]
    try:
        return packs()[base]
    except KeyError:
        raise LanguagePackError(f"no language pack for {code!r}; packs: {', '.join(packs())}") from None


def find_pack(code: str | None) -> LanguagePack | None:
    if not code:
        return None
    return packs().get(code.lower().replace("_", "-").split("-")[0])
