"""How a view runs a service call: commit what it did, or roll all of it back and tell the
person why, in one place rather than a try/commit/except/rollback in every view.

    with committed(form.reason) as done:
        certificate_service.revoke(cert, current_user, form.reason.data)
    if done:
        flash(...)
        return redirect(...)

A refusal (ServiceError) goes where the person will see it: under a form field, to a
function given (a flash with the action's own words, a JSON answer), or, with nothing given,
only to `done.error` for the view to show. Any other exception is a bug and propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import flash
from sqlalchemy.exc import OperationalError
from wtforms import Field

from .extensions import db
from .services import ServiceError


class Outcome:
    """What a `committed` block came to: true once committed, else `error` says why not."""

    def __init__(self) -> None:
        self.ok = False
        self.error = ""
        self.refusal: ServiceError | None = None  # for refusals that carry more than words

    def __bool__(self) -> bool:
        return self.ok


def flash_error(problem: str) -> None:
    """Report a refusal as an error message on the page the view redirects to."""
    flash(problem, "error")


def flash_refusal(message) -> Callable[[str], None]:
    """A reporter flashing `message`, a lazy "What was not done: %(problem)s", with the
    refusal in it."""
    return lambda problem: flash(str(message) % {"problem": problem}, "error")


@contextmanager
def committed(report: Field | Callable[[str], object] | None = None) -> Iterator[Outcome]:
    outcome = Outcome()
    try:
        yield outcome
    except ServiceError as exc:
        db.session.rollback()
        outcome.refusal, outcome.error = exc, str(exc)
        if isinstance(report, Field):
            report.errors = [*report.errors, outcome.error]  # a tuple before validation
        elif report is not None:
            report(outcome.error)
        return
    db.session.commit()
    outcome.ok = True


def retrying(change: Callable[[], object], tries: int = 5) -> None:
    """Make the change and commit it. SQLite refuses at once a write from a transaction that
    read while another request was writing (the second click of a double click): that one
    waits a moment and starts again from what the other stored, where the services'
    idempotency and revision checks decide. PostgreSQL waits by itself."""
    for attempt in range(1, tries + 1):
        try:
            change()
            db.session.commit()
            return
        except OperationalError:
            db.session.rollback()
            if db.engine.dialect.name != "sqlite" or attempt == tries:
                raise
            time.sleep(0.05 * attempt)
