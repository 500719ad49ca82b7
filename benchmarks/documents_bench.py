"""Scenario 3: rendering the documents of a whole XS411-DA-NPC lot, and downloading stored ones.

A lot is executed to the end through the real services (Autopilot: every step recorded and
signed, critical steps verified), every QC test of the XS411 specification is entered and
reviewed, QA reviews and releases it: the disposition hook renders and stores the CoA, the
executed batch record and the audit trail PDF. Then, with the site's (development) signing key
configured as production would have one, it times:
  - the certificate of analysis and the executed batch record: data + HTML + PDF/A-3b with the
    JSON attachment + PAdES signature (what the hook does), and each phase on its own;
  - floors in the same process: WeasyPrint rendering a minimal one-page document, and a plain
    HTML table of the same rows as the batch record (one row per entry, one per signature);
  - the download of stored documents (small and large) through the real route, as an auditor.

Run: python -m benchmarks.documents_bench --out FILE [--size small|full]
"""

from __future__ import annotations

import gc
import io
import os
import tempfile
import time
import warnings
from datetime import timedelta
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from benchmarks.common import PASSWORD, database, latency_stats, log, make_app, ratio, scenario_main, timed

TEMPLATE = "XS411-DA-NPC"
REPEAT = {"full": 5, "small": 2}
DOWNLOADS = {"full": 30, "small": 10}
LARGE_DOCUMENT_MIB = 25


def passing_value(test: Any) -> str:
    """A conforming result for a test of the specification (inside every limit and alert)."""
    if test.accepted:
        return test.accepted[0]
    places = test.decimals or 0
    quantum = Decimal(1).scaleb(-places)
    low = max((v for v in (test.min, test.alert_min) if v is not None), default=None)
    high = min((v for v in (test.max, test.alert_max) if v is not None), default=None)
    if low is not None and high is not None:
        value = (low + high) / 2
    elif low is not None:
        value = low + max(abs(low) / 20, quantum * 5)
    elif high is not None:
        value = high / 2
    else:
        value = Decimal(1)
    if test.loq is not None and value < test.loq:
        value = test.loq * 2
    return str(value.quantize(quantum))


def build_released_lot(app: Any) -> dict[str, Any]:
    """Execute, test, review and release one XS411 lot through the services (documents rendered)."""
    from freezegun import freeze_time

    from app.batches import services as batches
    from app.batches.simulate import Autopilot
    from app.common.db import commit
    from app.common.timeutil import site_today, utcnow
    from app.documents.models import Document
    from app.extensions import db
    from app.qc import services as qc
    from app.release import services as release
    from benchmarks import seed as s

    session = db.session
    with s.account_hashing("cheap"):
        people = {
            key: s.make_user(session, f"bench.{key}", f"Bench {key.title()}", [role])
            for key, role in (
                ("qa", "qa"),
                ("qa2", "qa"),
                ("sup", "supervisor"),
                ("op1", "operator"),
                ("op2", "operator"),
                ("analyst1", "qc_analyst"),
                ("analyst2", "qc_analyst"),
                ("auditor", "auditor"),
            )
        }
    version = s.effective_template(session, people["qa2"], TEMPLATE)
    spec = s.effective_spec(session, people["qa2"], TEMPLATE)
    for key in ("op1", "op2"):
        s.train(session, people["sup"], people[key], TEMPLATE)
    lot = batches.start_lot(session, people["sup"], version, "WCB-BENCH vial 1", "{product}-{yyyy}-{seq:04d}")
    session.commit()
    with freeze_time(utcnow(), tick=True) as clock:
        Autopilot(session, people["op1"], people["op2"], PASSWORD, clock.move_to).run(lot)
        for test in spec.definition.tests:
            data = qc.ResultInput(
                test.code, "QC-BENCH-1", "", "INSTR-01", site_today() - timedelta(days=1), passing_value(test)
            )
            result = qc.enter_result(session, people["analyst1"], lot, data)
            qc.review_result(session, people["analyst2"], result, s.credentials(people["analyst2"]))
        session.commit()
        qa = people["qa"]
        release.start_review(session, qa, lot)
        release.sign_review(session, qa, lot, s.credentials(qa))
        session.commit()
        start = time.perf_counter()
        release.release(session, qa, lot, s.credentials(qa), "All records reviewed.")
        commit(session)  # and render the documents after it, as the release request does
        disposition_s = time.perf_counter() - start
    documents = {d.kind.value: d for d in session.query(Document).filter_by(lot_id=lot.id)}
    return {"lot": lot, "people": people, "documents": documents, "disposition_s": disposition_s}


