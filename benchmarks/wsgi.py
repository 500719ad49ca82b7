"""gunicorn entry point for the benchmarks: the real app on the bench database in BENCH_DATABASE_URL,
started as app/wsgi.py starts a site's server (start-up objects frozen out of garbage collection)."""

from __future__ import annotations

import gc
import os

from app import create_app
from benchmarks.common import bench_config

app = create_app(bench_config(os.environ["BENCH_DATABASE_URL"]))
gc.collect()
gc.freeze()
