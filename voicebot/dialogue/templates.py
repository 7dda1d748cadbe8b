"""Reply phrasing in every language (templates.yaml) plus dates and lists said the local way.

Templates carry no facts: numbers, policies and promises come from the knowledge base.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .kb.knowledge import KbProblem, placeholders
from .nlu_types import LANGUAGES

# The C loader is ~5x faster; both are safe loaders.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TEMPLATES_FILE = Path(__file__).parent / "templates.yaml"

_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
# How each language writes a day and month when spoken by TTS.
_DATE_FORMATS = {
    "en": lambda d: f"{_EN_MONTHS[d.month - 1]} {d.day}",
    "zh": lambda d: f"{d.month}月{d.day}日", "ja": lambda d: f"{d.month}月{d.day}日", "ko": lambda d: f"{d.month}월 {d.day}일",
    "de": lambda d: f"{d.day}.{d.month}.", "ru": lambda d: f"{d.day:02d}.{d.month:02d}",
}


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
    fmt = _DATE_FORMATS.get(lang)
    return fmt(d) if fmt else f"{d.day}/{d.month}"


class Templates:
    def __init__(self, table: dict[str, dict[str, str]], source: str = "") -> None:
        self.table = table
        self.source = source

    @classmethod
    def load(cls, path: Path = TEMPLATES_FILE) -> Templates:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read reply templates {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of template name -> {{language: text}}")
        return cls({str(k): {str(lang): str(t) for lang, t in (v or {}).items()} for k, v in data.items()}, str(path))

    def render(self, key: str, lang: str, **values: Any) -> str:
        try:
            texts = self.table[key]
        except KeyError:
            raise KeyError(f"no reply template {key!r} in {self.source}") from None
        return (texts.get(lang) or texts["en"]).format(**values)

    def fixed_sentences(self, lang: str, **known: Any) -> list[str]:
        """Every sentence of ``lang``'s replies that is the same on every call: see :func:`fixed_sentences`."""
        return fixed_sentences((texts.get(lang, "") for texts in self.table.values()), **known)

    def join(self, parts: list[str], lang: str) -> str:
        """``a, b and c`` in the caller's language."""
        if len(parts) <= 1:
            return "".join(parts)
        sep = "、" if lang in ("zh", "ja") else ", "
        return sep.join(parts[:-1]) + self.table["and"].get(lang, " and ") + parts[-1]

    def check(self, languages: tuple[str, ...] = LANGUAGES) -> list[KbProblem]:
        problems = []
        for key, texts in self.table.items():
            missing = [lang for lang in languages if not texts.get(lang)]
            if missing:
                problems.append(KbProblem(key, f"template missing language(s): {', '.join(missing)}", self.source))
            ref = placeholders(texts.get("en", ""))
            for lang, text in texts.items():
                if placeholders(text) != ref:
                    problems.append(KbProblem(key, f"template [{lang}] placeholders {sorted(placeholders(text))} differ from English {sorted(ref)}", self.source))
        return problems
