"""Editing the shop's knowledge base and product catalogue while the bot runs.

What the KB page (:mod:`.kb_routes`) does, without the web: list every entry with where it comes
from (built in, or the shop's file), check an edited entry the way the start-up check would
(the shop's languages, placeholders the entry's values define, the numbers the flows read, a
catalogue fact's product and attribute), write it to the shop's folder (``dialogue.kb_dir``, else
``<home>/kb``) atomically with the previous file kept as ``.bak``, and hand the reloaded knowledge
base to the running dialogue engines: new calls use it, calls in progress keep what they were told.
An edit that does not pass is refused with every problem and nothing is written.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..logs import get_logger
from .engine import DialogueDataError, DialogueOptions, kb_folder, load_dialogue_data, shop_of
from .flows import REQUIRED_KB, missing_kb_entries
from .kb.knowledge import KINDS, TRANSLATED_FIELDS, KbEntry, KbError, builtin_entries, check_entries, parse_entries, placeholders, read_files

log = get_logger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,99}$")
SHOP_FILE = "kb.yaml"  # where new entries and overrides of built-in ones are written


class KbEditError(ValueError):
    """An edit the bot would not be able to serve; ``problems`` lists what to fix."""

    def __init__(self, problems: list[str], status: int = 422) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.status = status


class _Dumper(yaml.SafeDumper):
    """Entries as a merchant would write them: keyword lists on one line, text as is."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def entry_to_yaml(e: KbEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"id": e.id, "kind": e.kind}
    if e.values:
        out["values"] = dict(e.values)
    for name in TRANSLATED_FIELDS:
        if getattr(e, name):
            out[name] = dict(getattr(e, name))
    return out


def entry_to_json(e: KbEntry, origin: str) -> dict[str, Any]:
    return {**entry_to_yaml(e), "values": dict(e.values), "origin": origin, "source": e.source,
            "placeholders": sorted(set().union(*(placeholders(str(t)) for t in e.text.values())) if e.text else [])}


def _clean(raw: Any, entry_id: str) -> dict[str, Any]:
    """The page's JSON -> an entry mapping: empty translations dropped, keywords as lists."""
    if not isinstance(raw, dict):
        raise KbEditError(["send the entry as a JSON object: {kind, values, text, name, keywords}"], 400)
    out: dict[str, Any] = {"id": entry_id, "kind": str(raw.get("kind", "")).strip()}
    values = raw.get("values") or {}
    if not isinstance(values, dict):
        raise KbEditError(["`values` maps names to numbers or words, e.g. {\"days\": 30}"], 400)
    out["values"] = {str(k).strip(): v for k, v in values.items() if str(k).strip()}
    for name in TRANSLATED_FIELDS:
        given = raw.get(name) or {}
        if not isinstance(given, dict):
            raise KbEditError([f"`{name}` maps language codes to {'word lists' if name == 'keywords' else 'text'}"], 400)
        cleaned: dict[str, Any] = {}
        for lang, value in given.items():
            if name == "keywords":
                words = value if isinstance(value, list) else str(value or "").split(",")
                words = [str(w).strip() for w in words if str(w).strip()]
                if words:
                    cleaned[str(lang)] = words
            elif str(value or "").strip():
                cleaned[str(lang)] = str(value).strip()
        if cleaned:
            out[name] = cleaned
    return out


