"""Start, pause, resume and watch campaigns (the CLI and the supervisor page call these).

Starting is idempotent: a campaign is its name. Starting it again selects again and adds only
customers and orders it does not have yet; nobody already in it is called twice.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from voicebot.logs import get_logger

from .options import CHANNELS
from .rules import RULES, Rule, select
from .store import Campaign, OutboundStore

log = get_logger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CampaignError(ValueError):
    """A campaign request that cannot be carried out; the message says what to change."""


@dataclass
class StartResult:
    campaign: Campaign
    created: bool  # False: it existed (started twice)
    selected: int  # orders matching the rule now
    added: int  # new targets (selected minus those already in the campaign)
    left_out: dict[str, int] = field(default_factory=dict)


async def list_orders(orders: Any) -> tuple[list[Any], dict[str, Any]]:
    """Every order and customer from the order store (the embedded SQLite store can list them)."""
    if not hasattr(orders, "all_orders") or not hasattr(orders, "all_customers"):
        raise CampaignError(f"the order store {type(orders).__name__} cannot list orders, and campaigns select from all orders: "
                            "only the sample store lists them (dialogue.order_store: demo)")
    all_orders = await orders.all_orders()
    customers = {c.id: c for c in await orders.all_customers()}
    return all_orders, customers


async def start(store: OutboundStore, orders: Any, name: str, rule: str, days: int, channel: str, now: float, today: date,
                by: str | None = None) -> StartResult:
    if not NAME.match(name or ""):
        raise CampaignError(f"campaign name {name!r}: use letters, digits, '-', '_' or '.', at most 64 characters")
    if rule not in RULES:
        raise CampaignError(f"unknown rule {rule!r}: use one of {', '.join(RULES)}")
    if channel not in CHANNELS:
        raise CampaignError(f"unknown channel {channel!r}: use sip or twilio")
    r = Rule(rule, int(days))
    campaign, created = await asyncio.to_thread(store.create_campaign, Campaign(name, rule, int(days), channel, "running", now, now, by))
    if campaign.status == "done":
        raise CampaignError(f"campaign {name!r} is finished; start a new one under another name")
    all_orders, customers = await list_orders(orders)
    cases = {o.id: await orders.cases_for_order(o.id) for o in all_orders} if rule == "damage_case" else {}
    targets, left_out = select(r, all_orders, customers, cases, today)
    targets = [t.__class__(**{**t.__dict__, "facts": {**t.facts, "rule_days": int(days)}}) for t in targets]
    added = await asyncio.to_thread(store.add_targets, name, targets, now)
    keep = campaign.status if not created and campaign.status == "paused" else "running"  # starting again does not resume a pause
    await asyncio.to_thread(store.set_campaign, name, now, status=keep, selected=len(targets))
    campaign = await asyncio.to_thread(store.campaign, name)
    assert campaign is not None
    log.info("campaign started", extra={"campaign": name, "rule": rule, "days": days, "new_campaign": created, "selected": len(targets), "added": added})
    return StartResult(campaign, created, len(targets), added, left_out)


async def set_status(store: OutboundStore, name: str, status: str, now: float) -> Campaign:
    """pause | running (resume) | done (stop for good; calls in progress finish)."""
    if status not in ("paused", "running", "done"):
        raise CampaignError("status must be paused, running or done")
    current = await asyncio.to_thread(store.campaign, name)
    if current is None:
        raise CampaignError(f"no campaign {name!r}; `voicebot campaign list` shows them")
    if current.status == "done" and status != "done":
        raise CampaignError(f"campaign {name!r} is finished and cannot be resumed")
    await asyncio.to_thread(store.set_campaign, name, now, status=status)
    log.info("campaign status", extra={"campaign": name, "status": status})
    updated = await asyncio.to_thread(store.campaign, name)
    assert updated is not None
    return updated


def outcome_rows(summary: dict[str, Any]) -> list[tuple[str, int]]:
    """The outcome table of a campaign: every outcome with its count, waiting targets last."""
    outcomes = dict(summary["outcomes"])
    waiting = outcomes.pop("-", 0)
    rows = sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
    if waiting:
        rows.append(("(not called yet)", waiting))
    return rows
