"""Courts that refer men to the program: their details, the language of their documents, the
state whose holidays their sessions avoid, and the deadline for notices to them."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..i18n import DEFAULT as DEFAULT_LANGUAGE
from ..i18n import offered_languages
from ..models import Court, Enrollment, Role, User
from ..names import clean_name
from . import ServiceError, audit
from .enrollments import OPEN_STATES
from .scheduling import NOTICE_DEADLINE_DAYS, US_STATES, require_timezone, state_from_jurisdiction


def listing() -> list[Court]:
    """Every court, by name."""
    return list(db.session.scalars(select(Court).order_by(Court.name)))


def open_cases_by_court() -> dict[int, int]:
    """How many open cases each court has at the program (courts with none are left out)."""
    return dict(
        db.session.execute(
            select(Enrollment.court_id, func.count())
            .where(Enrollment.state.in_(OPEN_STATES))
            .group_by(Enrollment.court_id)
        ).all()
    )


def clerks_by_court() -> dict[int, int]:
    """How many active clerk accounts each court has (courts with none are left out)."""
    return dict(
        db.session.execute(
            select(User.court_id, func.count())
            .where(User.role == Role.CLERK, User.active)
            .group_by(User.court_id)
        ).all()
    )


def _check_court(
    name: str,
    timezone: str,
    notice_deadline_days: int,
    language: str,
    court: Court | None,
    state: str = "",
):
    if not name:
        raise ServiceError(_("Give the court's name."))
    if state and state not in US_STATES:
        raise ServiceError(_("Choose the court's state from the list."))
    require_timezone(timezone)
    if notice_deadline_days not in NOTICE_DEADLINE_DAYS:
        raise ServiceError(_("The notice deadline must be between 1 and 90 days."))
    if language not in offered_languages():
        raise ServiceError(_("Choose the language of the court's documents."))
    existing = db.session.scalar(select(Court).where(func.lower(Court.name) == name.lower()))
    if existing is not None and existing is not court:
        raise ServiceError(_("A court named “%(name)s” already exists.", name=existing.name))


def _flush_court(name: str) -> None:
    """Flush, turning a unique-name race lost to another request into the same message."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_("A court named “%(name)s” already exists.", name=name)) from None


def create_court(
    *,
    name: str,
    jurisdiction: str,
    timezone: str,
    notice_deadline_days: int,
    actor: User,
    language: str = DEFAULT_LANGUAGE,
    state: str | None = None,
    session_titles_on_documents: bool = False,
    requires_date_of_birth: bool = True,
) -> Court:
    """A court that refers men; `language` is the language of the documents sent to it and
    `state` the state whose holidays its men's sessions avoid (None: the one its jurisdiction
    names, if any)."""
    name, jurisdiction = clean_name(name), clean_name(jurisdiction)
    if state is None:
        state = state_from_jurisdiction(jurisdiction)
    _check_court(name, timezone, notice_deadline_days, language, None, state)
    details = {
        "name": name,
        "jurisdiction": jurisdiction,
        "timezone": timezone,
        "notice_deadline_days": notice_deadline_days,
        "language": language,
        "state": state,
        "session_titles_on_documents": session_titles_on_documents,
        "requires_date_of_birth": requires_date_of_birth,
    }
    court = Court(**details)
    db.session.add(court)
    _flush_court(name)
    audit.record("court.create", actor, court, **details)
    return court


def update_court(
    court: Court,
    *,
    name: str,
    jurisdiction: str,
    timezone: str,
    notice_deadline_days: int,
    actor: User,
    language: str | None = None,
    state: str | None = None,
    session_titles_on_documents: bool | None = None,
    requires_date_of_birth: bool | None = None,
) -> Court:
    """Change a court's details; `language` or `state` None keeps the one it has. Documents
    already issued keep the language they were issued in: stored PDFs never change."""
    name, jurisdiction = clean_name(name), clean_name(jurisdiction)
    language = language or court.language
    state = court.state if state is None else state
    _check_court(name, timezone, notice_deadline_days, language, court, state)
    if session_titles_on_documents is None:
        session_titles_on_documents = court.session_titles_on_documents
    wanted = {
        "state": state,
        "name": name,
        "jurisdiction": jurisdiction,
        "timezone": timezone,
        "notice_deadline_days": notice_deadline_days,
        "language": language,
        "session_titles_on_documents": bool(session_titles_on_documents),
        "requires_date_of_birth": court.requires_date_of_birth
        if requires_date_of_birth is None
        else requires_date_of_birth,
    }
    changes = {k: [getattr(court, k), v] for k, v in wanted.items() if getattr(court, k) != v}
    if not changes:
        return court
    for key, (_old, new) in changes.items():
        setattr(court, key, new)
    _flush_court(name)
    audit.record("court.update", actor, court, changes=changes)
    return court
