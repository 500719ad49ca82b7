"""The floor of the step-entry load test: a bare Flask + SQLAlchemy endpoint inserting one row.

Served by the same gunicorn settings as the real app, on its own bench database and table, so
the ratio shows what the application's rules (session, access, validation, audit chain,
signature) cost on top of the web server, the driver and one committed INSERT.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, request

metadata = sa.MetaData()
floor_rows = sa.Table(
    "floor_rows",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
)


def create_floor_app(url: str) -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(url, pool_size=5, pool_pre_ping=True)
    metadata.create_all(engine)

    @app.post("/insert")
    def insert() -> tuple[str, int]:
        with engine.begin() as connection:
            connection.execute(floor_rows.insert().values(payload=request.form.get("value", "")))
        return "ok", 201

    return app


def app_from_env() -> Flask:
    return create_floor_app(os.environ["BENCH_DATABASE_URL"])
