"""Two people saving the same step at once: one wins, the other is told, nothing is lost silently."""

import pytest
from sqlalchemy import select

from app.auth import services as users
from app.auth.policy import AccountPolicy
from app.batches import services
from app.batches.models import Entry, StepRecord
from app.batches.services import StepInput
from app.common.errors import ConcurrentChange
from app.extensions import db as _db
from tests.batches.conftest import SHORT, add_stock, make_effective, train
from tests.conftest import PASSWORD, run_in_threads

pytestmark = pytest.mark.req("URS-EXE-013", "URS-DAT-002")


@pytest.mark.postgres
def test_concurrent_saves_of_one_step_one_wins_one_gets_a_conflict(committing_app):
    with committing_app.app_context():
        session = _db.session
        template = make_effective(session, SHORT)
        add_stock(session)
        people = [users.create_user(session, None, name, name.title(), [role], PASSWORD, AccountPolicy())
                  for name, role in (("sup", "supervisor"), ("ana", "operator"), ("ben", "operator"))]  # fmt: skip
        for person in people:
            train(session, person, template.code)
        lot = services.start_lot(session, people[0], template, "WCB-1", "{product}-{seq:04d}")
        session.commit()
        step_id, version, operator_ids = lot.steps[0].id, lot.steps[0].version_id, [people[1].id, people[2].id]

    def save(i: int) -> str:
        session = _db.session
        step = session.get(StepRecord, step_id)
        user = session.get(type(people[0]), operator_ids[i])
        services.save_entries(session, user, step, {"line_clear": StepInput("yes" if i else "no",
                                                                            comment="checked")}, version)  # fmt: skip
        session.commit()
        return "saved"

    outcomes = run_in_threads(committing_app, save)
    assert sorted(type(o).__name__ if isinstance(o, Exception) else o for o in outcomes) == [
        "ConcurrentChange", "saved"]
    loser = next(o for o in outcomes if isinstance(o, ConcurrentChange))
    assert "changed by someone else" in loser.message
    with committing_app.app_context():
        entries = _db.session.scalars(select(Entry).where(Entry.step_record_id == step_id)).all()
        assert len(entries) == 1  # exactly the winner's value; the loser's was refused, not merged
