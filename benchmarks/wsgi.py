"""gunicorn entry point for the benchmarks: the real app on the bench database in BENCH_DATABASE_URL."""

from __future__ import annotations

import os

from app import create_app
from benchmarks.common import bench_config

app = create_app(bench_config(os.environ["BENCH_DATABASE_URL"]))
