"""Order numbers by voice: read them back in groups, find the order a one-digit slip meant.

Speech recognition gets a digit wrong now and then ("8 8 1 4 2 7" written "81427"), so the
session does what good IVRs do: it reads an uncertain number back grouped ("8 8 1, 4 2 7 - is
that right?") and takes yes, no, a spoken correction or the keypad; and it compares a number the
shop cannot find with the orders the identified caller owns, offering the one order a single
edit (a changed, missing, extra or swapped digit) away. Only the caller's own orders are
candidates: a near match never reveals anyone else's order.
"""

from __future__ import annotations

from collections.abc import Iterable

from .languages import find_pack

GROUP = 3  # digits per group when read back: short enough to hold in the ear


def spoken_groups(order_id: str, lang: str) -> str:
    """``"881427"`` -> ``"8 8 1, 4 2 7"``; letters are their own group (``"J D, 4 5 1, 9 3"``).
    A last group of one digit borrows one ("4 4, 1 7" rather than "4 4 1, 7")."""
    groups: list[str] = []
    run = ""
    for ch in order_id.upper():
        if run and run[-1].isdigit() != ch.isdigit():
            groups += _split_run(run)
            run = ""
        run += ch
    if run:
        groups += _split_run(run)
    pack = find_pack(lang)
    return (pack.group_separator if pack else ", ").join(" ".join(g) for g in groups)


def _split_run(run: str) -> list[str]:
    if not run[0].isdigit() or len(run) <= GROUP:
        return [run]
    parts = [run[i : i + GROUP] for i in range(0, len(run), GROUP)]
    if len(parts[-1]) == 1:
        parts[-2:] = [parts[-2][:-1], parts[-2][-1] + parts[-1]]
    return parts


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one changed, missing, extra or swapped character."""
    a, b = a.upper(), b.upper()
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def near_match(said: str, own_ids: Iterable[str]) -> str | None:
    """The one id among ``own_ids`` a single slip away from ``said``; None when none or several."""
    hits = [oid for oid in dict.fromkeys(own_ids) if one_edit_apart(said, oid)]
    return hits[0] if len(hits) == 1 else None


# What the bot asked for, for the ASR's prompt biasing (DialogueReply.expect).
EXPECT_BY_PENDING = {
    "order_id": "order_id",
    "pick_order": "order_id",
    "email": "email",
    "confirm": "yes_no",
    "confirm_order_id": "yes_no",
    "anything_else": "yes_no",
}