def plain_table_html(data: dict[str, Any]) -> str:
    """The batch record's rows as one plain HTML table: the floor WeasyPrint cannot beat much."""
    rows = []
    for unit in data["units"]:
        for step in unit["steps"]:
            for e in step["entries"]:
                rows.append(
                    (step["code"], e["label"], e["value"], e["unit"] or "", e["entered_by"] or "", e["entered_at"])
                )
            for sig in step["signatures"]:
                rows.append(
                    (
                        step["code"],
                        f"signed: {sig['meaning']}",
                        sig["printed_name"],
                        "",
                        sig["username"],
                        sig["signed_at"],
                    )
                )
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return (
        "<html><head><style>table{border-collapse:collapse;font-size:8pt}td{border:1px solid #999;"
        "padding:1px 3px}</style></head><body><h1>Executed batch record (plain table)</h1><table>"
        f"{body}</table></body></html>"
    ), len(rows)  # type: ignore[return-value]


def run(size: str) -> dict[str, Any]:
    from pypdf import PdfReader
    from weasyprint import HTML

    from app.audit.capture import Actor
    from app.documents.models import DocumentKind
    from app.documents.services import generate
    from app.documents.services.batch_record import batch_record_data
    from app.documents.services.coa import coa_data
    from app.documents.services.pdf import _font_config, html_for, pdfa, render_pdf
    from app.documents.services.signing import make_dev_key, sign_if_configured
    from app.documents.services.store import store
    from app.extensions import db

    repeat = REPEAT[size]
    result: dict[str, Any] = {"repeat": repeat}
    key_dir = Path(tempfile.mkdtemp(prefix="cellbatch-bench-key-"))
    with database("cellbatch_bench_docs") as url:
        key, cert, _ = make_dev_key(key_dir, "bench site")
        app = make_app(url, cheap_hashing=True, csrf=False)
        app.config.update(SIGNING_KEY=str(key), SIGNING_CERT=str(cert))
        with app.test_request_context():
            log("documents: executing, testing and releasing an XS411 lot through the services")
            built = build_released_lot(app)
            lot, documents = built["lot"], built["documents"]
            result["disposition_with_rendering_s"] = round(built["disposition_s"], 2)
            result["stored"] = {k: {"bytes": d.size, "pades_signed": d.pades_signed} for k, d in documents.items()}
            session = db.session
            kinds = {
                "coa": (DocumentKind.COA, coa_data, "documents/coa.html"),
                "batch_record": (DocumentKind.BATCH_RECORD, batch_record_data, "documents/batch_record.html"),
            }
            # A server worker's long-lived objects are its start-up's, frozen out of garbage
            # collection (app/wsgi.py; make_app did the same here). This process also holds the
            # lot it just built: frozen too, before anything (floors included) is timed.
            gc.collect()
            gc.freeze()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                floor_html = "<html><body><h1>Certificate of analysis</h1><p>Lot BENCH-0001 conforms.</p></body></html>"
                times, _ = timed(lambda: HTML(string=floor_html).write_pdf(font_config=_font_config()), repeat * 3)
                result["floor_minimal_page"] = latency_stats(times)
                qa = Actor.of(built["people"]["qa"])
                for name, (kind, build, template) in kinds.items():
                    log(f"documents: rendering the {name} x{repeat}")
                    total, (content, signed) = timed(
                        lambda b=build, k=kind, t=template: render_pdf(t, b(session, lot, generate.new_stamp(k, qa))),
                        repeat,
                    )
                    data = build(session, lot, generate.new_stamp(kind, qa))
                    html = html_for(template, data)

                    def pdf(h: str = html, d: dict[str, Any] = data) -> bytes:
                        return pdfa(h, d, "bench")

                    phases = {  # each phase alone, warm, as often as the total
                        "data": timed(lambda b=build, k=kind: b(session, lot, generate.new_stamp(k, qa)), repeat, 1)[0],
                        "html": timed(lambda t=template, d=data: html_for(t, d), repeat, 1)[0],
                    }
                    phases["weasyprint_pdfa"], unsigned = timed(pdf, repeat, 1)
                    phases["pades_sign"] = timed(lambda c=unsigned: sign_if_configured(c, "bench"), repeat, 1)[0]
                    result[name] = {
                        "total": latency_stats(total),
                        "bytes": len(content),
                        "signed": signed,
                        "pages": len(PdfReader(io.BytesIO(content)).pages),
                        "phases": {p: latency_stats(v) for p, v in phases.items()},
                    }
                    if name == "batch_record":
                        table, rows = plain_table_html(data)
                        times, floor_pdf = timed(
                            lambda h=table: HTML(string=h).write_pdf(font_config=_font_config()), repeat
                        )
                        result["floor_plain_table"] = {
                            **latency_stats(times),
                            "rows": rows,
                            "pages": len(PdfReader(io.BytesIO(floor_pdf)).pages),
                        }
            # A large stored file, to show a download does not grow with size.
            stamp = generate.new_stamp(DocumentKind.AUDIT_TRAIL_PDF, qa, "benchmark: a large file")
            big = store(session, qa, stamp, lot, os.urandom(LARGE_DOCUMENT_MIB * 2**20))
            session.commit()
            targets = {
                "coa": documents["coa"].id,
                "batch_record": documents["batch_record"].id,
                f"synthetic_{LARGE_DOCUMENT_MIB}MiB": big.id,
            }
            sizes = {
                "coa": documents["coa"].size,
                "batch_record": documents["batch_record"].size,
                f"synthetic_{LARGE_DOCUMENT_MIB}MiB": big.size,
            }
            auditor = built["people"]["auditor"].username
            db.session.remove()
        client = app.test_client()
        client.post("/login", data={"username": auditor, "password": PASSWORD})
        result["download"] = {}
        for name, doc_id in targets.items():
            first_bytes: list[float] = []

            def get(i: int = doc_id, marks: list[float] = first_bytes) -> int:
                # Time to the first byte (the request answered, its audit event committed, the first
                # piece read) is what must not grow with size; the whole transfer is reported too.
                start = time.perf_counter()
                response = client.get(f"/documents/{i}/download")
                assert response.status_code == 200, response.status_code  # noqa: S101 - bench sanity check
                pieces = iter(response.response)
                received = len(next(pieces))
                marks.append(time.perf_counter() - start)
                received += sum(len(piece) for piece in pieces)
                response.close()
                return received

            times, length = timed(get, DOWNLOADS[size], warmup=2)
            del first_bytes[:2]  # the warm-up calls
            result["download"][name] = {**latency_stats(first_bytes), "total": latency_stats(times),
                                        "bytes": sizes[name], "received": length}  # fmt: skip
        with app.app_context():
            db.engine.dispose()
    b, c = result.get("batch_record", {}), result.get("coa", {})
    result["ratios"] = {
        "coa_total_p50_vs_minimal_page": ratio(c["total"]["p50_ms"], result["floor_minimal_page"]["p50_ms"]),
        "batch_record_total_p50_vs_plain_table": ratio(b["total"]["p50_ms"], result["floor_plain_table"]["p50_ms"]),
        "batch_record_weasyprint_p50_vs_plain_table": ratio(
            b["phases"]["weasyprint_pdfa"]["p50_ms"], result["floor_plain_table"]["p50_ms"]
        ),
    }
    return result


if __name__ == "__main__":
    scenario_main(run)
