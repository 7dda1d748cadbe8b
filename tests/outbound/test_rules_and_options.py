"""Pure parts: campaign rules over the sample orders, time zones, settings, outcome mapping."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from voicebot.config import load_settings
from voicebot.dialogue.orders import Case
from voicebot.dialogue.orders.seed import sample_data
from voicebot.outbound.call_agent import final_outcome
from voicebot.outbound.options import OutboundOptions, options_from_settings
from voicebot.outbound.outcomes import sip_failure_outcome, twilio_error_outcome, twilio_status_outcome
from voicebot.outbound.rules import Rule, select
from voicebot.outbound.timezones import UnknownCountry, is_daytime, next_daytime, zones_for

TODAY = date(2026, 3, 16)
DATA = sample_data(TODAY)
CUSTOMERS = {c.id: c for c in DATA.customers}


def test_late_parcel_and_customs_rules_pick_the_right_orders():
    late, _ = select(Rule("late_parcel", 2), DATA.orders, CUSTOMERS, {}, TODAY)
    assert {t.order_id for t in late} == {DATA.order_of(c.id, "late_in_transit").id for c in DATA.customers}
    assert {t.facts["days_late"] for t in late} == {4}
    assert select(Rule("late_parcel", 5), DATA.orders, CUSTOMERS, {}, TODAY)[0] == []  # 4 days late is not 5
    customs, _ = select(Rule("customs_hold", 10), DATA.orders, CUSTOMERS, {}, TODAY)
    assert len(customs) == 15 and {t.facts["days_held"] for t in customs} == {10}
    assert {t.facts["customs_reason"] for t in customs} == {"duties_due", "documents_required", "inspection"}
    assert select(Rule("customs_hold", 11), DATA.orders, CUSTOMERS, {}, TODAY)[0] == []
    orders = {o.id: o for o in DATA.orders}
    assert all(t.country == orders[t.order_id].country for t in late)  # the order's destination decides the time zone


def test_damage_case_rule_sees_only_unresolved_claims_old_enough():
    o = DATA.order_of("C001", "delivered")
    claim = Case("CLM-1", "damage_claim", o.id, date(2026, 3, 12))
    cases = {o.id: [claim]}
    assert [t.facts["case"] for t in select(Rule("damage_case", 3), DATA.orders, CUSTOMERS, cases, TODAY)[0]] == ["CLM-1"]
    assert select(Rule("damage_case", 5), DATA.orders, CUSTOMERS, cases, TODAY)[0] == []
    resolved = {o.id: [dataclasses.replace(claim, data={"status": "resolved"})]}
    assert select(Rule("damage_case", 3), DATA.orders, CUSTOMERS, resolved, TODAY)[0] == []
    refunded = {o.id: [claim, Case("REF-2", "refund", o.id, date(2026, 3, 13))]}
    assert select(Rule("damage_case", 3), DATA.orders, CUSTOMERS, refunded, TODAY)[0] == []
    with pytest.raises(ValueError, match="unknown campaign rule"):
        Rule("birthday", 1)


def test_daytime_in_every_zone_of_a_country():
    us = zones_for("us")
    at = lambda h, m=0: datetime(2026, 3, 16, h, m, tzinfo=UTC).timestamp()  # noqa: E731
    assert not is_daytime(at(15, 59), us, (9, 20), tuple(range(6)))  # 8:59 in Los Angeles
    assert is_daytime(at(16, 0), us, (9, 20), tuple(range(6)))
    assert next_daytime(at(3), us, (9, 20), tuple(range(6))) == at(16)
    assert next_daytime(at(23, 59), us, (9, 20), tuple(range(6))) == at(23, 59)  # 19:59 in New York
    assert next_daytime(at(3), zones_for("RU"), (9, 10), tuple(range(7))) is None  # no hour is daytime from Moscow to Novosibirsk
    assert zones_for("XX", {"XX": ["Europe/Paris"]})[0].key == "Europe/Paris"
    with pytest.raises(UnknownCountry, match="outbound.time_zones"):
        zones_for("XX")


def test_settings_are_validated_with_clear_messages(tmp_path):
    s = load_settings(env={"VOICEBOT_HOME": str(tmp_path), "VOICEBOT_OUTBOUND__MAX_CONCURRENT": "3", "VOICEBOT_OUTBOUND__CALL_HOURS": "8-21",
                           "VOICEBOT_OUTBOUND__REQUIRE_CONSENT": "false", "VOICEBOT_OUTBOUND__AMD__GREETING_MS": "1800"})
    o = options_from_settings(s)
    assert (o.max_concurrent, o.call_hours, o.require_consent, o.amd.greeting_ms) == (3, (8, 21), False, 1800.0)
    assert o.retry_delay("no_answer") == 4 * 3600 and o.retry_delay("reached") is None
    for bad, match in (({"channel": "fax"}, "'sip' or 'twilio'"), ({"call_hours": (20, 9)}, "call_hours"), ({"sip_target": "sip:x@y"}, "{number}")):
        with pytest.raises(ValueError, match=match):
            OutboundOptions(**bad)
    with pytest.raises(ValueError, match="unknown setting 'outbound.max_concurent'"):
        load_settings(env={"VOICEBOT_HOME": str(tmp_path), "VOICEBOT_OUTBOUND__MAX_CONCURENT": "2"})


@pytest.mark.parametrize(("status", "outcome"), [(486, "busy"), (600, "busy"), (480, "no_answer"), (487, "no_answer"), (404, "invalid_number"),
                                                 (484, "invalid_number"), (603, "busy"), (503, "failed"), (403, "failed"), (0, "no_connect")])
def test_sip_failures(status, outcome):
    assert sip_failure_outcome(status) == outcome


def test_twilio_outcomes():
    assert twilio_status_outcome("busy") == "busy" and twilio_status_outcome("no-answer") == "no_answer"
    assert twilio_status_outcome("failed", "404") == "invalid_number" and twilio_status_outcome("failed", "") == "failed"
    assert twilio_status_outcome("completed") is None
    assert twilio_error_outcome(21211) == "invalid_number" and twilio_error_outcome(20429) == "failed"


def test_final_outcome_of_a_call():
    kw = {"transferred": False, "bot_hung_up": True, "amd": "human", "caller_spoke": True, "error": False}
    assert final_outcome(["reached", "opted_out"], **kw) == "opted_out"  # opting out after the news still wins
    assert final_outcome(["reached"], **{**kw, "transferred": True}) == "handed_to_agent"
    assert final_outcome(["voicemail_left"], **kw) == "voicemail_left"
    assert final_outcome(["voicemail_left"], **{**kw, "bot_hung_up": False}) == "hung_up"  # the machine cut the message off
    assert final_outcome([], **kw) == "hung_up" and final_outcome([], **{**kw, "error": True}) == "error"
