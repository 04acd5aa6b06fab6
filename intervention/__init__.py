"""Intervention: court-referred intervention programs, from curriculum to court certificate."""

from __future__ import annotations

import functools
import os
import time

from flask import Flask, g, has_request_context, request
from flask_babel import lazy_gettext
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from .config import ROOT, load_config
from .extensions import csrf, db, limiter, login_manager, migrate


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("INTERVENTION_INSTANCE", str(ROOT / "instance")),
    )
    app.config.update(load_config(app.instance_path, config))
    os.makedirs(app.instance_path, exist_ok=True)
    register_extensions(app)
    register_input_rules(app)
    register_blueprints(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        retry_reads_when_locked(app)
    register_errors(app)
    register_security(app)
    register_template_helpers(app)
    register_cli(app)
    register_audit_checkpoints(app)
    return app


def register_extensions(app: Flask) -> None:
    from . import i18n, models  # noqa: F401  (models: so every table is known to the metadata)
    from .auth.sessions import ServerSessionInterface
    from .models import User

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "intervention" / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    i18n.register(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in to see that page.")
    login_manager.login_message_category = "info"
    # Sessions live on the server and end there (auth/sessions.py). Flask-Login's own binding
    # hashed the X-Forwarded-For header whatever the proxy setting, so it is off.
    login_manager.session_protection = None
    app.session_interface = ServerSessionInterface()

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id))

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)


def _configure_sqlite(engine) -> None:
    """WAL and a busy timeout for a served app; real transactions so tests can use savepoints."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A request that changes something takes the write lock when it starts, so a second
        # writer waits (busy_timeout) instead of failing: in WAL mode a transaction that read
        # first and then writes after another writer committed is refused at once.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _changes_something() else "BEGIN")


def _changes_something() -> bool:
    return has_request_context() and (
        request.method not in ("GET", "HEAD", "OPTIONS") or g.get("write_lock", False)
    )


def retry_reads_when_locked(app: Flask, tries: int = 5) -> None:
    """SQLite: a page that only reads but records that it was read (a clerk's case view, a
    verification, a download) writes its audit event after reading; if another request
    committed in between, SQLite refuses the write at once. A GET may safely run again, so
    such a page runs again, this time holding the write lock from its first query (it waits
    its turn, up to the busy timeout), rather than answering with an error. Pages that only
    read never take the lock."""

    def retrying(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if request.method not in ("GET", "HEAD"):
                return view(*args, **kwargs)
            for attempt in range(1, tries + 1):
                try:
                    return view(*args, **kwargs)
                except OperationalError as exc:
                    db.session.rollback()
                    if "locked" not in str(exc) or attempt == tries:
                        raise
                    g.write_lock = True
                    time.sleep(0.01 * attempt)

        return wrapper

    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = retrying(view)


def register_input_rules(app: Flask) -> None:
    from .inputs import register

    register(app)


def register_blueprints(app: Flask) -> None:
    from .admin.views import bp as admin_bp
    from .auth.views import bp as auth_bp
    from .cases.views import bp as cases_bp
    from .clerk.views import bp as clerk_bp
    from .facilitator.views import bp as facilitator_bp
    from .participant.views import bp as participant_bp
    from .public.views import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(participant_bp, url_prefix="/me")
    app.register_blueprint(facilitator_bp, url_prefix="/facilitator")
    app.register_blueprint(clerk_bp, url_prefix="/court")
    app.register_blueprint(cases_bp, url_prefix="/cases")
    app.register_blueprint(admin_bp, url_prefix="/admin")


def register_errors(app: Flask) -> None:
    from .errors import register

    register(app)


def register_security(app: Flask) -> None:
    from .security import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from .templating import register

    register(app)


def register_audit_checkpoints(app: Flask) -> None:
    from .services import audit

    audit.register(app)


def register_cli(app: Flask) -> None:
    from .cli import register

    register(app)
