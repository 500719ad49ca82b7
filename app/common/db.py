"""The one transaction boundary, and engine settings that make it safe on both engines."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.common.errors import ConcurrentChange, RuleViolation

log = logging.getLogger(__name__)


def configure_engine(engine: Engine) -> None:
    """Make SQLite transactional enough for a GMP record (PostgreSQL needs nothing here)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's implicit BEGIN is disabled so we emit our own, below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # BEGIN IMMEDIATE takes the write lock at the start: a transaction never reads the
        # audit chain head and then loses the race to write after it (no forked chain).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def finish_refusal(session: Session, exc: RuleViolation) -> None:
    """After a refused action rolled back, keep what the refusal itself must record."""
    if not exc.after_rollback:
        return
    try:
        for work in exc.after_rollback:
            work(session)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("could not record the refusal of: %s", exc.message)
        raise


#: session.info key of the work queued by `after_commit`.
_AFTER_COMMIT = "cellbatch.after_commit"


def after_commit(session: Session, work: Callable[[Session], None]) -> None:
    """Run `work(session)` once the current transaction has committed; never if it rolls back.

    For slow consequences of a committed decision (rendering a lot's documents) that must not
    run inside it: that transaction holds the audit chain's lock, and every audit write on the
    site would wait for it. `work` opens its own transactions and must be safe to run again
    later (after a crash it has to be done by hand; see `flask documents render-pending`).
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(work)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_commit(session: Session, previous_transaction) -> None:  # type: ignore[no-untyped-def]
    if not previous_transaction.nested:  # a savepoint's rollback leaves the outer work queued
        session.info.pop(_AFTER_COMMIT, None)


def commit(session: Session) -> None:
    """Commit, then run what the transaction queued with `after_commit`, in order. A failure of
    that work is logged and does not undo the commit: the work stays visibly undone."""
    session.commit()
    for work in session.info.pop(_AFTER_COMMIT, []):
        try:
            work(session)
        except Exception:
            session.rollback()
            log.exception("work queued after a commit failed and is left undone: %r", work)


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit everything done inside, or nothing (CLI and tests; requests use the wrapper)."""
    try:
        yield session
        commit(session)
    except RuleViolation as exc:
        session.rollback()
        finish_refusal(session, exc)
        raise
    except BaseException:
        session.rollback()
        raise


def lock_row(session: Session, record: object) -> None:
    """Re-read a record under a row lock before checking it and then writing it.

    PostgreSQL: SELECT ... FOR UPDATE, so a second transaction doing the same check waits for the
    first to end and then sees what it wrote (no double sign-off, no overwritten first entry).
    SQLite: its BEGIN IMMEDIATE already serializes writing transactions; this only re-reads.
    """
    mapper = inspect(record).mapper
    key = mapper.primary_key_from_instance(record)
    # Lock by primary key alone: a FOR UPDATE over the model's eager (outer) joins is refused.
    where = [column == value for column, value in zip(mapper.primary_key, key, strict=True)]
    session.execute(select(*mapper.primary_key).where(*where).with_for_update())
    session.refresh(record)


@contextmanager
def refuse_concurrent(message: str, *constraints: str) -> Iterator[None]:
    """Turn a lost race (stale version, or one of these unique constraints) into ConcurrentChange.

    `constraints` are the names (or "table.column" as SQLite reports them) of the unique
    constraints that serialize the action; any other integrity error is a bug and propagates.
    """
    try:
        yield
    except StaleDataError:
        raise ConcurrentChange(message) from None
    except IntegrityError as exc:
        if not any(name in str(exc.orig) for name in constraints):
            raise
        raise ConcurrentChange(message) from None
