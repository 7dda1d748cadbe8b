"""The knowledge base: policies, shipping times, product facts. Each entry is written once,
with its numbers in ``values`` and its translations for every language kept together.

Parsing and checking are pure; :func:`load_kb` reads the YAML files.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..nlu_types import LANGUAGES

# The C loader is ~5x faster; both are safe loaders.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DATA_DIR = Path(__file__).parent / "data"
KINDS = ("policy", "product", "country", "fact", "attribute")
TRANSLATED_FIELDS = ("text", "name", "keywords")


class KbError(ValueError):
    """A knowledge-base file is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class KbEntry:
    id: str
    kind: str
    values: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    name: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class KbProblem:
    entry: str
    problem: str
    source: str = ""

    def __str__(self) -> str:
        return f"{self.source}: {self.entry}: {self.problem}" if self.source else f"{self.entry}: {self.problem}"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def parse_entries(data: Any, source: str) -> list[KbEntry]:
    if not isinstance(data, list):
        raise KbError(f"{source}: expected a list of entries, got {type(data).__name__}")
    entries = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict) or "id" not in raw or "kind" not in raw:
            raise KbError(f"{source}: entry #{i + 1} needs at least `id` and `kind`")
        unknown = set(raw) - {"id", "kind", "values", *TRANSLATED_FIELDS}
        if unknown:
            raise KbError(f"{source}: entry {raw['id']}: unknown fields {sorted(unknown)}")
        fields = {}
        for name in TRANSLATED_FIELDS:
            value = raw.get(name) or {}
            if not isinstance(value, dict):
                raise KbError(f"{source}: entry {raw['id']}: `{name}` must map language codes to translations")
            fields[name] = {str(k): v for k, v in value.items()}
        entries.append(KbEntry(str(raw["id"]), str(raw["kind"]), dict(raw.get("values") or {}), source=source, **fields))
    return entries


# Placeholders filled by the flows rather than by the entry's own values.
RUNTIME_PLACEHOLDERS = {"shipping_time": {"country", "min_days", "max_days"}}


def check_entries(entries: list[KbEntry], languages: tuple[str, ...] = LANGUAGES) -> list[KbProblem]:
    """Every problem that would make the bot say something wrong or nothing at all."""
    problems: list[KbProblem] = []
    seen: set[str] = set()
    for e in entries:
        p = lambda msg, e=e: problems.append(KbProblem(e.id, msg, e.source))  # noqa: E731
        if e.id in seen:
            p("duplicate id")
        seen.add(e.id)
        if e.kind not in KINDS:
            p(f"unknown kind {e.kind!r} (use one of {', '.join(KINDS)})")
        required = {"policy": ("text",), "product": ("name", "text"), "country": ("name",), "fact": ("text",),
                    "attribute": ("keywords",)}.get(e.kind, ())
        allowed = set(e.values) | RUNTIME_PLACEHOLDERS.get(e.id, set())
        for fname in required:
            translations: dict[str, Any] = getattr(e, fname)
            missing = [lang for lang in languages if not translations.get(lang)]
            if missing:
                p(f"`{fname}` missing language(s): {', '.join(missing)}")
        for fname in ("text", "name"):
            translations = getattr(e, fname)
            reference = placeholders(translations.get("en", "")) if translations.get("en") else None
            for lang, text in translations.items():
                if lang not in languages:
                    p(f"`{fname}` has unknown language {lang!r}")
                    continue
                names = placeholders(str(text))
                if names - allowed:
                    p(f"`{fname}`[{lang}] uses {sorted(names - allowed)} which `values` does not define")
                if reference is not None and names != reference:
                    p(f"`{fname}`[{lang}] placeholders {sorted(names)} differ from English {sorted(reference)}")
    return problems


_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # Thai, kana, CJK, Hangul


def _names(term: str, text: str) -> bool:
    if _UNSPACED.search(term):
        return term in text
    return re.search(r"(?<!\w)" + re.escape(term), text) is not None


