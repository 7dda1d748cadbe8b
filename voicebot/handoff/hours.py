"""Shifts and queue hours as people write them, on top of :class:`voicebot.schedule.Schedule`.

An agent's shift and a queue's hours are written the way a rota is written::

    mon-fri 09:00-17:00
    mon-fri 09:00-13:00,15:00-19:00; sat 10:00-14:00
    sun-thu 22:00-06:00          (overnight: the span belongs to the day it starts on)
    24/7                         (always)
    off                          (never on shift)

in the agent's own IANA time zone (``--timezone Europe/Madrid``). The text is what is stored
and shown; :func:`parse_shift` turns it into a ``Schedule`` (so time zones, daylight-saving
changes, holidays and overnight spans are the schedule's one implementation), and
:func:`next_together` finds the next moment an agent's shift and their queue's hours overlap,
which is what the desk, the widget and the log say when nobody is on shift.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from voicebot.dialogue.languages.handoff_lines import line as handoff_line
from voicebot.dialogue.languages.handoff_lines import weekday
from voicebot.schedule import DAYS, Schedule

DEFAULT_SHIFT = "mon-fri 09:00-17:00"
ALWAYS = "24/7"
_ALWAYS_WORDS = {"24/7", "always", "daily 00:00-24:00", "mon-sun 00:00-24:00"}
_OFF_WORDS = {"off", "none", "never", "closed", ""}
_DAY_ALIASES = {"daily": "mon-sun", "weekdays": "mon-fri", "weekends": "sat-sun", "weekend": "sat-sun"}
_SPAN = re.compile(r"^\d{1,2}(:\d{2})?-\d{1,2}(:\d{2})?$")


class ShiftError(ValueError):
    """Shift text that cannot be read; the message shows what to write."""


def _days(text: str) -> list[str]:
    """``mon-fri`` / ``mon,wed,fri`` / ``sat`` / ``sun-tue`` (wraps the week) -> day names."""
    text = _DAY_ALIASES.get(text, text)
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        first, sep, last = part.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise ShiftError(f"{part!r} is not a day or a range of days; write e.g. mon-fri, sat, mon,wed,fri or daily")
        if not sep:
            out.append(first)
            continue
        i, j = DAYS.index(first), DAYS.index(last)
        out.extend(DAYS[(i + k) % 7] for k in range((j - i) % 7 + 1))
    return out


def _clock(text: str) -> str:
    """``9`` -> ``09:00``; ``9:30`` -> ``09:30``; ``24`` -> ``24:00``."""
    hours, _, minutes = text.partition(":")
    h, m = int(hours), int(minutes or 0)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ShiftError(f"{text!r} is not a time of day; write HH:MM on a 24-hour clock (24:00 for midnight at the end)")
    return f"{h:02d}:{m:02d}"


def _spans(text: str) -> list[str]:
    spans = []
    for part in text.split(","):
        part = part.strip().replace(" ", "")
        if not _SPAN.match(part):
            raise ShiftError(f"{part!r} is not a span of time; write HH:MM-HH:MM, e.g. 09:00-17:00 (22:00-06:00 runs overnight)")
        start, stop = part.split("-")
        a, b = _clock(start), _clock(stop)
        if a == b:
            raise ShiftError(f"span {a}-{b} is empty")
        spans.append(f"{a}-{b}")
    return spans


def normalize_shift(text: str) -> str:
    """The canonical text of a shift (lower case, HH:MM, one group per day set); :class:`ShiftError` if unreadable."""
    t = " ".join(str(text).strip().lower().split())
    if t in _ALWAYS_WORDS:
        return ALWAYS
    if t in _OFF_WORDS:
        return "off"
    groups = []
    for group in (g.strip() for g in t.split(";")):
        if not group:
            continue
        if _SPAN.match(group.replace(" ", "")):  # "9-17": the old whole-hour form, on weekdays
            days_text, spans_text = "mon-fri", group
        else:
            days_text, _, spans_text = group.partition(" ")
            if not spans_text.strip():
                raise ShiftError(f"{group!r} names days but no hours; write e.g. 'mon-fri 09:00-17:00'")
        _days(days_text)
        groups.append(f"{_DAY_ALIASES.get(days_text, days_text)} {','.join(_spans(spans_text))}")
    if not groups:
        return "off"
    return "; ".join(groups)


@lru_cache(maxsize=1024)
def parse_shift(text: str, timezone: str = "UTC", holidays: tuple[date, ...] = ()) -> Schedule:
    """The schedule of a shift written as text, in ``timezone``; :class:`ShiftError` (a ValueError) if unreadable."""
    canon = normalize_shift(text)
    if canon == ALWAYS:
        base = Schedule.always(timezone)
        return base.model_copy(update={"holidays": holidays}) if holidays else base
    week: dict[str, list[str]] = {d: [] for d in DAYS}
    if canon != "off":
        for group in canon.split("; "):
            days_text, spans_text = group.split(" ", 1)
            for day in _days(days_text):
                week[day].extend(spans_text.split(","))
    try:
        return Schedule(timezone=timezone, holidays=holidays, **{d: ", ".join(spans) for d, spans in week.items()})
    except ValueError as exc:  # pydantic's ValidationError names the zone or the span
        raise ShiftError(_first_error(exc)) from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", exc)).removeprefix("Value error, ")
    return str(exc)


def legacy_shift(hours: Any, days: Any = None) -> str:
    """The text of the older ``hours=(9, 17), days=(0..4)`` form (whole local hours, weekday numbers)."""
    start, end = (int(x) for x in hours)
    day_names = [DAYS[int(d)] for d in (days if days is not None else range(5))]
    if not day_names:
        return "off"
    if (start, end) == (0, 24) and len(day_names) == 7:
        return ALWAYS
    return f"{','.join(day_names)} {start:02d}:00-{end:02d}:00" if end <= 24 else f"{','.join(day_names)} {start:02d}:00-24:00"


def schedule_from_text(value: Any) -> Any:
    """Settings accept a shift text (``"mon-fri 09:00-17:00 Europe/Madrid"``) where a schedule is expected."""
    if not isinstance(value, str):
        return value
    words = value.split()
    zone = "UTC"
    if words and ("/" in words[-1] or words[-1].upper() == "UTC") and not _SPAN.match(words[-1]) and words[-1] != ALWAYS:
        zone = words.pop()
    return parse_shift(" ".join(words), zone)


def next_together(now: datetime, *schedules: Schedule | None, max_steps: int = 64) -> datetime | None:
    """The first moment at or after ``now`` when every given schedule is open (None: not within a year).

    Each step jumps to the latest of the schedules' next openings; a moment when all are open
    is the answer. Schedules given as None do not restrict."""
    active = [s for s in schedules if s is not None]
    if not active:
        return now
    t = now
    for _ in range(max_steps):
        nexts = [s.next_open(t) for s in active]
        if any(n is None for n in nexts):
            return None
        latest = max(n for n in nexts if n is not None)
        if all(s.is_open(latest) for s in active):
            return latest
        if latest <= t:  # cannot happen with honest schedules; never loop forever
            latest = t + timedelta(minutes=1)
        t = latest
    return None


def say_when(moment: datetime, now: datetime, language: str) -> tuple[str, str]:
    """``("on Monday at 09:00 (Europe/Madrid)", "en")``: a next opening as a caller hears it."""
    zone = moment.tzinfo
    local_now = now.astimezone(zone)
    days = (moment.date() - local_now.date()).days
    said = handoff_line("when", "today" if days == 0 else "tomorrow" if days == 1 else "other_day", language)
    t = moment.strftime("%H:%M")
    name = str(getattr(zone, "key", "") or moment.strftime("%Z"))
    return f"{said.text.format(t=t, d=weekday(moment.weekday(), said.language))} ({name.replace('_', ' ')})", said.language
