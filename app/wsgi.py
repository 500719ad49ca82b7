"""The WSGI entry point of a server: `gunicorn --workers <cores> app.wsgi:app` (README, Production).

Settings come from the environment (CELLBATCH_ENV, CELLBATCH_DATABASE_URL, ...), as for `flask`.
"""

from __future__ import annotations

import gc

from app import create_app

app = create_app()
# What start-up built (modules, mappers, compiled templates, configuration) lives as long as the
# process. Frozen, it is left out of every garbage collection: a full collection of a worker no
# longer walks its ~230,000 start-up objects, which cost ~200 ms every third or fourth CoA or batch
# record rendered after a release (benchmarks/NOTES.md, issue #10).
gc.freeze()
