"""SQLite under several gunicorn workers: a request that writes starts with BEGIN IMMEDIATE and
waits for the lock; a page that reads and then records the reading (an audit event) is run
again when SQLite refuses its write because another request committed in between."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from intervention import _changes_something
from intervention.extensions import db
from intervention.public import views as public_views


@pytest.fixture
def sqlite_app(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's locking only: the app wraps views this way only on SQLite")
    return app


def _locked_then(real, failures: int):
    calls = []

    def flaky(*args, **kwargs):
        calls.append(_changes_something())  # does this attempt begin holding the write lock?
        if len(calls) <= failures:
            raise OperationalError("INSERT INTO audit_events", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    return flaky, calls


def test_a_page_refused_by_a_locked_database_is_run_again(sqlite_app, client, monkeypatch):
    flaky, calls = _locked_then(public_views.render_template, failures=2)
    monkeypatch.setattr(public_views, "render_template", flaky)
    response = client.get("/")
    assert response.status_code == 200
    # The first attempt reads as any GET does; the next ones wait for the write lock.
    assert calls == [False, True, True]


def test_it_gives_up_after_five_tries(sqlite_app, client, monkeypatch):
    flaky, calls = _locked_then(public_views.render_template, failures=99)
    monkeypatch.setattr(public_views, "render_template", flaky)
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get("/")
    finally:
        sqlite_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert len(calls) == 5


def test_other_database_errors_are_not_retried(sqlite_app, client, monkeypatch):
    def broken(*_args, **_kwargs):
        calls.append(1)
        raise OperationalError("SELECT", {}, Exception("no such table: x"))

    calls: list[int] = []
    monkeypatch.setattr(public_views, "render_template", broken)
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        assert client.get("/").status_code == 500
    finally:
        sqlite_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("method", "immediate"), [("GET", False), ("HEAD", False), ("POST", True), ("DELETE", True)]
)
def test_writing_requests_take_the_lock_when_they_begin(app, method, immediate):
    with app.test_request_context("/", method=method):
        assert _changes_something() is immediate
    with app.app_context():
        assert _changes_something() is False  # the CLI and scripts begin as usual
