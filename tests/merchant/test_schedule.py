"""Opening hours: weekdays, time zones with daylight saving, holidays, spans across midnight."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from voicebot.config_types import ConfigError, validate_section
from voicebot.schedule import Schedule

UTC = ZoneInfo("UTC")
MADRID = ZoneInfo("Europe/Madrid")


def test_default_is_weekdays_nine_to_five_utc():
    s = Schedule()
    assert s.is_open(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # a Monday
    assert not s.is_open(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))  # the end is exclusive
    assert not s.is_open(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # Saturday
    # Saturday noon -> Monday 09:00
    assert s.next_open(datetime(2026, 11, 28, 12, 0, tzinfo=UTC)) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_time_zone_is_the_shops_wall_clock_across_daylight_saving():
    s = Schedule(timezone="Europe/Madrid")
    # Winter: 09:00 Madrid is 08:00 UTC; summer: 07:00 UTC.
    assert s.is_open(datetime(2026, 1, 12, 8, 0, tzinfo=UTC))
    assert not s.is_open(datetime(2026, 1, 12, 7, 30, tzinfo=UTC))
    assert s.is_open(datetime(2026, 7, 13, 7, 0, tzinfo=UTC))
    # Friday evening before the spring change (29 March 2026) -> Monday 09:00 CEST = 07:00 UTC
    opening = s.next_open(datetime(2026, 3, 27, 18, 0, tzinfo=UTC))
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert opening.tzinfo == MADRID


def test_holidays_close_the_day_and_next_open_skips_them():
    s = Schedule(holidays=(date(2026, 12, 25),))
    assert not s.is_open(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))
    assert s.next_open(datetime(2026, 12, 24, 18, 0, tzinfo=UTC)) == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)


def test_split_day_and_span_across_midnight():
    s = Schedule(mon="09:00-13:00, 15:00-19:00", fri="22:00-02:00", sat="", sun="closed")
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert s.is_open(monday.replace(hour=12))
    assert not s.is_open(monday.replace(hour=14))
    assert s.next_open(monday.replace(hour=14)) == monday.replace(hour=15)
    # Friday 22:00 to Saturday 02:00 belongs to Friday
    assert s.is_open(datetime(2026, 11, 28, 1, 30, tzinfo=UTC))
    assert not s.is_open(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    assert s.next_close(datetime(2026, 11, 27, 23, 0, tzinfo=UTC)) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_spans_that_meet_are_one_opening():
    s = Schedule.always("America/New_York")
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert s.is_always_open() and s.is_open(at)
    assert s.next_close(at) is None or s.next_close(at) > at.replace(year=2027)
    t = Schedule(mon="09:00-12:00, 12:00-18:00")
    assert t.next_close(datetime(2026, 11, 23, 10, tzinfo=UTC)) == datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert t.next_close(datetime(2026, 11, 23, 19, tzinfo=UTC)) is None


def test_never_open_has_no_next_opening():
    s = Schedule(**{d: "" for d in ("mon", "tue", "wed", "thu", "fri")})
    assert s.next_open(datetime(2026, 11, 23, tzinfo=UTC)) is None
    assert s.summary() == "always closed (UTC)"


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware datetime"):
        Schedule().is_open(datetime(2026, 11, 23, 10))


@pytest.mark.parametrize(("raw", "message"), [
    ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
    ({"mon": "9-5pm"}, "not a time of day"),
    ({"tue": "09:00"}, "not a span"),
    ({"wed": "10:00-10:00"}, "is empty"),
    ({"funday": "09:00-10:00"}, "unknown setting 'shop.hours.funday'"),
    ({"holidays": "christmas"}, "holidays"),
])
def test_bad_hours_are_errors_naming_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        validate_section(Schedule, raw, "shop.hours.")


def test_summary_groups_days():
    s = Schedule(timezone="Europe/Madrid", sat="10:00-14:00", holidays=("2026-12-25",))
    assert s.summary() == "Mon-Fri 09:00-17:00; Sat 10:00-14:00 (Europe/Madrid); closed on 1 holiday(s)"


def test_print_form_is_the_settings_form():
    s = Schedule(mon="09:00-13:00, 15:00-19:00", sat="")
    dumped = s.model_dump(mode="json")
    assert dumped["mon"] == "09:00-13:00, 15:00-19:00" and dumped["sat"] == "closed"
    assert Schedule.model_validate(dumped) == s
