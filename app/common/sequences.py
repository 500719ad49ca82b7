"""Gapless yearly number sequences (lot numbers, deviation numbers), safe across workers."""

from __future__ import annotations

from sqlalchemy import String, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db


class NumberSequence(db.Model):
    """The last number used per sequence name and year; not GMP data itself (no audit)."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


def next_number(session: Session, name: str, year: int) -> int:
    """Take the next number; the row lock (SQLite: the write lock) serializes concurrent takers."""
    connection = session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = NumberSequence.__table__
    connection.execute(insert(table).values(name=name, year=year, last=0).on_conflict_do_nothing())
    # UPDATE first: it takes the row lock before reading, so two workers never get one number.
    connection.execute(
        update(table).where(table.c.name == name, table.c.year == year).values(last=table.c.last + 1)
    )
    return connection.execute(
        select(table.c.last).where(table.c.name == name, table.c.year == year)
    ).scalar_one()
