"""Reply phrasing: each language pack's ``templates.yaml``, plus dates and lists said the local way.

Templates carry no facts: numbers, policies and promises come from the knowledge base. A shop
rewords replies with an override file (``dialogue.templates_file``): ``key: {language: text}``,
laid over the packs' templates one language at a time; its placeholders must be the ones the
built-in template uses (a reply whose ``{order_id}`` went missing would say nothing useful).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .kb.knowledge import KbProblem, placeholders
from .languages import LanguagePack, find_pack, packs
from .nlu_types import LANGUAGES

# The C loader is ~5x faster; both are safe loaders.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
REFERENCE = "en"  # placeholders of every translation are compared with this language's

WEB_CHANNELS = ("webrtc", "websocket")  # the in-app widget

_MARK = "\x00"


class _Marked(dict):
    """format_map values: the known ones, and a marker for each placeholder filled per call."""

    def __missing__(self, key: str) -> str:
        return _MARK


def fixed_sentences(texts: Iterable[str], **known: Any) -> list[str]:
    """The sentences of ``texts`` that are the same on every call (``known`` placeholders filled
    in, e.g. ``shop``), split as the TTS will be asked for them: what :mod:`voicebot.tts.warm`
    pre-renders. Sentences with a per-call placeholder (an order number, a name) are left out."""
    from voicebot.tts.sentences import split_for_speech

    out: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        try:
            rendered = text.format_map(_Marked(known))
        except (ValueError, IndexError, AttributeError, KeyError):  # a format spec on a placeholder: skip it
            continue
        for sentence in split_for_speech(rendered):
            if _MARK not in sentence:
                out.setdefault(sentence)
    return list(out)


def format_date(d: date, lang: str) -> str:
    """A day and month as the language pack of ``lang`` says them (day/month without one)."""
    pack = find_pack(lang)
    return pack.format_date(d) if pack else f"{d.day}/{d.month}"


def _read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read reply templates {path}: {exc}") from exc


def builtin_table(pack_list: list[LanguagePack] | None = None) -> dict[str, dict[str, str]]:
    """``{key: {language: text}}`` from every pack's ``templates.yaml``, in pack order."""
    table: dict[str, dict[str, str]] = {}
    for pack in pack_list if pack_list is not None else list(packs().values()):
        if not pack.templates_path.is_file():
            continue
        data = _read(pack.templates_path) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{pack.templates_path}: expected a mapping of template name -> text")
        for key, text in data.items():
            table.setdefault(str(key), {})[pack.code] = str(text)
    return table


class Templates:
    def __init__(self, table: dict[str, dict[str, str]], source: str = "", fallback: str = REFERENCE) -> None:
        self.table = table
        self.source = source
        self.fallback = fallback  # the language said when a template lacks the caller's (the shop's first)

    @classmethod
    def load(cls, path: Path | None = None, *, override: Path | None = None, fallback: str = REFERENCE) -> Templates:
        """The packs' templates (or one ``key: {language: text}`` file at ``path``), with a shop's ``override`` laid over them."""
        if path is not None:
            data = _read(path)
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a mapping of template name -> {{language: text}}")
            table = {str(k): {str(lang): str(t) for lang, t in (v or {}).items()} for k, v in data.items()}
            source = str(path)
        else:
            table, source = builtin_table(), "voicebot/dialogue/languages/*/templates.yaml"
        templates = cls(table, source, fallback)
        if override is not None:
            templates = templates.overlaid(override)
        return templates

    def overlaid(self, path: Path) -> Templates:
        """A copy with the shop's file laid over: ``key: {language: text}``; unknown keys are refused."""
        data = _read(path) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the reply template override must map template name -> {{language: text}}")
        table = {k: dict(v) for k, v in self.table.items()}
        problems = []
        for key, texts in data.items():
            if str(key) not in table:
                problems.append(f"{path}: {key}: no such reply template (known: {', '.join(sorted(table))})")
                continue
            if not isinstance(texts, dict):
                problems.append(f"{path}: {key}: write one line per language code, e.g. en: \"...\"")
                continue
            for lang, text in texts.items():
                if str(lang) not in LANGUAGES:
                    problems.append(f"{path}: {key}: {lang!r} is not a language code with a pack ({', '.join(LANGUAGES)})")
                    continue
                table[str(key)][str(lang)] = str(text)
        if problems:
            raise ValueError("reply template override refused:\n" + "\n".join(problems))
        return Templates(table, f"{self.source} + {path}", self.fallback)

    def for_channel(self, key: str, channel: str | None) -> str:
        """The template to use on ``channel``: ``<key>_web`` in the in-app widget where one is written
        (a text box there, not a phone keypad), else ``key``."""
        web = f"{key}_web"
        return web if channel in WEB_CHANNELS and web in self.table else key

    def render(self, key: str, lang: str, **values: Any) -> str:
        try:
            texts = self.table[key]
        except KeyError:
            raise KeyError(f"no reply template {key!r} in {self.source}") from None
        return (texts.get(lang) or texts.get(self.fallback) or texts[REFERENCE]).format(**values)

    def fixed_sentences(self, lang: str, **known: Any) -> list[str]:
        """Every sentence of ``lang``'s replies that is the same on every call: see :func:`fixed_sentences`."""
        return fixed_sentences((texts.get(lang, "") for texts in self.table.values()), **known)

    def join(self, parts: list[str], lang: str) -> str:
        """``a, b and c`` in the caller's language."""
        if len(parts) <= 1:
            return "".join(parts)
        pack = find_pack(lang)
        sep = pack.list_separator if pack else ", "
        return sep.join(parts[:-1]) + self.table["and"].get(lang, " and ") + parts[-1]

    def check(self, languages: tuple[str, ...] = LANGUAGES) -> list[KbProblem]:
        problems = []
        builtin = None
        for key, texts in self.table.items():
            missing = [lang for lang in languages if not texts.get(lang)]
            if missing:
                problems.append(KbProblem(key, f"template missing language(s): {', '.join(missing)}", self.source))
            if REFERENCE in texts:
                ref, ref_lang = placeholders(texts[REFERENCE]), REFERENCE
            else:  # a shop file without English: compare with the built-in English
                builtin = builtin if builtin is not None else builtin_table()
                ref, ref_lang = placeholders(builtin.get(key, {}).get(REFERENCE, "")), "the built-in English"
            for lang, text in texts.items():
                if placeholders(text) != ref:
                    shown = "English" if ref_lang == REFERENCE else ref_lang
                    problems.append(KbProblem(key, f"template [{lang}] placeholders {sorted(placeholders(text))} differ from {shown} {sorted(ref)}", self.source))
        return problems
