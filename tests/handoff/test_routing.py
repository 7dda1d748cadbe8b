"""Routing, table-driven: language, translation fallback, skills, hours across time zones, load, wait."""

from datetime import UTC, datetime

import pytest

from voicebot.handoff.routing import (
    Agent,
    RouteRequest,
    RoutingOptions,
    caller_message,
    route,
)

MON_10_UTC = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
SAT_10_UTC = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def A(id, langs, **kw):
    return Agent(id=id, name=id, languages=tuple(langs), status=kw.pop("status", "available"), **kw)


MARIA = A("maria", ["es", "en"], timezone="Europe/Madrid")
JOHN = A("john", ["en"], timezone="UTC", translation=True)
KENJI = A("kenji", ["ja"], timezone="Asia/Tokyo")  # 10:00 UTC = 19:00 Tokyo: off shift
RETURNS_ES = A("lucia", ["es"], skills=("returns",), timezone="Europe/Madrid")

CASES = [
    # (name, agents, request, now, kind, first agent, wait_s)
    ("same language", [JOHN, MARIA], RouteRequest("c", "es"), MON_10_UTC, "agent", "maria", 0),
    ("translation fallback", [JOHN], RouteRequest("c", "es"), MON_10_UTC, "agent_translated", "john", 0),
    ("speaker busy -> translator", [A("maria", ["es"], load=1), JOHN], RouteRequest("c", "es"), MON_10_UTC, "agent_translated", "john", 0),
    ("all busy -> queue with wait", [A("maria", ["es"], load=1)], RouteRequest("c", "es", position=1), MON_10_UTC, "queue", "maria", 600),
    ("away agent is not free", [A("maria", ["es"], status="away")], RouteRequest("c", "es"), MON_10_UTC, "queue", "maria", 300),
    ("off shift in their zone -> callback", [KENJI], RouteRequest("c", "ja", caller_number="+34600"), MON_10_UTC, "callback", None, None),
    ("weekend, no number -> voicemail", [MARIA], RouteRequest("c", "es"), SAT_10_UTC, "voicemail", None, None),
    ("offline agent ignored", [A("maria", ["es"], status="offline")], RouteRequest("c", "es", caller_number="+1"), MON_10_UTC, "callback", None, None),
    ("skill preferred", [MARIA, RETURNS_ES], RouteRequest("c", "es", skill="returns"), MON_10_UTC, "agent", "lucia", 0),
    ("skill missing -> anyone", [MARIA], RouteRequest("c", "es", skill="vip"), MON_10_UTC, "agent", "maria", 0),
    ("least loaded first", [A("b", ["es"], max_load=3, load=2), A("a", ["es"], max_load=3, load=1)], RouteRequest("c", "es"), MON_10_UTC, "agent", "a", 0),
    ("excluded after timeout", [MARIA, A("pablo", ["es"])], RouteRequest("c", "es", exclude=frozenset({"maria"})), MON_10_UTC, "agent", "pablo", 0),
]


@pytest.mark.parametrize("name,agents,req,now,kind,first,wait", CASES, ids=[c[0] for c in CASES])
def test_route(name, agents, req, now, kind, first, wait):
    d = route(req, agents, now, RoutingOptions(avg_handle_s=300))
    assert d.kind == kind
    assert (d.agents[0] if d.agents else None) == first
    assert d.wait_s == wait


def test_queue_names_per_language_and_skill():
    assert route(RouteRequest("c", "es", skill="returns"), [RETURNS_ES], MON_10_UTC).queue == "es:returns"
    assert route(RouteRequest("c", "de"), [], MON_10_UTC).queue == "de"


def test_caller_hears_the_decision_in_their_language_with_the_wait():
    text, lang = caller_message("queue", "es", wait_s=600)
    assert lang == "es" and "10 minutos" in text
    text, lang = caller_message("queue", "ja", wait_s=30)  # no table: English, at least 1 minute
    assert lang == "en" and "1 minutes" in text
