"""The WSGI entry point of a server: `gunicorn --workers <cores> app.wsgi:app` (README, Production).

Settings come from the environment (CELLBATCH_ENV, CELLBATCH_DATABASE_URL, ...), as for `flask`.
"""

from __future__ import annotations

import gc

from app import create_app

app = create_app()
# What start-up built (modules, mappers, templates, configuration: ~190,000 objects) lives as long
# as the process. Frozen, it is left out of every garbage collection: a full collection walked it
# all, 115-140 ms that a lot view, review page or CoA rendering paid every few requests
# (benchmarks/NOTES.md, 2026-12-04 17:08 run; issue #10). Start-up's own garbage is freed first,
# or it would be frozen with the rest and never freed.
gc.collect()
gc.freeze()
