"""A small site with a record in every state a form acts on, built through the real services.

Used by the form fuzzer and the CSRF walk: every route argument gets a real id here (`values`),
and `forged` gives, for routes that name a lot and one of its records, a record of another lot.

Lots (SHORT-TEST template and specification):
- A: in progress; UP1 done, UP2.OP1.S1 (decimals) is the step to record now; an entry to
  correct; a deviation under investigation and one just opened;
- A2: in progress; UP1.OP1.S2 performed, awaiting verification;
- B: executed, QC results entered (one awaiting review), an audit trail CSV document;
- C: executed, QC passed, under QA review (release, reject, sign review act on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.batches import services as batches
from app.batches.simulate import Autopilot
from app.deviations import services as deviations
from app.documents.services import export_audit_trail
from app.inventory.models import MaterialLot
from app.mbr import services as definitions
from app.mbr.models import TemplateVersion
from app.mbr.schema import parse_template
from app.qc.models import SpecVersion
from app.qc.spec_schema import parse_spec
from app.release import services as release
from tests.conftest import PASSWORD
from tests.hardening.conftest import cheap_documents, ready_user
from tests.lot_fixtures import SHORT, add_stock, creds, make_effective, train
from tests.qc.conftest import SHORT_SPEC, Lab, store_effective

ROLES = ("operator", "operator2", "supervisor", "qc_analyst", "qc_analyst2", "qa", "qa2", "auditor", "admin")


@dataclass
class World:
    users: dict[str, Any]  # key -> User (key: a role name, or operator2, qc_analyst2, qa2, target, ...)
    usernames: dict[str, str]
    user_ids: dict[str, int]
    values: dict[str, dict[str, Any]]  # blueprint -> route argument -> real value
    forged: dict[str, dict[str, Any]]  # endpoint -> the arguments naming another lot's record
    step_inputs: dict[str, str] = field(default_factory=dict)  # batches.record form field -> valid value
    definition_text: str = ""
    spec_text: str = ""


def _user(session: Session, key: str) -> Any:
    role = key.rstrip("2") if key not in ("target", "changer") else "operator"
    return ready_user(session, f"fz.{key}", role, full_name=f"Fuzz {key.title()}")


def build_world(session: Session) -> World:
    with cheap_documents():
        return _build(session)


def _build(session: Session) -> World:
    users = {key: _user(session, key) for key in (*ROLES, "target", "changer")}
    template = make_effective(session, SHORT)
    spec = store_effective(session, SpecVersion, SHORT_SPEC)
    stock = add_stock(session)
    for key in ("operator", "operator2", "supervisor"):
        train(session, users[key], template.code)
    session.commit()
    pilot = Autopilot(session, users["operator"], users["operator2"], PASSWORD, lambda _moment: None)

    lot_a = batches.start_lot(session, users["supervisor"], template, "WCB-0042 vial 7", "{product}-{yyyy}-{seq:04d}")
    session.commit()
    pilot.run(lot_a, steps=3)
    step_now = next(s for s in lot_a.steps if s.step_code == "UP2.OP1.S1")
    entry = lot_a.steps[0].current_entries[0]
    investigated = deviations.raise_manual(session, users["supervisor"], lot_a.id, "procedural", "minor",
                                           "Door left open", "Closed at once.")  # fmt: skip
    deviations.record_investigation(session, users["qa"], investigated, "Worn latch", "None", "CAPA-1")
    opened = deviations.raise_manual(session, users["operator"], lot_a.id, "equipment", "major",
                                     "Counter error", "Count repeated.")  # fmt: skip
    session.commit()

    lot_a2 = batches.start_lot(session, users["supervisor"], template, "WCB-0042 vial 8", "{product}-{yyyy}-{seq:04d}")
    session.commit()
    pilot.run(lot_a2, steps=1)
    awaiting = next(s for s in lot_a2.steps if s.step_code == "UP1.OP1.S2")
    definition = lot_a2.template_version.definition
    batches.record_and_sign(session, users["operator"], awaiting,
                            {i.name: pilot.value_for(definition, definition.step(awaiting.step_code), i)
                             for i in definition.step(awaiting.step_code).inputs},
                            awaiting.version_id, creds(users["operator"]))  # fmt: skip
    session.commit()

    lab = Lab(session, users["operator"], users["operator2"], users["qc_analyst"], users["qc_analyst2"],
              users["qa"], users["qa2"], template, spec)  # fmt: skip
    lot_b = lab.lot()
    result = lab.enter(lot_b, "VIABILITY", "95.0")
    document = export_audit_trail(session, users["qa"], lot_b, "csv")
    session.commit()
    lot_c = lab.lot()
    lab.pass_qc(lot_c)
    release.start_review(session, users["qa"], lot_c)
    session.commit()

    draft_text = SHORT.read_text().replace("title: Short test process", "title: Short test process, draft 2")
    draft, _ = definitions.load_upload(session, TemplateVersion, parse_template, draft_text.encode(),
                                       "SHORT-TEST.v1.yaml", users["supervisor"])  # fmt: skip
    spec_text = SHORT_SPEC.read_text().replace("title:", "title: Draft 2 of", 1)
    spec_draft, _ = definitions.load_upload(session, SpecVersion, parse_spec, spec_text.encode(),
                                            "SHORT-TEST.v1.yaml", users["qc_analyst"])  # fmt: skip
    training = train(session, users["operator2"], "OTHER-CODE")
    session.commit()

    step_def = definition.step(step_now.step_code)
    step_inputs = {}
    for item in step_def.inputs:
        value = pilot.value_for(definition, step_def, item)
        step_inputs[f"in_{item.name}"] = value.value
        if value.quantity is not None:
            step_inputs[f"in_{item.name}__qty"] = value.quantity
    quarantined: MaterialLot = stock["MED-Q"]
    values = {
        "auth": {"user_id": users["target"].id},
        "batches": {"lot_id": lot_a.id, "step_id": step_now.id, "entry_id": entry.id},
        "batches.verify": {"lot_id": lot_a2.id, "step_id": awaiting.id},
        "deviations": {"deviation_id": opened.id},
        "deviations.close": {"deviation_id": investigated.id},
        "documents": {"lot_id": lot_b.id, "document_id": document.id, "fmt": "csv",
                      "public_id": document.public_id, "sha256": document.sha256},
        "inventory": {"lot_id": quarantined.id, "equipment_id": stock["BSC-01"].id},
        "mbr": {"version_id": draft.id},
        "qc": {"version_id": spec_draft.id},
        "qc_results": {"lot_id": lot_b.id, "result_id": result.id, "test_code": "STERILITY"},
        "release": {"lot_id": lot_c.id},
        "training": {"record_id": training.id},
    }  # fmt: skip
    other_step = next(s for s in lot_b.steps if s.step_code == "UP2.OP1.S1")
    forged = {
        "batches.step": {"lot_id": lot_a.id, "step_id": other_step.id},
        "batches.record": {"lot_id": lot_a.id, "step_id": other_step.id},
        "batches.verify": {"lot_id": lot_a2.id, "step_id": other_step.id},
        "qc_results.review": {"lot_id": lot_c.id, "result_id": result.id},
        "qc_results.retest": {"lot_id": lot_c.id, "result_id": result.id},
    }
    return World(users=users, usernames={k: u.username for k, u in users.items()},
                 user_ids={k: u.id for k, u in users.items()}, values=values, forged=forged,
                 step_inputs=step_inputs, definition_text=draft_text, spec_text=spec_text)  # fmt: skip


def route_values(world: World, endpoint: str, names: list[str]) -> dict[str, Any]:
    """Real values for a route's arguments: the endpoint's own, else its blueprint's."""
    blueprint = endpoint.split(".")[0]
    own, shared = world.values.get(endpoint, {}), world.values.get(blueprint, {})
    return {name: own.get(name, shared.get(name)) for name in names}