@dataclass
class KbEditor:
    """The shop's knowledge base on disk and the engines serving it. Methods block (file I/O): run them in a thread."""

    settings: Any
    options: DialogueOptions
    engines: Callable[[], list[Any]] = lambda: []
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def folder(self) -> Path:
        return kb_folder(self.settings, self.options)

    @property
    def languages(self) -> tuple[str, ...]:
        return shop_of(self.settings).languages

    def _shop_entries(self) -> list[KbEntry]:
        folder = self.folder
        return read_files(sorted(folder.glob("*.yaml"))) if folder.is_dir() else []

    def listing(self) -> dict[str, Any]:
        """Every entry the bot serves, where it comes from, and what is wrong now (if anything)."""
        builtin = {} if self.options.kb_replace_builtin else {e.id: e for e in builtin_entries()}
        shop = {e.id: e for e in self._shop_entries()}
        merged = {**builtin, **shop}
        entries = [entry_to_json(e, "shop" if i in shop and i in builtin else "shop only" if i in shop else "built-in")
                   for i, e in merged.items()]
        problems = [f"the call flows need {m}, which is missing" for m in missing_kb_entries(merged)]
        problems += [str(p) for p in check_entries(list(merged.values()), self.languages)]
        shop_settings = shop_of(self.settings)
        return {"shop": shop_settings.name, "languages": list(self.languages), "kinds": list(KINDS), "folder": str(self.folder),
                "entries": entries, "problems": problems, "required": {k: list(v) for k, v in REQUIRED_KB.items()}}

    def check(self, raw: Any, entry_id: str) -> KbEntry:
        """The entry the page sent, or KbEditError listing every problem (nothing is written)."""
        if not _ID.match(entry_id):
            raise KbEditError([f"{entry_id!r} is not an entry id; use letters, digits, '-', '_' and '.', e.g. gift_wrap or mug-set-4.capacity"], 400)
        data = _clean(raw, entry_id)
        try:
            entry = parse_entries([data], "(the page)")[0]
        except KbError as exc:
            raise KbEditError([str(exc)]) from None
        problems = [str(p).removeprefix("(the page): ") for p in check_entries([entry], self.languages)]
        builtin = {} if self.options.kb_replace_builtin else {e.id: e for e in builtin_entries()}
        merged = {**builtin, **{e.id: e for e in self._shop_entries()}, entry.id: entry}
        if entry.id in builtin and builtin[entry.id].kind != entry.kind:
            problems.append(f"{entry.id}: the built-in entry is a {builtin[entry.id].kind}; keep that kind (the flows read it as one)")
        problems += [f"{entry.id}: the call flows read `{m.split('.', 1)[1]}` from `values`; keep it"
                     for m in missing_kb_entries(merged) if m.startswith(entry.id + ".")]
        if entry.kind == "fact":
            product, _, attribute = entry.id.partition(".")
            if not attribute or merged.get(product) is None or merged[product].kind != "product":
                problems.append(f"{entry.id}: a catalogue fact's id is <product id>.<attribute>, and {product!r} is not a product")
            elif f"attr-{attribute}" not in merged:
                problems.append(f"{entry.id}: there is no attribute entry attr-{attribute} listing the words that ask about it")
        if problems:
            raise KbEditError(problems)
        return entry

    def save(self, raw: Any, entry_id: str) -> dict[str, Any]:
        """Check, write and serve one entry; KbEditError (nothing written) when it cannot be served."""
        with self._lock:
            entry = self.check(raw, entry_id)
            target = next((Path(e.source) for e in self._shop_entries() if e.id == entry.id), self.folder / SHOP_FILE)

            def put(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                if any(r.get("id") == entry.id for r in rows):  # in place: the file keeps its order
                    return [entry_to_yaml(entry) if r.get("id") == entry.id else r for r in rows]
                return rows + [entry_to_yaml(entry)]

            self._rewrite(target, put)
            return {"saved": str(target), **self._serve(target)}

    def remove(self, entry_id: str) -> dict[str, Any]:
        """Drop the shop's entry (a built-in one of the same id is served again); built-in entries stay."""
        with self._lock:
            owner = next((e for e in self._shop_entries() if e.id == entry_id), None)
            if owner is None:
                raise KbEditError([f"{entry_id} is built in; edit it instead (your version then replaces ours)"], 409)
            builtin = {} if self.options.kb_replace_builtin else {e.id: e for e in builtin_entries()}
            if entry_id in REQUIRED_KB and entry_id not in builtin:
                raise KbEditError([f"{entry_id}: the call flows say this entry; it cannot be removed"], 409)
            target = Path(owner.source)
            self._rewrite(target, lambda rows: [r for r in rows if r.get("id") != entry_id])
            return {"removed": entry_id, "file": str(target), **self._serve(target)}

    def reload(self) -> dict[str, Any]:
        """Read the files again (edited by hand) and serve them, or keep serving the old ones and say why."""
        with self._lock:
            return self._serve(None)

    # -- files and engines ----------------------------------------------------------------------
    def _rewrite(self, path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, Any]] = []
        if path.is_file():
            old = path.read_text(encoding="utf-8")
            loaded = yaml.safe_load(old) or []
            if not isinstance(loaded, list):
                raise KbEditError([f"{path} is not a list of entries; fix it by hand first"], 409)
            rows = loaded
            (path.with_name(path.name + ".bak")).write_text(old, encoding="utf-8")
        text = yaml.dump(change(rows), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _serve(self, written: Path | None) -> dict[str, Any]:
        """Load what is on disk as serve would, hand it to the engines; on failure undo ``written``."""
        try:
            kb, templates = load_dialogue_data(self.settings, self.options)
        except DialogueDataError as exc:
            backup = written.with_name(written.name + ".bak") if written else None
            if written is not None and backup is not None and backup.is_file():
                os.replace(backup, written)
            elif written is not None:
                written.unlink(missing_ok=True)
            raise KbEditError([line.strip() for line in str(exc).splitlines() if line.strip()]) from None
        served = 0
        for engine in self.engines():
            if hasattr(engine, "use"):
                engine.use(kb, templates)
                served += 1
        log.info("knowledge base reloaded", extra={"entries": len(kb.entries), "engines": served, "folder": str(self.folder)})
        return {"entries": len(kb.entries), "engines_updated": served}