class KnowledgeBase:
    """Answers come only from here: the bot never invents a policy."""

    def __init__(self, entries: list[KbEntry]) -> None:
        self.entries = {e.id: e for e in entries}

    def check(self, languages: tuple[str, ...] = LANGUAGES) -> list[KbProblem]:
        return check_entries(list(self.entries.values()), languages)

    def get(self, entry_id: str) -> KbEntry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise KeyError(f"knowledge base has no entry {entry_id!r}; add it to {DATA_DIR}") from None

    def value(self, entry_id: str, key: str) -> Any:
        return self.get(entry_id).values[key]

    def say(self, entry_id: str, lang: str, **extra: Any) -> str:
        """The entry's text in ``lang`` (English when a translation is missing), values filled in."""
        e = self.get(entry_id)
        text = e.text.get(lang) or e.text["en"]
        return text.format(**{**e.values, **extra})

    def name(self, entry_id: str, lang: str) -> str:
        e = self.get(entry_id)
        return e.name.get(lang) or e.name.get("en") or entry_id

    def country(self, code: str) -> KbEntry | None:
        return self.entries.get(f"country-{code.upper()}")

    def shipping_time(self, code: str, lang: str) -> str | None:
        c = self.country(code)
        if c is None:
            return None
        return self.say("shipping_time", lang, country=self.name(c.id, lang), min_days=c.values["min_days"], max_days=c.values["max_days"])

    def product_terms(self, entry_id: str, lang: str) -> list[str]:
        """The words that name a product: its keywords and full name, in ``lang`` and English."""
        e = self.get(entry_id)
        terms = list(e.keywords.get(lang, [])) + list(e.keywords.get("en", []))
        terms += [n for n in (e.name.get(lang, ""), e.name.get("en", "")) if n]
        return [t.lower() for t in terms if t]

    def match_products(self, hint: str, lang: str, candidates: list[str] | None = None) -> list[str]:
        """Product ids named in ``hint`` (best first). A term must start a word ("fones" is not
        in "saxofone"); languages written without spaces match anywhere."""
        hint_l = hint.lower()
        ids = candidates if candidates is not None else [i for i, e in self.entries.items() if e.kind == "product"]
        scored = []
        for pid in ids:
            if pid not in self.entries:
                continue
            score = sum(1 for t in set(self.product_terms(pid, lang)) if _names(t, hint_l))
            if score:
                scored.append((score, pid))
        return [pid for _, pid in sorted(scored, key=lambda s: -s[0])]

    def attributes_in(self, text: str, lang: str) -> list[str]:
        """Product attributes a question asks about ("plug", "capacity"), from the catalogue's
        ``attribute`` entries (id ``attr-<name>``), in catalogue order."""
        low = text.lower()
        found = []
        for e in self.entries.values():
            if e.kind == "attribute" and any(_names(t.lower(), low) for t in e.keywords.get(lang, [])):
                found.append(e.id.removeprefix("attr-"))
        return found

    def search(self, query: str, lang: str, limit: int = 3) -> list[dict[str, str]]:
        """Entries whose words overlap the query (for the LLM's kb_lookup tool)."""
        words = {w for w in _WORD.findall(query.lower()) if len(w) > 2}
        results = []
        for e in self.entries.values():
            if e.kind == "country" or not e.text:
                continue
            hay = " ".join([e.id.replace("_", " ").replace("-", " "), e.text.get(lang, ""), e.text.get("en", ""), e.name.get(lang, ""),
                            e.name.get("en", ""), " ".join(self.product_terms(e.id, lang) if e.kind == "product" else [])]).lower()
            score = sum(1 for w in words if w in hay) + (3 if query.lower() in hay and len(query) > 2 else 0)
            if score:
                text = e.text.get(lang) or e.text["en"]
                filled = text.format(**e.values) if e.id not in RUNTIME_PLACEHOLDERS else text
                results.append((score, {"id": e.id, "text": filled}))
        # on a tie the product's own description comes before one of its catalogue facts
        results.sort(key=lambda r: (-r[0], self.entries[r[1]["id"]].kind == "fact"))
        return [r for _, r in results[:limit]]


def load_kb(paths: list[Path] | None = None, directory: Path | None = None) -> KnowledgeBase:
    """Read every ``*.yaml`` in ``directory`` (default: the built-in data folder), or the given files."""
    folder = Path(directory) if directory is not None else DATA_DIR
    if paths is None and not folder.is_dir():
        raise KbError(f"knowledge base folder {folder} does not exist")
    files = paths if paths is not None else sorted(folder.glob("*.yaml"))
    entries: list[KbEntry] = []
    for f in files:
        try:
            data = yaml.load(Path(f).read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError) as exc:
            raise KbError(f"cannot read knowledge base file {f}: {exc}") from exc
        entries += parse_entries(data, str(f))
    return KnowledgeBase(entries)
