"""cellbatch: an electronic batch record system for GMP manufacturing of cell therapies."""

from __future__ import annotations

import os

from flask import Flask

from config import CONFIGS, INSTANCE_DIR, ProductionConfig

#: Every module with tables, imported at start so the metadata and Alembic see all of them.
MODEL_MODULES = (
    "app.common.sequences",
    "app.auth.models",
    "app.audit.models",
    "app.signatures.models",
    "app.mbr.models",
    "app.inventory.models",
    "app.training.models",
    "app.batches.models",
    "app.deviations.models",
    "app.qc.models",
    "app.release.models",
    "app.documents.models",
)
BLUEPRINTS = (
    "app.auth.views",
    "app.home.views",
    "app.audit.views",
    "app.batches.views",
    "app.mbr.views",
    "app.qc.views",
    "app.qc.results_views",
    "app.release.views",
    "app.inventory.views",
    "app.training.views",
    "app.deviations.views",
    "app.documents.views",
)


def create_app(config: type | str | None = None) -> Flask:
    """Build the application from small named steps; nothing runs at import time."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    _load_config(app, config)
    _trust_proxies(app)
    _init_extensions(app)
    _register_converters(app)
    _register_blueprints(app)
    _register_hooks()
    from app import web

    web.register(app)
    from app import cli

    cli.register(app)
    return app


def _load_config(app: Flask, config: type | str | None) -> None:
    name = config if isinstance(config, str) else os.environ.get("CELLBATCH_ENV", "development")
    config_class = config if isinstance(config, type) else CONFIGS[name]
    if issubclass(config_class, ProductionConfig):
        config_class.check()
    app.config.from_object(config_class)


def _trust_proxies(app: Flask) -> None:
    """Behind PROXY_HOPS reverse proxies, take the client's address and scheme from their headers."""
    hops = app.config["PROXY_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _init_extensions(app: Flask) -> None:
    # Importing the capture module registers the audit listeners on every Session.
    from app.audit import capture  # noqa: F401
    from app.common.db import configure_engine
    from app.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    from app.auth import passwords

    # New password hashes get the site's argon2id parameters (config.py: ARGON2_*), all three.
    passwords.configure(app.config.get("ARGON2_TIME_COST"), app.config.get("ARGON2_MEMORY_COST"),
                        app.config.get("ARGON2_PARALLELISM") or 1)  # fmt: skip
    with app.app_context():
        configure_engine(db.engine)


def _register_hooks() -> None:
    """Cross-module hooks, in one place: documents are rendered when QA disposes of a lot."""
    from app.documents.services import after_disposition
    from app.release.services import DISPOSITION_HOOKS

    if after_disposition not in DISPOSITION_HOOKS:
        DISPOSITION_HOOKS.append(after_disposition)


def _register_converters(app: Flask) -> None:
    """Before any route exists: `<int:...>` accepts only ids the database can hold (else 404)."""
    from app.common.web import IdConverter

    app.url_map.converters["int"] = IdConverter


def _register_blueprints(app: Flask) -> None:
    from importlib import import_module

    for module_name in MODEL_MODULES:
        import_module(module_name)
    for module_name in BLUEPRINTS:
        app.register_blueprint(import_module(module_name).bp)
