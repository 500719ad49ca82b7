"""Prepare the browser tests' instance: a fresh demo site and one XS411-DA-NPC lot.

Run as `python -m tests.e2e.prepare` with CELLBATCH_INSTANCE_PATH set to an empty folder.
Everything happens through the real services with the demo users' real signatures, on a
simulated clock (freezegun) that ends a few minutes before the real now:

- `flask init` and `flask seed-demo --no-lots` about three weeks ago;
- a lot started by sup.sam, every step except unit procedure UP7 executed by the
  Autopilot (op.olivia performs, op.oscar verifies), timed so that UP7 is due right now;
- 14 of the 16 QC results entered by qc.quinn and reviewed by qc.ravi.

The browser test then drives what the issue names: UP7 end to end, the action limit and its
deviation, verification, the last two QC results, QA review, release and the auditor.
Prints the lot id and lot number as JSON on its last line.
"""

from __future__ import annotations

import json
from datetime import timedelta

from freezegun import freeze_time

from app import create_app
from app.auth import passwords
from app.auth.services import find_user
from app.batches.services import available_steps, start_lot
from app.batches.simulate import Autopilot
from app.common.timeutil import site_today, utcnow
from app.demo import qc_value
from app.extensions import db
from app.mbr.models import TemplateVersion
from app.mbr.services import effective_version
from app.qc import services as qc
from app.signatures.services import Credentials

CODE = "XS411-DA-NPC"
BROWSER_UP = "UP7"  # the last unit procedure: executed in the browser
BROWSER_QC = ("STERILITY", "ENDOTOXIN")  # entered and reviewed in the browser
PASSWORD = "cellbatch-demo-2026"  # noqa: S105 - the documented demo password


def _minutes_until_browser(definition) -> tuple[float, float]:
    """Estimated minutes from the lot's start to UP6.OP1.S1, and from there to the end of UP6 and UP8."""
    done: dict[str, float] = {}
    now = before = 0.0
    for unit in definition.unit_procedures:
        if unit.code == BROWSER_UP:
            continue
        for operation in unit.operations:
            for step in operation.steps:
                now = max([now + 5] + [done[w.after] + w.min_minutes + 0.5 for w in step.hold
                                       if w.min_minutes and w.after in done])  # fmt: skip
                before = now if step.code == "UP6.OP1.S1" else before
                now += 2 if step.critical else 0
                done[step.code] = now
    return before, now - before


def main() -> None:
    app = create_app()
    # Cheap argon2id hashes for the demo users of this throwaway instance (as TestConfig does):
    # a hash carries its parameters, so the server's signatures check fast too.
    passwords.configure(1, 1024)
    real_now = utcnow()
    runner = app.test_cli_runner()
    # Sizes of the timeline, from the template file (nothing is stored yet).
    from pathlib import Path

    from app.mbr.schema import parse_template

    path = Path(__file__).resolve().parents[2] / "batch_templates" / f"{CODE}.v1.yaml"
    definition = parse_template(path.read_text(), path.name)
    before, during = _minutes_until_browser(definition)
    # UP6 and UP8 end about 5 minutes before the real now, so UP7's holds (at most 30 minutes
    # after UP6.OP3.S4) are met in the browser.
    up6_start = real_now - timedelta(minutes=during + 3)
    origin = up6_start - timedelta(minutes=before)
    with freeze_time(origin - timedelta(hours=2), tick=True) as frozen:
        for args in (["init"], ["seed-demo", "--no-lots"]):
            result = runner.invoke(args=args)
            if result.exit_code != 0:
                raise SystemExit(f"flask {' '.join(args)} failed:\n{result.output}")
        with app.app_context():
            session = db.session
            people = {n: find_user(session, n) for n in ("sup.sam", "op.olivia", "op.oscar", "qc.quinn", "qc.ravi")}
            frozen.move_to(origin)
            version = effective_version(session, TemplateVersion, CODE)
            lot = start_lot(session, people["sup.sam"], version, "WCB-XS411-0007 vial 9",
                            app.config["LOT_NUMBER_PATTERN"])  # fmt: skip
            session.commit()
            pilot = Autopilot(session, people["op.olivia"], people["op.oscar"], PASSWORD, frozen.move_to)

            def next_step():
                todo = [s for s in available_steps(lot) if not s.step_code.startswith(BROWSER_UP + ".")]
                # UP8 (parallel) first, so UP6's last step ends just before the browser's UP7.
                return min(todo, key=lambda s: not s.step_code.startswith("UP8.")) if todo else None

            while (record := next_step()) is not None:
                if record.step_code == "UP6.OP1.S1":
                    frozen.move_to(max(utcnow(), up6_start - timedelta(minutes=5)))
                pilot.do_step(lot, record)
                session.commit()
            # QC: all but the browser's tests, entered and reviewed by two analysts.
            spec = qc.spec_for_lot(session, lot)
            reviewer = people["qc.ravi"]
            for number, test in enumerate(spec.definition.tests, start=1):
                if test.code in BROWSER_QC:
                    continue
                data = qc.ResultInput(test.code, f"{lot.lot_number}-QC{number:02d}", test.method, "QC-LAB-01",
                                      site_today(), qc_value(test))  # fmt: skip
                result = qc.enter_result(session, people["qc.quinn"], lot, data)
                qc.review_result(session, reviewer, result,
                                 Credentials(PASSWORD, reviewer.username, True, True, "127.0.0.1"))  # fmt: skip
            session.commit()
            ended = utcnow()
            print(json.dumps({"lot_id": lot.id, "lot_number": lot.lot_number,
                              "minutes_before_now": round((real_now - ended).total_seconds() / 60, 1)}))  # fmt: skip
            db.engine.dispose()


if __name__ == "__main__":
    main()
