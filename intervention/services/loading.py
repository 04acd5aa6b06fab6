"""Eager-loading options the pages share, so that a page costs one query per kind of record
it shows, never one per row: the number of queries stays the same however many men, cohorts
and answers there are."""

from __future__ import annotations

from sqlalchemy.orm import joinedload
from sqlalchemy.orm.strategy_options import _AbstractLoad as Loader  # what joinedload() returns

from ..models import (
    Attendance,
    Cohort,
    CurriculumVersion,
    Enrollment,
    Meeting,
    Module,
    Reflection,
    ReflectionAttempt,
    Review,
)


def course(cohort: Loader, *, join_sessions: bool = False) -> list[Loader]:
    """A cohort's version and program in the same query, then its sessions, and the
    version's modules with their reflection prompts, in one query each. A version never
    changes once stored, so the rows of a page on the same version share these objects.
    The modules' text is left for the module page, which reads one module's.
    `join_sessions`: the sessions in the cohort's query instead, for a page on one case that
    has a query to spare less than rows (ten or so sessions times his few certificates)."""
    version = cohort.joinedload(Cohort.version)
    # The modules' reading (Module's "reading" group) stays deferred: only the module page
    # reads it, for one module.
    modules = version.selectinload(CurriculumVersion.modules)
    return [
        version.joinedload(CurriculumVersion.program),
        modules.joinedload(Module.prompts),
        (cohort.joinedload if join_sessions else cohort.selectinload)(Cohort.sessions),
    ]


def marks(enrollment: Loader) -> list[Loader]:
    """His attendance marks, with what the completion engine reads of a make-up: the history
    that says how the session was first marked (in the same query), and the session he
    attended instead (no query for that when nobody has a make-up)."""
    attendance = enrollment.selectinload(Enrollment.attendance)
    return [
        attendance.joinedload(Attendance.history),
        attendance.selectinload(Attendance.linked_attendance)
        .joinedload(Attendance.session)
        .joinedload(Meeting.cohort),
    ]


def case_record(enrollment: Loader) -> list[Loader]:
    """Everything completion.evaluate and a case's row read of one case besides the course:
    the man's name and certificates in the same query, then his marks and reflections."""
    return [
        enrollment.joinedload(Enrollment.participant),
        enrollment.joinedload(Enrollment.certificates),
        *marks(enrollment),
        enrollment.selectinload(Enrollment.reflections),
    ]


def answers(enrollment: Loader) -> list[Loader]:
    """His reflections with every attempt and its review (and the reviewer's name)."""
    return [
        enrollment.selectinload(Enrollment.reflections)
        .selectinload(Reflection.attempts)
        .joinedload(ReflectionAttempt.review)
        .joinedload(Review.reviewer)
    ]


def enrollment_course(*, join_sessions: bool = False) -> list[Loader]:
    """course() for a query of enrollments, through each one's cohort."""
    return course(joinedload(Enrollment.cohort), join_sessions=join_sessions)
