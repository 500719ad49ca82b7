"""Seeding bench databases through the real services: users, definitions, training, stock.

Only what a benchmark needs and always through the application's own rules (audit actions,
the signing ceremony for approvals), so the data is what production would hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from app.audit import capture as audit
from app.audit.capture import Actor
from app.auth import services as users_service
from app.auth.models import User
from app.auth.policy import AccountPolicy
from app.common.timeutil import site_today, utcnow
from app.inventory.models import Equipment, MaterialLot, MaterialStatus
from app.mbr import services as definitions
from app.mbr.models import TemplateVersion
from app.mbr.schema import parse_template
from app.mbr.versioning import DefinitionStatus
from app.qc.models import SpecVersion
from app.qc.spec_schema import parse_spec
from app.signatures.services import Credentials
from app.training.services import record_training
from benchmarks.common import PASSWORD, ROOT

SEEDER = Actor.system("benchmark seed")
SHORT_DIR = ROOT / "tests" / "data" / "templates"
SHIPPED_TEMPLATES = ROOT / "batch_templates"
SHIPPED_SPECS = ROOT / "qc_specs"
#: argon2id parameters of the seeded accounts: the library default (production) or the test suite's.
HASHERS = {
    "production": PasswordHasher(),
    "cheap": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}


@contextmanager
def account_hashing(kind: str) -> Iterator[None]:
    """Create accounts with one precomputed hash of PASSWORD (bench accounts only: same password)."""
    digest = HASHERS[kind].hash(PASSWORD)
    original = users_service.hash_password
    users_service.hash_password = lambda _password: digest
    try:
        yield
    finally:
        users_service.hash_password = original


def make_user(session: Session, username: str, full_name: str, roles: list[str]) -> User:
    user = users_service.create_user(session, None, username, full_name, roles, PASSWORD, AccountPolicy())
    with audit.action(session, "user.bench_seeded", SEEDER):
        user.must_change_password = False
    return user


def credentials(user: User) -> Credentials:
    return Credentials(PASSWORD, user.username, True, True, "127.0.0.1")


def make_effective(session: Session, qa: User, model: type, parse: Any, directory: Path, code: str) -> Any:
    """Load a definition file, approve it with QA's e-signature and make it Effective (real lifecycle)."""
    results = definitions.load_directory(session, model, parse, directory, None)
    row = next(r.row for r in results if r.row is not None and r.row.code == code)
    if row.status == DefinitionStatus.DRAFT:
        definitions.approve(session, qa, row, credentials(qa), "Benchmark data")
    if row.status == DefinitionStatus.APPROVED:
        definitions.make_effective(session, qa, row, None, "Benchmark data")
    return row


def effective_template(session: Session, qa: User, code: str, directory: Path = SHIPPED_TEMPLATES) -> TemplateVersion:
    return make_effective(session, qa, TemplateVersion, parse_template, directory, code)


def effective_spec(session: Session, qa: User, product: str) -> SpecVersion:
    results = definitions.load_directory(session, SpecVersion, parse_spec, SHIPPED_SPECS, None)
    code = next(r.row.code for r in results if r.row is not None and r.row.product == product)
    return make_effective(session, qa, SpecVersion, parse_spec, SHIPPED_SPECS, code)


def train(session: Session, trainer: User, user: User, code: str) -> None:
    record_training(session, trainer, user, code, site_today() - timedelta(days=1), site_today() + timedelta(days=365))


def material(
    session: Session, lot_code: str, item_code: str, quantity: Decimal | None = None, unit: str = "unit"
) -> MaterialLot:
    row = MaterialLot(
        lot_code=lot_code,
        item_code=item_code,
        name=item_code,
        supplier="Bench supplier",
        supplier_lot=f"S-{lot_code}",
        status=MaterialStatus.RELEASED,
        unit=unit,
        expiry_date=site_today() + timedelta(days=365),
        quantity_on_hand=quantity,
        received_at=utcnow(),
    )
    with audit.action(session, "material.received", SEEDER):
        session.add(row)
    return row


def equipment(session: Session, code: str, type_code: str) -> Equipment:
    row = Equipment(code=code, type_code=type_code, name=type_code, calibration_due=site_today() + timedelta(days=365))
    with audit.action(session, "equipment.registered", SEEDER):
        session.add(row)
    return row
