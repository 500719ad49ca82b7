"""Training on master batch records: recorded by supervisors or QA, checked before every step.

21 CFR 211.25 and 11.10(i): a user executes or verifies a step only while trained on the
procedure (by template code, across its versions). `expires_on` is the last day the training
counts, in the site's calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth.models import User
from app.auth.permissions import require_roles
from app.auth.roles import NON_SIGNING_ROLES, QA, SUPERVISOR
from app.auth.services import find_user
from app.common.checks import require_reason
from app.common.errors import NotFound, RuleViolation
from app.common.timeutil import site_today, site_zone, utcnow
from app.mbr.models import TemplateVersion
from app.training.models import TrainingRecord

TRAINERS = (SUPERVISOR, QA)


def template_codes(session: Session) -> list[str]:
    """Codes of every loaded master batch record (training covers a procedure, not one version)."""
    return list(session.scalars(select(TemplateVersion.code).distinct().order_by(TemplateVersion.code)))


def trainable_users(session: Session) -> list[User]:
    """Active users who may execute or verify steps (administrators and auditors never do)."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    return [u for u in users if u.role_set - NON_SIGNING_ROLES]


def record_training(
    session: Session, recorder: User, user: User, template_code: str, trained_on: date, expires_on: date
) -> TrainingRecord:
    """Record that `user` was trained on `template_code` from `trained_on` until `expires_on`."""
    require_roles(recorder, TRAINERS, "record training")
    if recorder.id == user.id:
        raise RuleViolation("Nobody records their own training; ask another supervisor or QA.")
    if not user.active or not user.role_set - NON_SIGNING_ROLES:
        raise RuleViolation(f"{user.display_name} is deactivated or never executes steps (admin, auditor).")
    if template_code not in template_codes(session):
        raise RuleViolation(f"No master batch record {template_code!r} is loaded.", status=400)
    if trained_on is None or expires_on is None or expires_on <= trained_on:
        raise RuleViolation("The training must expire after the day it was given.", status=400)
    if trained_on > site_today():
        raise RuleViolation("Training is recorded after it took place, not in advance.", status=400)
    record = TrainingRecord(user_id=user.id, template_code=template_code, trained_on=trained_on,
                            expires_on=expires_on, recorded_by_id=recorder.id)  # fmt: skip
    with audit.action(session, "training.recorded", Actor.of(recorder)):
        session.add(record)
    return record


def revoke(session: Session, recorder: User, record: TrainingRecord, reason: str) -> None:
    """Withdraw a training record (e.g. recorded by mistake, retraining required); never deleted."""
    require_roles(recorder, TRAINERS, "revoke training")
    why = require_reason(reason, "revoke a training record")
    if record.revoked_at is not None:
        raise RuleViolation("This training record is already revoked.")
    with audit.action(session, "training.revoked", Actor.of(recorder), reason=why):
        record.revoked_at = utcnow()


def get_record(session: Session, record_id: int) -> TrainingRecord:
    record = session.get(TrainingRecord, record_id)
    if record is None:
        raise NotFound("No such training record.")
    return record


def records_of(session: Session, user: User, template_code: str) -> list[TrainingRecord]:
    """A user's records on one procedure, latest expiry first."""
    query = select(TrainingRecord).where(TrainingRecord.user_id == user.id,
                                         TrainingRecord.template_code == template_code)  # fmt: skip
    return list(session.scalars(query.order_by(TrainingRecord.expires_on.desc(), TrainingRecord.id.desc())))


def current_training(session: Session, user: User, template_code: str, today: date) -> TrainingRecord | None:
    """The record that makes `user` trained on `template_code` today, if any."""
    return next((r for r in records_of(session, user, template_code) if r.valid_on(today)), None)


def require_training(session: Session, user: User, template_code: str, today: date) -> TrainingRecord:
    """Refuse, saying why, unless `user` is trained on `template_code` today."""
    record = current_training(session, user, template_code, today)
    if record is not None:
        return record
    latest = next(iter(records_of(session, user, template_code)), None)
    why = ""
    if latest is not None and latest.revoked_at is not None:
        why = f" (training revoked on {latest.revoked_at.astimezone(site_zone()).date().isoformat()})"
    elif latest is not None and latest.expired_on(today):
        why = f" (training expired on {latest.expires_on.isoformat()})"
    elif latest is not None:
        why = f" (training counts from {latest.trained_on.isoformat()})"
    raise RuleViolation(f"{user.display_name} is not trained on {template_code}{why}.")


@dataclass(frozen=True)
class TrainingRow:
    record: TrainingRecord
    trainee: User
    recorder: User


def list_records(session: Session, user_id: int | None = None, template_code: str | None = None) -> list[TrainingRow]:
    """Records with trainee and recorder, filtered, by trainee and procedure, latest expiry first."""
    trainee, recorder = aliased(User), aliased(User)
    query = (select(TrainingRecord, trainee, recorder)
             .join(trainee, trainee.id == TrainingRecord.user_id)
             .join(recorder, recorder.id == TrainingRecord.recorded_by_id)
             .order_by(trainee.username, TrainingRecord.template_code, TrainingRecord.expires_on.desc()))  # fmt: skip
    if user_id:
        query = query.where(TrainingRecord.user_id == user_id)
    if template_code:
        query = query.where(TrainingRecord.template_code == template_code)
    return [TrainingRow(*row) for row in session.execute(query)]


def seed_demo_training(
    session: Session, recorder_user: User, usernames: Iterable[str], template_codes: Iterable[str]
) -> None:
    """Development demo: train each user on each procedure for a year (idempotent)."""
    today = site_today()
    codes = list(template_codes)
    for username in usernames:
        user = find_user(session, username)
        if user is None:
            raise RuleViolation(f"No user {username!r} to train.")
        for code in codes:
            if current_training(session, user, code, today) is None:
                record_training(session, recorder_user, user, code, today.replace(day=1),
                                today.replace(day=1).replace(year=today.year + 1))  # fmt: skip
