"""A lot's manufacture and expiry dates: one rule for the CoA, the batch record and the label.

Manufactured on: the site's calendar day on which execution completed (the last step signed).
Expires on: that day plus the product's shelf life (CELLBATCH_SHELF_LIFE_MONTHS, per master
batch record code), clamped to the month's last day (31 Jan + 1 month = 28/29 Feb).
"""

from __future__ import annotations

import calendar
from datetime import date

from flask import current_app

from app.batches.models import Lot
from app.common.timeutil import site_zone


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def manufactured_on(lot: Lot) -> date | None:
    return lot.executed_at.astimezone(site_zone()).date() if lot.executed_at is not None else None


def shelf_life_months(lot: Lot) -> int | None:
    """The site's shelf life of the lot's product in months; None when the site set none."""
    months = current_app.config.get("SHELF_LIFE_MONTHS", {}).get(lot.template_version.code)
    return int(months) if months else None


def expiry_date(lot: Lot) -> date | None:
    """None until execution completes, or when the product has no shelf life set."""
    made, months = manufactured_on(lot), shelf_life_months(lot)
    return add_months(made, months) if made is not None and months is not None else None
