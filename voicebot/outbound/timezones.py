"""When a customer may be called: local daytime in their country's time zones (pure).

A country with several zones is called only when it is daytime in *all* the zones listed for
it (the populated ones), so nobody in Los Angeles is called at 7 am because it is 10 in New
York. ``zoneinfo`` (with the ``tzdata`` package) handles summer time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ISO 3166-1 alpha-2 -> the zones where most people live. Operators add or override countries
# with outbound.time_zones.
COUNTRY_ZONES: dict[str, tuple[str, ...]] = {
    "GB": ("Europe/London",), "IE": ("Europe/Dublin",), "DE": ("Europe/Berlin",), "AT": ("Europe/Vienna",), "CH": ("Europe/Zurich",),
    "FR": ("Europe/Paris",), "BE": ("Europe/Brussels",), "NL": ("Europe/Amsterdam",), "LU": ("Europe/Luxembourg",), "ES": ("Europe/Madrid",),
    "PT": ("Europe/Lisbon",), "IT": ("Europe/Rome",), "PL": ("Europe/Warsaw",), "CZ": ("Europe/Prague",), "SE": ("Europe/Stockholm",),
    "NO": ("Europe/Oslo",), "DK": ("Europe/Copenhagen",), "FI": ("Europe/Helsinki",), "GR": ("Europe/Athens",), "RO": ("Europe/Bucharest",),
    "HU": ("Europe/Budapest",), "UA": ("Europe/Kyiv",), "TR": ("Europe/Istanbul",), "IL": ("Asia/Jerusalem",),
    "RU": ("Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk"),
    "US": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    "CA": ("America/Toronto", "America/Winnipeg", "America/Edmonton", "America/Vancouver"),
    "MX": ("America/Mexico_City", "America/Tijuana"), "BR": ("America/Sao_Paulo", "America/Manaus"), "AR": ("America/Argentina/Buenos_Aires",),
    "CL": ("America/Santiago",), "CO": ("America/Bogota",), "PE": ("America/Lima",),
    "CN": ("Asia/Shanghai",), "HK": ("Asia/Hong_Kong",), "TW": ("Asia/Taipei",), "JP": ("Asia/Tokyo",), "KR": ("Asia/Seoul",),
    "IN": ("Asia/Kolkata",), "SG": ("Asia/Singapore",), "MY": ("Asia/Kuala_Lumpur",), "TH": ("Asia/Bangkok",), "VN": ("Asia/Ho_Chi_Minh",),
    "PH": ("Asia/Manila",), "ID": ("Asia/Jakarta", "Asia/Makassar"), "AE": ("Asia/Dubai",), "SA": ("Asia/Riyadh",), "QA": ("Asia/Qatar",),
    "EG": ("Africa/Cairo",), "MA": ("Africa/Casablanca",), "ZA": ("Africa/Johannesburg",), "NG": ("Africa/Lagos",), "KE": ("Africa/Nairobi",),
    "AU": ("Australia/Sydney", "Australia/Brisbane", "Australia/Adelaide", "Australia/Perth"), "NZ": ("Pacific/Auckland",),
}  # fmt: skip

STEP_S = 300  # the next allowed moment is found to the next 5 minutes
HORIZON_S = 8 * 86400  # a week and a day covers every day-of-week rule


class UnknownCountry(ValueError):
    """No time zone is known for a country: the customer is not called (rather than at night)."""


def zones_for(country: str, overrides: Mapping[str, Iterable[str]] | None = None) -> tuple[ZoneInfo, ...]:
    code = (country or "").strip().upper()
    names = tuple((overrides or {}).get(code) or COUNTRY_ZONES.get(code) or ())
    if not names:
        raise UnknownCountry(f"no time zone known for country {country!r}: add it to outbound.time_zones, e.g. {{{code or 'XX'}: [Europe/Paris]}}")
    try:
        return tuple(ZoneInfo(n) for n in names)
    except ZoneInfoNotFoundError as exc:
        raise UnknownCountry(f"unknown time zone in outbound.time_zones for {code}: {exc}") from exc


def is_daytime(at: float, zones: tuple[ZoneInfo, ...], hours: tuple[int, int], days: tuple[int, ...]) -> bool:
    """True when UNIX time ``at`` is within ``hours`` (start included, end excluded) on one of ``days``
    in every zone."""
    start, end = hours
    for zone in zones:
        local = datetime.fromtimestamp(at, UTC).astimezone(zone)
        minutes = local.hour * 60 + local.minute
        if local.weekday() not in days or not (start * 60 <= minutes < end * 60):
            return False
    return True


def next_daytime(at: float, zones: tuple[ZoneInfo, ...], hours: tuple[int, int], days: tuple[int, ...]) -> float | None:
    """The first moment at or after ``at`` that is daytime everywhere (to the next 5 minutes),
    or None when there is none within 8 days (hours that never overlap across the zones)."""
    if is_daytime(at, zones, hours, days):
        return at
    t = (int(at) // STEP_S + 1) * STEP_S
    while t <= at + HORIZON_S:
        if is_daytime(t, zones, hours, days):
            return float(t)
        t += STEP_S
    return None


def local_time(at: float, zone: ZoneInfo) -> str:
    """``2026-12-07 09:00 Europe/Paris`` (for the supervisor page and the CLI)."""
    return f"{datetime.fromtimestamp(at, UTC).astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"
