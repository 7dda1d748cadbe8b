"""What the hand-off says to a caller, from each pack's ``handoff.yaml``: the routing lines (a
colleague is coming, the queue, callbacks), the voicemail prompts, Twilio's hold message and
``<Say>`` locale, weekday names and "today at 09:00" for when the team is back.

A line a pack leaves out is said in English, tagged ``en`` so that it gets the English voice
(a caller follows English better than a machine translation read in the wrong voice). Keys are
checked against ``en/handoff.yaml`` (no unknown ones, the same ``{placeholders}``), so a typo is
an error at start naming the file, not a silent English line in a call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from . import LanguagePack, LanguagePackError, _read_yaml, find_pack, get_pack

SECTIONS = ("routing", "voicemail", "hold", "weekdays", "when")
_FIELD = re.compile(r"{(\w+)")


@dataclass(frozen=True)
class Line:
    text: str
    language: str  # the language it is written in: the pack's, or "en" where the pack has none


def _read(pack: LanguagePack) -> dict[str, Any]:
    path = pack.directory / "handoff.yaml"
    if not path.is_file():
        return {}
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise LanguagePackError(f"{path}: expected a mapping with {', '.join(SECTIONS)}")
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise LanguagePackError(f"{path}: unknown keys {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    return data


@cache
def table(code: str) -> dict[str, Any]:
    """The pack's ``handoff.yaml``, checked against English's keys and placeholders."""
    pack = get_pack(code)
    data = _read(pack)
    if code == "en":
        return data
    english = table("en")
    where = pack.directory / "handoff.yaml"
    for section in ("routing", "voicemail", "hold", "when"):
        mine, theirs = data.get(section) or {}, english.get(section) or {}
        if not isinstance(mine, dict):
            raise LanguagePackError(f"{where}: `{section}` maps keys to text, like en/handoff.yaml")
        for key, text in mine.items():
            if key not in theirs:
                raise LanguagePackError(f"{where}: {section}.{key} is not a line the hand-off says; known: {', '.join(theirs)}")
            if set(_FIELD.findall(str(text))) != set(_FIELD.findall(str(theirs[key]))):
                raise LanguagePackError(f"{where}: {section}.{key} must keep the placeholders of en/handoff.yaml: {theirs[key]!r}")
    days = data.get("weekdays")
    if days is not None and (not isinstance(days, list) or len(days) != 7):
        raise LanguagePackError(f"{where}: weekdays lists the 7 days, Monday first")
    if data.get("when") and days is None and "{d}" in str((data["when"] or {}).get("other_day", "")):
        raise LanguagePackError(f"{where}: `when` names a day ({{d}}): list the 7 `weekdays` too, Monday first")
    return data


def line(section: str, key: str, language: str | None) -> Line:
    """``section.key`` in ``language`` (its pack), else in English; KeyError for a key English lacks."""
    pack = find_pack(language)
    if pack is not None:
        text = (table(pack.code).get(section) or {}).get(key)
        if text is not None:
            return Line(str(text), pack.code)
    return Line(str(table("en")[section][key]), "en")


def weekday(index: int, language: str) -> str:
    """Monday is 0; the pack's name for it (English's when the pack lists none)."""
    days = table(language).get("weekdays") or table("en")["weekdays"]
    return str(days[index])


def check_all(codes: tuple[str, ...]) -> None:
    """Read and check every pack's hand-off lines now (at start), not in the middle of a call."""
    for code in codes:
        table(code)
