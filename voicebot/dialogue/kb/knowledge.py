"""The knowledge base: policies, shipping times, product facts. Each entry is written once,
with its numbers in ``values``; its wording is per language.

The built-in entries live in ``data/*.yaml`` (id, kind, values) and their wording in each
language pack's ``kb.yaml``, so a new language brings its own translations. A shop's own files
(``dialogue.kb_dir``) write an entry with its translations together and are laid over the
built-in ones by id: a shop entry replaces ours whole. Parsing and checking are pure;
:func:`load_kb` and :func:`load_shop_kb` read the YAML files.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..languages import packs
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


def _reference(translations: dict[str, Any], languages: tuple[str, ...]) -> str | None:
    """The language every other translation's placeholders are compared with: English, else the first served one present."""
    for lang in ("en", *languages):
        if translations.get(lang):
            return lang
    return None


def check_entries(entries: list[KbEntry], languages: tuple[str, ...] = LANGUAGES) -> list[KbProblem]:
    """Every problem that would make the bot say something wrong or nothing at all.

    ``languages``: the ones the shop serves; each entry must be written in all of them
    (translations for other languages with a pack are kept, and checked for placeholders)."""
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
            ref_lang = _reference(translations, languages)
            reference = placeholders(str(translations[ref_lang])) if ref_lang else None
            ref_name = "English" if ref_lang == "en" else f"[{ref_lang}]"
            for lang, text in translations.items():
                if lang not in LANGUAGES and lang not in languages:
                    p(f"`{fname}` has unknown language {lang!r} (language packs: {', '.join(LANGUAGES)})")
                    continue
                names = placeholders(str(text))
                if names - allowed:
                    p(f"`{fname}`[{lang}] uses {sorted(names - allowed)} which `values` does not define")
                if reference is not None and names != reference:
                    p(f"`{fname}`[{lang}] placeholders {sorted(names)} differ from {ref_name} {sorted(reference)}")
    return problems


_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # Thai, kana, CJK, Hangul


def _names(term: str, text: str) -> bool:
    if _UNSPACED.search(term):
        return term in text
    return re.search(r"(?<!\w)" + re.escape(term), text) is not None


class KnowledgeBase:
    """Answers come only from here: the bot never invents a policy."""

    def __init__(self, entries: list[KbEntry], fallback: str = "en") -> None:
        self.entries = {e.id: e for e in entries}
        self.fallback = fallback  # said when an entry lacks the caller's language (the shop's first language)

    def check(self, languages: tuple[str, ...] = LANGUAGES) -> list[KbProblem]:
        return check_entries(list(self.entries.values()), languages)

    def get(self, entry_id: str) -> KbEntry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise KeyError(f"knowledge base has no entry {entry_id!r}; add it to the shop's knowledge base (dialogue.kb_dir)") from None

    def _pick(self, translations: dict[str, Any], lang: str) -> Any:
        return translations.get(lang) or translations.get(self.fallback) or translations.get("en") or next(iter(translations.values()))

    def value(self, entry_id: str, key: str) -> Any:
        return self.get(entry_id).values[key]

    def say(self, entry_id: str, lang: str, **extra: Any) -> str:
        """The entry's text in ``lang`` (English when a translation is missing), values filled in."""
        e = self.get(entry_id)
        text = self._pick(e.text, lang)
        return text.format(**{**e.values, **extra})

    def name(self, entry_id: str, lang: str) -> str:
        e = self.get(entry_id)
        return e.name.get(lang) or e.name.get(self.fallback) or e.name.get("en") or entry_id

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
                text = self._pick(e.text, lang)
                filled = text.format(**e.values) if e.id not in RUNTIME_PLACEHOLDERS else text
                results.append((score, {"id": e.id, "text": filled}))
        # on a tie the product's own description comes before one of its catalogue facts
        results.sort(key=lambda r: (-r[0], self.entries[r[1]["id"]].kind == "fact"))
        return [r for _, r in results[:limit]]


def _read(path: Path) -> Any:
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise KbError(f"cannot read knowledge base file {path}: {exc}") from exc


def read_files(paths: list[Path]) -> list[KbEntry]:
    """Entries from YAML files written the shop's way (an entry with its translations together)."""
    entries: list[KbEntry] = []
    for f in paths:
        entries += parse_entries(_read(f), str(f))
    return entries


def builtin_entries() -> list[KbEntry]:
    """The built-in entries (``data/*.yaml``) with their wording from every language pack's ``kb.yaml``."""
    base = read_files(sorted(DATA_DIR.glob("*.yaml")))
    words: dict[str, dict[str, dict[str, Any]]] = {e.id: {f: {} for f in TRANSLATED_FIELDS} for e in base}
    for pack in packs().values():
        if not pack.kb_path.is_file():
            continue
        data = _read(pack.kb_path) or {}
        if not isinstance(data, dict):
            raise KbError(f"{pack.kb_path}: expected a mapping of entry id -> {{text, name, keywords}}")
        for entry_id, fields in data.items():
            if entry_id not in words:
                raise KbError(f"{pack.kb_path}: {entry_id}: no such built-in entry (in {DATA_DIR})")
            if not isinstance(fields, dict) or set(fields) - set(TRANSLATED_FIELDS):
                raise KbError(f"{pack.kb_path}: {entry_id}: write {', '.join(TRANSLATED_FIELDS)} in {pack.code}")
            for name, value in fields.items():
                words[entry_id][name][pack.code] = value
    return [KbEntry(e.id, e.kind, e.values, source=e.source, **words[e.id]) for e in base]


def load_kb(paths: list[Path] | None = None, directory: Path | None = None) -> KnowledgeBase:
    """The built-in knowledge base; or only the given files, or every ``*.yaml`` in ``directory``."""
    if paths is None and directory is None:
        return KnowledgeBase(builtin_entries())
    folder = Path(directory) if directory is not None else DATA_DIR
    if paths is None and not folder.is_dir():
        raise KbError(f"knowledge base folder {folder} does not exist")
    return KnowledgeBase(read_files(paths if paths is not None else sorted(folder.glob("*.yaml"))))


def load_shop_kb(directory: Path | None, *, replace_builtin: bool = False, fallback: str = "en") -> KnowledgeBase:
    """The built-in entries with the shop's (``directory``/*.yaml, if the folder exists) laid over them by id.

    ``replace_builtin``: the shop's files are the whole knowledge base (the flows' required entries
    must then be in them: see ``voicebot.dialogue.flows.REQUIRED_KB``)."""
    shop: list[KbEntry] = []
    if directory is not None:
        folder = Path(directory)
        if folder.exists() and not folder.is_dir():
            raise KbError(f"dialogue.kb_dir {folder} is a file; it must be a folder of *.yaml files")
        if folder.is_dir():
            shop = read_files(sorted(folder.glob("*.yaml")))
    if replace_builtin:
        if directory is None or not Path(directory).is_dir():
            raise KbError(f"dialogue.kb_replace_builtin is true but the knowledge base folder {directory} does not exist")
        return KnowledgeBase(shop, fallback)
    seen: set[str] = set()
    duplicates = sorted({e.id for e in shop if e.id in seen or seen.add(e.id)})  # type: ignore[func-returns-value]
    if duplicates:
        raise KbError("the shop's knowledge base defines these ids twice: " + ", ".join(duplicates)
                      + f" (in {directory}); keep one of each")
    merged = {e.id: e for e in builtin_entries()}
    merged.update({e.id: e for e in shop})
    return KnowledgeBase(list(merged.values()), fallback)
