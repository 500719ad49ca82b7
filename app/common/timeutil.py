"""UTC time for storage, the site's zone for display."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """Now, timezone-aware UTC (the server's clock is the only clock, 21 CFR 11.10(e))."""
    return datetime.now(UTC)


def site_zone() -> ZoneInfo:
    """The configured site time zone."""
    name = current_app.config["SITE_TIMEZONE"] if has_app_context() else "UTC"
    return ZoneInfo(name)


def format_site(value: datetime | None, with_seconds: bool = True) -> str:
    """Format a UTC time in the site's zone, zone shown: 2026-11-25 13:04:05 CET."""
    if value is None:
        return ""
    fmt = "%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z"
    return value.astimezone(site_zone()).strftime(fmt)


def format_utc(value: datetime | None) -> str:
    """ISO-8601 UTC with a Z, for machine-readable exports and hashes."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def site_today() -> date:
    """Today's date at the site (expiry, calibration and training are by local calendar day)."""
    return utcnow().astimezone(site_zone()).date()
