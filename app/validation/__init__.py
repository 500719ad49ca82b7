"""The validation pack (issue #12): the requirement register, traceability and the
qualification report.

- `register`: loads and checks docs/requirements.yaml (also used by tests/validation_plugin.py).
- `identity`: what system was qualified (commit, lock file, versions, machine, configuration).
- `report`: turns the trace JSON of one or two pytest runs into validation/report.json and a
  PDF/A-3b rendered with the document pipeline's renderer.
- `compliance`: docs/compliance.md, the Part 11 / Annex 11 matrix generated from the register.
- `run`: `make validation`: the suite on SQLite and PostgreSQL with traces, then the report.

Entry point: python -m app.validation {run,report,compliance,verify}. Read docs/validation.md.
"""
