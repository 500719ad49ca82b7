"""The auditor portal's lot search: number, product, status and start date range, paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, lazyload

from app.batches.models import Lot, LotStatus
from app.common.timeutil import site_zone
from app.documents.models import Document


@dataclass(frozen=True)
class LotQuery:
    number: str | None = None
    product: str | None = None
    status: LotStatus | None = None
    started_from: date | None = None
    started_to: date | None = None


@dataclass(frozen=True)
class LotPage:
    lots: list[Lot]
    documents: dict[int, int]  #: document count per lot id
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=site_zone())


def _filtered(q: LotQuery) -> Select:
    # A result row shows the lot, never its steps: without this, Lot.steps (selectin) loaded every
    # step and entry of the 25 lots listed (6,700 entries for XS411 lots; benchmarks, issue #10).
    query = select(Lot).options(lazyload(Lot.steps))
    if q.number:
        query = query.where(Lot.lot_number.icontains(q.number.strip(), autoescape=True))
    if q.product:
        query = query.where(Lot.product == q.product)
    if q.status:
        query = query.where(Lot.status == q.status)
    if q.started_from:
        query = query.where(Lot.started_at >= _day_start(q.started_from))
    if q.started_to:
        query = query.where(Lot.started_at < _day_start(q.started_to + timedelta(days=1)))
    return query


def search_lots(session: Session, q: LotQuery, page: int = 1, per_page: int = 25) -> LotPage:
    """One page of matching lots, most recently started first."""
    page = max(1, page)
    query = _filtered(q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    lots = list(session.scalars(query.order_by(Lot.started_at.desc(), Lot.id.desc())
                                .offset((page - 1) * per_page).limit(per_page)))  # fmt: skip
    ids = [lot.id for lot in lots]
    counts = dict(session.execute(select(Document.lot_id, func.count()).where(Document.lot_id.in_(ids))
                                  .group_by(Document.lot_id)).all()) if ids else {}  # fmt: skip
    return LotPage(lots, counts, page, per_page, total)


def products(session: Session) -> list[str]:
    return list(session.scalars(select(Lot.product).distinct().order_by(Lot.product)))
