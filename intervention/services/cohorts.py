"""Reading cohorts: the director's list, which cohorts are still meeting, the program versions
a cohort may start on or move to, and the facilitators who may lead one. (Creating and
changing cohorts and their sessions is scheduling.py's.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import (
    Cohort,
    CurriculumVersion,
    Meeting,
    Program,
    Role,
    SessionStatus,
    User,
)


def newest_first() -> Select:
    """Every cohort, newest first, with what a row of the list shows (for one page only)."""
    return (
        select(Cohort)
        .options(
            selectinload(Cohort.sessions),
            selectinload(Cohort.enrollments),
            selectinload(Cohort.facilitators),
            joinedload(Cohort.version).joinedload(CurriculumVersion.program),
        )
        .order_by(Cohort.start_date.desc(), Cohort.id.desc())
    )


@dataclass
class CohortSummary:
    """One row of the director's list of cohorts."""

    cohort: Cohort
    sessions: int  # not cancelled
    held: int  # not cancelled, and started
    cancelled: int
    next: Meeting | None  # the next session not cancelled, if any is ahead
    open: int  # open cases
    enrolled: int  # every case, open or closed


def summary(cohort: Cohort, now: datetime) -> CohortSummary:
    meeting = [s for s in cohort.sessions if s.status is not SessionStatus.CANCELLED]
    ahead = [s for s in meeting if s.scheduled_at > now]
    return CohortSummary(
        cohort=cohort,
        sessions=len(meeting),
        held=len(meeting) - len(ahead),
        cancelled=len(cohort.sessions) - len(meeting),
        next=ahead[0] if ahead else None,
        open=sum(1 for e in cohort.enrollments if e.state.is_open),
        enrolled=len(cohort.enrollments),
    )


def still_meets(cohort: Cohort, now: datetime) -> bool:
    """The cohort has a session, not cancelled, after `now`: a man may still join it."""
    return any(
        s.scheduled_at > now and s.status is not SessionStatus.CANCELLED for s in cohort.sessions
    )


def meets_after(moment: datetime) -> ColumnElement[bool]:
    """still_meets as an SQL condition on Cohort, for lists that must not load every session."""
    return (
        select(Meeting.id)
        .where(
            Meeting.cohort_id == Cohort.id,
            Meeting.scheduled_at > moment,
            Meeting.status != SessionStatus.CANCELLED,
        )
        .exists()
    )


def ongoing(now: datetime, *, also: int | None = None, newest_first: bool = False) -> list[Cohort]:
    """Cohorts still meeting, oldest first (or newest), and cohort `also`, meeting or not."""
    condition = meets_after(now) if also is None else meets_after(now) | (Cohort.id == also)
    if newest_first:
        order = (Cohort.start_date.desc(), Cohort.id.desc())
    else:
        order = (Cohort.start_date, Cohort.id)
    return list(db.session.scalars(select(Cohort).where(condition).order_by(*order)))


def versions_to_start() -> list[CurriculumVersion]:
    """Every program version a new cohort may be given, program by program, newest first."""
    return list(
        db.session.scalars(
            select(CurriculumVersion)
            .join(Program)
            .order_by(Program.id, CurriculumVersion.loaded_at.desc(), CurriculumVersion.id.desc())
        )
    )


def newer_versions(cohort: Cohort) -> list[CurriculumVersion]:
    """Versions of the cohort's program loaded after its own, newest first: what the director
    may move it to."""
    return list(
        db.session.scalars(
            select(CurriculumVersion)
            .where(
                CurriculumVersion.program_id == cohort.version.program_id,
                CurriculumVersion.loaded_at > cohort.version.loaded_at,
            )
            .order_by(CurriculumVersion.loaded_at.desc())
        )
    )


def active_facilitators() -> list[User]:
    """Facilitators whose accounts are active, by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.FACILITATOR, User.active)
            .order_by(User.full_name, User.id)
        )
    )


def users(ids: list[int]) -> list[User]:
    """The accounts with these ids, by name (ids that match none are left out)."""
    return list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.full_name)))


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))
