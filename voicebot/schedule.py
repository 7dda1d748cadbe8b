"""Opening hours: weekly spans per weekday in a time zone, minus holidays.

One type for every "are we open?" question: the shop's business hours (``shop.hours``) and,
in the hand-off, per-queue and per-agent hours. Times are the shop's wall-clock times in its
IANA time zone (``zoneinfo``), so daylight-saving changes move the opening in UTC, not on the
clock on the wall. A span may cross midnight (``22:00-02:00``); it belongs to the day it
starts on, and a holiday closes the spans that start on it.

Written in settings as::

    hours:
      timezone: Europe/Madrid
      mon: "09:00-13:00, 15:00-19:00"     # or a list of spans; "" or "closed" = closed
      sat: "10:00-14:00"
      holidays: [2026-12-25, 2027-01-01]

or from the environment ``VOICEBOT_SHOP__HOURS__SAT="10:00-14:00"``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer, field_validator

from voicebot.config_types import Section

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_END_OF_DAY = "24:00"
# Far enough to pass any run of holidays and closed weekdays a real shop has.
_SEARCH_DAYS = 400

Span = tuple[str, str]  # ("09:00", "17:00"); "24:00" ends at midnight


def _clock(text: str, *, end: bool) -> str:
    text = text.strip()
    if end and text in (_END_OF_DAY, "24:00:00"):
        return _END_OF_DAY
    try:
        parsed = time.fromisoformat(text if len(text) > 2 else f"{text}:00")
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day; write HH:MM (24-hour clock, '24:00' for midnight at the end)") from None
    return parsed.strftime("%H:%M")


def _spans(value: Any) -> tuple[Span, ...]:
    """``"09:00-13:00, 15:00-19:00"`` or a list of such strings or pairs -> (("09:00","13:00"), ...)."""
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "closed", "-"):
            return ()
        value = [part for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError(f"opening hours are 'HH:MM-HH:MM' spans, not {value!r}")
    out: list[Span] = []
    for item in value:
        if isinstance(item, str):
            start, sep, stop = item.partition("-")
            if not sep:
                raise ValueError(f"{item.strip()!r} is not a span; write HH:MM-HH:MM, e.g. 09:00-17:00")
        elif isinstance(item, list | tuple) and len(item) == 2:
            start, stop = str(item[0]), str(item[1])
        else:
            raise ValueError(f"{item!r} is not a span; write HH:MM-HH:MM, e.g. 09:00-17:00")
        a, b = _clock(start, end=False), _clock(stop, end=True)
        if a == b:
            raise ValueError(f"span {a}-{b} is empty")
        out.append((a, b))
    return tuple(sorted(out))


def _dates(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _shown(spans: tuple[Span, ...]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in spans) or "closed"


# JSON (--print-config) shows a day as it is written in settings: "09:00-13:00, 15:00-19:00".
DayHours = Annotated[tuple[Span, ...], BeforeValidator(_spans), PlainSerializer(_shown, when_used="json")]
Holidays = Annotated[tuple[date, ...], BeforeValidator(_dates)]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class Schedule(Section):
    """Weekly opening hours in one time zone, with holidays. Default: Mon-Fri 09:00-17:00 UTC."""

    model_config = Section.model_config | {"frozen": True}

    timezone: str = "UTC"  # IANA name, e.g. Europe/Madrid, America/New_York
    mon: DayHours = (("09:00", "17:00"),)
    tue: DayHours = (("09:00", "17:00"),)
    wed: DayHours = (("09:00", "17:00"),)
    thu: DayHours = (("09:00", "17:00"),)
    fri: DayHours = (("09:00", "17:00"),)
    sat: DayHours = ()
    sun: DayHours = ()
    holidays: Holidays = ()  # local dates on which nothing opens (ISO: 2026-12-25)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone; write e.g. Europe/Madrid, America/New_York or UTC") from None
        return v

    @classmethod
    def always(cls, timezone: str = "UTC") -> Schedule:
        """Open every hour of every day (a 24/7 line)."""
        return cls(timezone=timezone, **{d: (("00:00", _END_OF_DAY),) for d in DAYS})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def day(self, weekday: int) -> tuple[Span, ...]:
        """The spans of a weekday (0 = Monday)."""
        return getattr(self, DAYS[weekday])

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The opening intervals that start on this local date, as aware datetimes (none on a holiday)."""
        if day in self.holidays:
            return []
        zone = self.zone
        midnight = datetime(day.year, day.month, day.day)
        out = []
        for start, stop in self.day(day.weekday()):
            a, b = _minutes(start), _minutes(stop)
            if b <= a:  # crosses midnight into the next day
                b += 24 * 60
            # Wall-clock arithmetic, then the zone: 09:00 stays 09:00 across a DST change.
            out.append(((midnight + timedelta(minutes=a)).replace(tzinfo=zone),
                        (midnight + timedelta(minutes=b)).replace(tzinfo=zone)))
        return out

    def _aware(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("Schedule needs an aware datetime (with tzinfo); a naive one has no time zone to compare")
        return at.astimezone(self.zone)

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` (an aware datetime) falls inside an opening span."""
        local = self._aware(at)
        for day in (local.date() - timedelta(days=1), local.date()):
            for start, stop in self.intervals(day):
                if _utc(start) <= _utc(local) < _utc(stop):
                    return True
        return False

    def next_open(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the next opening (in the schedule's zone); None if it never opens."""
        if self.is_open(at):
            return at.astimezone(self.zone)
        local = self._aware(at)
        for offset in range(_SEARCH_DAYS):
            for start, _ in self.intervals(local.date() + timedelta(days=offset)):
                if _utc(start) > _utc(local):
                    return start
        return None

    def next_close(self, at: datetime) -> datetime | None:
        """When the opening that holds ``at`` ends (spans that meet are one opening); None if closed."""
        local = self._aware(at)
        end: datetime | None = None
        day = local.date() - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            if day > (end or local).astimezone(self.zone).date():
                break  # later days' spans start after the end (or after ``at``): nothing more to join
            for start, stop in self.intervals(day):  # in order of start, so each one can only extend
                ref = _utc(end or local)
                if _utc(start) <= ref < _utc(stop):
                    end = stop
            day += timedelta(days=1)
        return end

    def is_always_open(self) -> bool:
        return not self.holidays and all(self.day(i) == (("00:00", _END_OF_DAY),) for i in range(7))

    def summary(self) -> str:
        """One line for people: ``Mon-Fri 09:00-17:00; Sat 10:00-14:00 (Europe/Madrid)``."""
        groups: list[tuple[list[str], str]] = []
        for name in DAYS:
            text = ", ".join(f"{a}-{b}" for a, b in getattr(self, name)) or "closed"
            if groups and groups[-1][1] == text:
                groups[-1][0].append(name)
            else:
                groups.append(([name], text))
        parts = [f"{_days_label(names)} {text}" for names, text in groups if text != "closed"]
        shown = "; ".join(parts) or "always closed"
        holidays = f"; closed on {len(self.holidays)} holiday(s)" if self.holidays else ""
        return f"{shown} ({self.timezone}){holidays}"


def _days_label(names: list[str]) -> str:
    first, last = names[0].capitalize(), names[-1].capitalize()
    return first if len(names) == 1 else f"{first}-{last}"


def _utc(value: datetime) -> datetime:
    """Compare instants, not wall clocks (two aware datetimes in one zone compare by wall clock)."""
    return value.astimezone(ZoneInfo("UTC"))
