"""Shifts and queue hours: the rota text, time zones, daylight saving, holidays, overnight shifts,
and what routing decides (and says) when nobody is on shift."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from voicebot.config_types import ConfigError, validate_section
from voicebot.handoff.coverage import coverage, shift_status
from voicebot.handoff.hours import ShiftError, legacy_shift, next_together, normalize_shift, parse_shift, say_when
from voicebot.handoff.options import HandoffOptions, VoicemailOptions
from voicebot.handoff.routing import Agent, RouteRequest, RoutingOptions, agent_from_dict, route
from voicebot.schedule import Schedule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


SAT_NOON = utc(2026, 11, 28, 12, 0)  # a Saturday in winter (Madrid = UTC+1)


@pytest.mark.parametrize("text,canon", [
    ("mon-fri 09:00-17:00", "mon-fri 09:00-17:00"),
    ("Mon-Fri 9-17", "mon-fri 09:00-17:00"),
    ("9-17", "mon-fri 09:00-17:00"),  # the older whole-hour form: weekdays
    ("mon-fri 09:00-13:00, 15:00-19:00; sat 10:00-14:00", "mon-fri 09:00-13:00,15:00-19:00; sat 10:00-14:00"),
    ("sun-thu 22:00-06:00", "sun-thu 22:00-06:00"),
    ("fri-mon 08:00-12:00", "fri-mon 08:00-12:00"),  # wraps the week
    ("daily 00:00-24:00", "24/7"), ("always", "24/7"), ("off", "off"),
    ("weekends 10-14", "sat-sun 10:00-14:00"),
])
def test_shift_text_is_read_and_written_back_canonically(text, canon):
    assert normalize_shift(text) == canon
    assert normalize_shift(canon) == canon


@pytest.mark.parametrize("text,says", [
    ("mon-fri", "no hours"), ("mon-fri 9-25", "not a time of day"), ("funday 09:00-17:00", "not a day"),
    ("mon-fri 09:00", "not a span"), ("mon 10:00-10:00", "empty"), ("mon-fri 9:75-17", "not a time of day"),
])
def test_unreadable_shifts_say_what_to_write(text, says):
    with pytest.raises(ShiftError, match=says):
        parse_shift(text)


def test_an_unknown_time_zone_is_refused_by_name():
    with pytest.raises(ShiftError, match="'Mars/Olympus' is not an IANA time zone"):
        Agent("x", "X", ("en",), timezone="Mars/Olympus")


def test_shift_in_the_agents_time_zone_winter_and_summer():
    madrid = parse_shift("mon-fri 09:00-17:00", "Europe/Madrid")
    # winter: UTC+1
    assert not madrid.is_open(utc(2026, 11, 30, 7, 59)) and madrid.is_open(utc(2026, 11, 30, 8, 0))
    assert madrid.is_open(utc(2026, 11, 30, 15, 59)) and not madrid.is_open(utc(2026, 11, 30, 16, 0))
    # summer: UTC+2 — the same 09:00 on the wall is an hour earlier in UTC
    assert madrid.is_open(utc(2026, 7, 6, 7, 0)) and not madrid.is_open(utc(2026, 7, 6, 15, 0))
    tokyo = parse_shift("mon-fri 09:00-17:00", "Asia/Tokyo")
    assert tokyo.is_open(utc(2026, 11, 30, 0, 0)) and not tokyo.is_open(utc(2026, 11, 30, 10, 0))  # 19:00 in Tokyo


def test_next_opening_across_the_spring_daylight_saving_change():
    madrid = parse_shift("mon-fri 09:00-17:00", "Europe/Madrid")
    # Saturday before the clocks go forward (Sunday 28 March 2027): Monday 09:00 is now UTC+2, 07:00 UTC
    nxt = madrid.next_open(utc(2027, 3, 27, 12, 0))
    assert nxt.isoformat() == "2027-03-29T09:00:00+02:00" and nxt.astimezone(UTC).hour == 7
    # a night shift over the change: 01:00-05:00 local lasts three real hours that night
    night = parse_shift("sun 01:00-05:00", "Europe/Madrid")
    assert night.is_open(utc(2027, 3, 28, 0, 30)) and night.is_open(utc(2027, 3, 28, 2, 30))  # 01:30 CET, 04:30 CEST
    assert not night.is_open(utc(2027, 3, 28, 3, 0))  # 05:00 CEST: over
    # autumn: the shift starts at 09:00 local, UTC+1 again
    assert madrid.next_open(utc(2026, 10, 24, 12, 0)).isoformat() == "2026-10-26T09:00:00+01:00"


def test_overnight_shift_belongs_to_the_day_it_starts():
    nights = parse_shift("sun-thu 22:00-06:00", "UTC")
    assert nights.is_open(utc(2026, 11, 30, 3, 0))  # Monday 03:00: Sunday's shift
    assert nights.is_open(utc(2026, 12, 4, 3, 0))  # Friday 03:00: Thursday's shift
    assert not nights.is_open(utc(2026, 12, 5, 3, 0))  # Saturday 03:00: no Friday shift
    assert not nights.is_open(utc(2026, 12, 4, 23, 0))  # Friday night
    assert nights.next_open(utc(2026, 12, 4, 23, 0)).isoformat() == "2026-12-06T22:00:00+00:00"  # Sunday night
    assert nights.next_close(utc(2026, 12, 1, 23, 0)).isoformat() == "2026-12-02T06:00:00+00:00"


def test_holidays_close_a_queue_and_move_its_next_opening():
    hours = Schedule(timezone="Europe/Madrid", holidays=(date(2026, 12, 25),))
    assert not hours.is_open(utc(2026, 12, 25, 10, 0))  # a Friday, 11:00 in Madrid
    assert hours.next_open(utc(2026, 12, 25, 10, 0)).isoformat() == "2026-12-28T09:00:00+01:00"
    # a shift starting the evening before a holiday runs into it; one starting on it does not
    nights = parse_shift("daily 22:00-06:00", "UTC", (date(2026, 12, 25),))
    assert nights.is_open(utc(2026, 12, 25, 3, 0)) and not nights.is_open(utc(2026, 12, 25, 23, 0))


def test_next_moment_an_agent_and_their_queue_are_both_open():
    agent = parse_shift("mon-fri 09:00-17:00", "Europe/Madrid")  # 08:00-16:00 UTC in winter
    queue = parse_shift("mon-fri 15:00-20:00", "UTC")
    assert next_together(SAT_NOON, agent, queue) == utc(2026, 11, 30, 15, 0)  # Monday 15:00 UTC = 16:00 in Madrid
    assert next_together(SAT_NOON, agent, parse_shift("sat-sun 10-12", "UTC")) is None  # never together
    assert next_together(SAT_NOON, None) == SAT_NOON


def test_older_agent_rows_still_load():
    assert legacy_shift((0, 24), range(7)) == "24/7"
    a = agent_from_dict({"id": "ann", "name": "Ann", "languages": ["en"], "skills": {}, "timezone": "UTC", "hours": [9, 17],
                         "days": [0, 1, 2, 3, 4], "status": "available", "load": 0})
    assert a.hours == "mon,tue,wed,thu,fri 09:00-17:00" and a.on_shift(utc(2026, 11, 30, 10, 0)) and a.skills == ()
    assert Agent("b", "B", ("en",), hours=(0, 24), days=tuple(range(7))).hours == "24/7"


MARIA = Agent("maria", "María", ("en", "es"), timezone="Europe/Madrid", status="available")  # mon-fri 09:00-17:00


def test_weekend_nobody_on_shift_says_until_when():
    d = route(RouteRequest("c1", "es"), [MARIA], SAT_NOON)
    assert d.kind == "voicemail" and d.next_open.isoformat() == "2026-11-30T09:00:00+01:00"
    assert d.reason == "no agent on shift for queue es until 2026-11-30T09:00+01:00"
    assert say_when(d.next_open, SAT_NOON, "es")[0] == "el lunes a las 09:00 (Europe/Madrid)"
    assert say_when(d.next_open, SAT_NOON, "en")[0] == "on Monday at 09:00 (Europe/Madrid)"
    assert route(RouteRequest("c1", "es", caller_number="+34600"), [MARIA], SAT_NOON).kind == "callback"


def test_queue_business_hours_and_signed_out_agents():
    weekend = Agent("ana", "Ana", ("es",), timezone="Europe/Madrid", hours="24/7", status="available")
    closed = RoutingOptions(queue_hours={"es": Schedule(timezone="Europe/Madrid")})  # Mon-Fri 09:00-17:00
    d = route(RouteRequest("c1", "es"), [weekend], SAT_NOON, closed)
    assert d.kind == "voicemail" and d.reason.startswith("queue es closed (Mon-Fri 09:00-17:00 (Europe/Madrid))")
    assert d.next_open.isoformat() == "2026-11-30T09:00:00+01:00"
    assert route(RouteRequest("c1", "es"), [weekend], SAT_NOON).kind == "agent"  # no queue hours: her shift decides
    # the queue's own hours win over the common ones; a skill queue falls back to its language's
    opts = RoutingOptions(hours=Schedule(timezone="UTC"), queue_hours={"es": Schedule.always("UTC")})
    assert opts.hours_for("es:returns").is_always_open() and not opts.hours_for("de").is_always_open()
    offline = Agent("ana", "Ana", ("es",), hours="24/7", status="offline")
    d = route(RouteRequest("c1", "es"), [offline], SAT_NOON)
    assert d.reason == "no agent on shift for queue es is signed in to the desk (ana on shift)" and d.next_open is None


def test_a_bilingual_agent_takes_a_spanish_call_in_spanish():
    weekday = utc(2026, 11, 30, 10, 0)
    d = route(RouteRequest("c1", "es"), [MARIA, Agent("john", "John", ("en",), translation=True, status="available")], weekday)
    assert d.kind == "agent" and d.agents == ("maria",)  # no translation: she speaks Spanish
    assert MARIA.working_language("es") == "es" and MARIA.working_language("de") == "en"


def test_settings_take_hours_as_text_or_mapping():
    opts = validate_section(HandoffOptions, {"hours": "mon-fri 09:00-18:00; sat 10-14 Europe/Madrid",
                                             "queues": '{"es": "24/7 Europe/Madrid", "returns": {"timezone": "UTC", "holidays": ["2026-12-25"]}}'},
                            "handoff.")
    assert opts.hours.summary() == "Mon-Fri 09:00-18:00; Sat 10:00-14:00 (Europe/Madrid)"
    assert opts.queues["es"].is_always_open() and opts.queues["returns"].holidays == (date(2026, 12, 25),)
    assert opts.routing().hours_for("es:returns") is opts.queues["returns"]
    with pytest.raises(ConfigError, match="handoff.hours.*'Mars/X' is not an IANA time zone"):
        validate_section(HandoffOptions, {"hours": "mon-fri 9-17 Mars/X"}, "handoff.")
    with pytest.raises(ConfigError, match="handoff.queues"):
        validate_section(HandoffOptions, {"queues": "{not json"}, "handoff.")


def test_queue_hours_fall_back_to_the_shops_hours_only_when_the_merchant_set_them(tmp_path):
    from voicebot.config import load_settings
    from voicebot.handoff.routes import shop_hours

    config = tmp_path / "shop.yaml"
    config.write_text("shop: {hours: {timezone: Europe/Madrid, sat: '10:00-14:00'}}\n")
    settings = load_settings(config, env={})
    routing = settings.handoff.routing(shop_hours(settings))
    assert routing.hours is settings.shop.hours and routing.hours_for("es").is_open(SAT_NOON)  # 13:00 in Madrid
    d = route(RouteRequest("c1", "es"), [Agent("ana", "Ana", ("es",), hours="24/7", status="available")], utc(2026, 11, 28, 15, 0))
    assert d.kind == "agent"  # no queue hours given to route() directly: the agent's shift alone
    d = route(RouteRequest("c1", "es"), [Agent("ana", "Ana", ("es",), hours="24/7", status="available")], utc(2026, 11, 28, 15, 0), routing)
    assert d.kind != "agent" and d.reason.startswith("queue es closed (Mon-Fri 09:00-17:00; Sat 10:00-14:00 (Europe/Madrid))")
    own = validate_section(HandoffOptions, {"hours": "24/7 Europe/Madrid"}, "handoff.")
    assert own.routing(shop_hours(settings)).hours is own.hours  # handoff.hours, when set, wins
    unset = load_settings(None, env={})
    assert shop_hours(unset) is None and unset.handoff.routing(shop_hours(unset)).hours is None  # the default shop hours close nothing


def test_coverage_and_an_agents_own_shift_for_the_desk():
    lines = {c.queue: c for c in coverage([MARIA], SAT_NOON, RoutingOptions(), VoicemailOptions())}
    es = lines["es"]
    assert not es.on_shift and es.next_open == "2026-11-30T09:00+01:00" and es.next_open_text == "on Monday at 09:00 (Europe/Madrid)"
    assert es.instead == {"phone": "callback", "phone_unknown_number": "voicemail", "web_voice": "voicemail", "web_text": "bot"}
    assert coverage([MARIA], SAT_NOON, RoutingOptions(), VoicemailOptions(enabled=False))[0].instead["web_voice"] == "bot"
    me = shift_status(MARIA, SAT_NOON, RoutingOptions())
    assert not me["on_shift"] and me["next_shift_text"] == "on Monday at 09:00 (Europe/Madrid)"
    assert shift_status(MARIA, utc(2026, 11, 30, 10, 0), RoutingOptions())["shift_ends_text"] == "today at 17:00 (Europe/Madrid)"
