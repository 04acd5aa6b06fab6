"""Marking attendance: first marks, corrections and make-ups, each kept in an append-only
history."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from ..access import can_record_makeup
from ..extensions import db
from ..i18n import format_date, format_datetime
from ..models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Cohort,
    CurriculumVersion,
    Enrollment,
    EnrollmentState,
    Meeting,
    SessionStatus,
    User,
    utcnow,
)
from . import ServiceError, audit, notices
from .policy import effective_policy, is_credited


def session_closed_reason(session: Meeting) -> str | None:
    """Why no attendance can be taken at this session at all, or None."""
    when = format_date(session.scheduled_at, session.cohort.timezone)
    if session.status is SessionStatus.CANCELLED and session.cancel_reason:
        return _(
            "Session %(num)d on %(date)s was cancelled (%(reason)s); attendance cannot be taken.",
            num=session.number,
            date=when,
            reason=session.cancel_reason,
        )
    if session.status is SessionStatus.CANCELLED:
        return _(
            "Session %(num)d on %(date)s was cancelled; attendance cannot be taken.",
            num=session.number,
            date=when,
        )
    if session.scheduled_at > utcnow():
        starts = format_datetime(session.scheduled_at, session.cohort.timezone)
        return _(
            "Session %(num)d has not happened yet: it starts %(when)s. "
            "Attendance can be taken once it has started.",
            num=session.number,
            when=starts,
        )
    return None


def refusal(session: Meeting, enrollment: Enrollment) -> str | None:
    """Why this man cannot be marked at this session of his own cohort, or None."""
    name = enrollment.participant.full_name
    if enrollment.cohort_id != session.cohort_id:
        return _(
            "%(name)s is not in this session's cohort (%(cohort)s); record a make-up instead.",
            name=name,
            cohort=session.cohort.name,
        )
    closed = session_closed_reason(session)
    if closed:
        return closed
    if session.local_date < enrollment.starts_on:
        return _(
            "%(name)s was not enrolled yet on %(date)s: his case starts %(start)s.",
            name=name,
            date=format_date(session.local_date),
            start=format_date(enrollment.starts_on),
        )
    if not enrollment.state.is_open:
        return _("This case is %(status)s; it is closed.", status=enrollment.state.label.lower())
    return None


def mark(
    session: Meeting,
    enrollment: Enrollment,
    status: AttendanceStatus,
    minutes: int,
    actor: User,
    note: str = "",
    reason: str = "",
) -> Attendance:
    """Record one man's attendance at one session; a change needs a reason."""
    problem = refusal(session, enrollment)
    if problem:
        raise ServiceError(problem)
    if status is AttendanceStatus.MADE_UP:
        raise ServiceError(_("A session is marked made up by recording the make-up itself."))
    record = _current(enrollment, session)
    if record is not None and record.status is AttendanceStatus.MADE_UP:
        raise ServiceError(kept_with_makeup(enrollment, session))
    _check_minutes(session, minutes)
    return _record(session, enrollment, record, status, minutes, actor, note, reason)


def kept_with_makeup(enrollment: Enrollment, session: Meeting) -> str:
    """Why a session he made up elsewhere cannot be marked at his own cohort."""
    return _(
        "%(name)s made up session %(num)d elsewhere; that mark is kept with the make-up.",
        name=enrollment.participant.full_name,
        num=session.number,
    )


def default_minutes(session: Meeting, status: AttendanceStatus) -> int:
    """Minutes credited when none are given: the whole session when he was there (present,
    or late), none otherwise. A make-up's default is the session's length too."""
    credited = status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.MADE_UP)
    return session.module.duration_minutes if credited else 0


@dataclass
class RosterRow:
    """One man's line of a roster, from the attendance form or an imported file."""

    enrollment_id: int | None
    status: AttendanceStatus
    minutes: int | None = None  # None: the status's default (default_minutes)
    note: str | None = None  # None: keep the note his mark has
    reason: str = ""  # why a mark already recorded changes


@dataclass
class RosterResult:
    marked: list[Enrollment]
    changed: int  # marks recorded or changed
    drafted: list  # the non-compliance notices the new marks drafted


class RosterRefused(ServiceError):
    """Nothing was recorded: every problem, as (index of the row, or None for the whole
    roster; what is wrong, naming the man)."""

    def __init__(self, problems: list[tuple[int | None, str]]):
        super().__init__(" ".join(p for _i, p in problems))
        self.problems = problems


def mark_roster(session: Meeting, rows: list[RosterRow], actor: User) -> RosterResult:
    """Record a session's roster: every row, or none of them (one bad row saves nothing).
    Then draft a notice for each rule a new mark breaks."""
    closed = session_closed_reason(session)
    if closed:
        raise RosterRefused([(None, closed)])
    on_roster = {e.id: e for e in roster(session)}
    current = {a.enrollment_id: a for a in session_marks(session)}
    problems: list[tuple[int | None, str]] = []
    marked: list[Enrollment] = []
    changed = 0
    savepoint = db.session.begin_nested()
    for index, row in enumerate(rows):
        enrollment = on_roster.get(row.enrollment_id)
        if enrollment is None:
            problems.append((index, _off_roster(session, row.enrollment_id)))
            continue
        before = current.get(enrollment.id)
        was = (before.status, before.minutes_credited) if before is not None else None
        minutes = default_minutes(session, row.status) if row.minutes is None else row.minutes
        note = row.note if row.note is not None else (before.note if before else "")
        try:
            mark(session, enrollment, row.status, minutes, actor, note=note, reason=row.reason)
        except ServiceError as exc:
            problems.append((index, _naming(enrollment, str(exc))))
            continue
        changed += was != (row.status, minutes)
        marked.append(enrollment)
    if problems:
        savepoint.rollback()
        raise RosterRefused(problems)
    savepoint.commit()
    drafted = [n for e in marked for n in notices.draft_for(e, actor)]
    return RosterResult(marked, changed, drafted)


def _naming(enrollment: Enrollment, problem: str) -> str:
    """A row's problem, beginning with the man's name unless it already does."""
    name = enrollment.participant.full_name
    if problem.startswith(name):
        return problem
    return _("%(name)s: %(problem)s", name=name, problem=problem)


def _off_roster(session: Meeting, enrollment_id: int | None) -> str:
    """Why a row cannot be marked at this session; names the man only if he is in its cohort."""
    enrollment = db.session.get(Enrollment, enrollment_id) if enrollment_id else None
    problem = None
    if enrollment is not None and enrollment.cohort_id == session.cohort_id:
        problem = refusal(session, enrollment)
    if problem is None:
        return _("A row names a man who is not on this session's roster.")
    return _naming(enrollment, problem)


def _check_minutes(session: Meeting, minutes: int) -> None:
    duration = session.module.duration_minutes
    if not 0 <= minutes <= duration:
        raise ServiceError(_("Minutes credited must be between 0 and %(max)d.", max=duration))


def _current(enrollment: Enrollment, session: Meeting) -> Attendance | None:
    return db.session.scalar(
        select(Attendance).where(
            Attendance.enrollment_id == enrollment.id, Attendance.session_id == session.id
        )
    )


def _record(
    session: Meeting,
    enrollment: Enrollment,
    record: Attendance | None,
    status: AttendanceStatus,
    minutes: int,
    actor: User,
    note: str,
    reason: str,
    *,
    action: str | None = None,
    **details,
) -> Attendance:
    """The one path that writes a mark: the change goes to the history, then to the audit log."""
    reason = reason.strip()
    if record is not None and (record.status, record.minutes_credited) == (status, minutes):
        if note != record.note:
            record.note = note
        return record  # nothing that counts changed, so there is nothing to justify
    if record is not None and not reason:
        raise ServiceError(
            _(
                "%(name)s was already marked %(status)s; give a reason for the change.",
                name=enrollment.participant.full_name,
                status=record.status.label.lower(),
            )
        )
    record, change = _write_mark(session, enrollment, record, status, minutes, actor, note, reason)
    audit.record(
        action or ("attendance.mark" if change.from_status is None else "attendance.change"),
        actor,
        record,
        enrollment_id=enrollment.id,
        session_id=session.id,
        to=status.value,
        minutes=minutes,
        # The reason stays on the change, where retention can remove it; the event points there.
        change_id=change.id,
        **({"from": change.from_status.value} if change.from_status else {}),
        **details,
    )
    return record


def _write_mark(
    session: Meeting,
    enrollment: Enrollment,
    record: Attendance | None,
    status: AttendanceStatus,
    minutes: int,
    actor: User,
    note: str,
    reason: str,
) -> tuple[Attendance, AttendanceChange]:
    """The mark as it is now, and the history entry saying what it was before; a session
    with a mark has been held."""
    change = AttendanceChange(
        from_status=record.status if record else None,
        from_minutes=record.minutes_credited if record else None,
        to_status=status,
        to_minutes=minutes,
        reason=reason,
        actor=actor,
        at=utcnow(),
    )
    if record is None:
        record = Attendance(enrollment=enrollment, session=session)
        db.session.add(record)
    record.status = status
    record.minutes_credited = minutes
    record.note = note
    record.recorded_by = actor
    record.recorded_at = change.at
    change.attendance = record
    db.session.add(change)
    if session.status is SessionStatus.SCHEDULED:
        session.status = SessionStatus.HELD
    db.session.flush()
    return record, change


def roster(session: Meeting) -> list[Enrollment]:
    """The men of the session's cohort who were enrolled on its day and whose case is open."""
    day = session.local_date
    return sorted(
        (e for e in session.cohort.enrollments if e.state.is_open and e.starts_on <= day),
        key=lambda e: e.participant.full_name,
    )


def session_marks(session: Meeting) -> list[Attendance]:
    """The marks of the session's own cohort (make-ups attended here are not among them)."""
    marks = (a for e in session.cohort.enrollments for a in e.attendance)
    return [a for a in marks if a.session_id == session.id]


def makeups_at(session: Meeting) -> list[Attendance]:
    """Marks of men from other cohorts who made up a session of theirs here."""
    return list(
        db.session.scalars(
            select(Attendance)
            .join(Enrollment, Attendance.enrollment_id == Enrollment.id)
            .where(Attendance.session_id == session.id, Enrollment.cohort_id != session.cohort_id)
            .order_by(Attendance.recorded_at)
        )
    )


# --- make-ups -----------------------------------------------------------------------------


@dataclass
class MakeupCandidate:
    """A man of another cohort who missed this session's module and may make it up here."""

    enrollment: Enrollment
    missed: Meeting  # his own cohort's session for the same module
    mark: Attendance | None  # how that session is marked now (None: never marked)


def own_session(enrollment: Enrollment, number: int) -> Meeting | None:
    """His cohort's (not cancelled) session for module `number`."""
    return next(
        (
            s
            for s in enrollment.cohort.sessions
            if s.number == number and s.status is not SessionStatus.CANCELLED
        ),
        None,
    )


def makeup_refusal(session: Meeting, enrollment: Enrollment) -> str | None:
    """Why he cannot make up his session of this module at `session`, or None."""
    return (
        _makeup_place_refusal(session, enrollment)
        or _makeup_case_refusal(session, enrollment)
        or _makeup_missed_refusal(session, enrollment)
    )


def _makeup_place_refusal(session: Meeting, enrollment: Enrollment) -> str | None:
    """The session must be another cohort's, of his program, held and not cancelled."""
    name = enrollment.participant.full_name
    if enrollment.cohort_id == session.cohort_id:
        return _("%(name)s is in this cohort; mark him on the roster instead.", name=name)
    if enrollment.cohort.version.program_id != session.cohort.version.program_id:
        return _(
            "%(name)s is in another program; a make-up must be the same program's module.",
            name=name,
        )
    if session.status is SessionStatus.CANCELLED:
        return _(
            "Session %(num)d of %(cohort)s was cancelled.",
            num=session.number,
            cohort=session.cohort.name,
        )
    if session.scheduled_at > utcnow():
        return _(
            "Session %(num)d of %(cohort)s has not happened yet (it starts %(when)s); "
            "record the make-up once he has attended it.",
            num=session.number,
            cohort=session.cohort.name,
            when=format_datetime(session.scheduled_at, session.cohort.timezone),
        )
    return None


def _makeup_case_refusal(session: Meeting, enrollment: Enrollment) -> str | None:
    """His case must be open, and started by the day of the session."""
    name = enrollment.participant.full_name
    if not enrollment.state.is_open:
        return _(
            "%(name)s's case is %(status)s; it is closed.",
            name=name,
            status=enrollment.state.label.lower(),
        )
    if session.local_date < enrollment.starts_on:
        return _(
            "%(name)s was not enrolled yet on %(date)s.",
            name=name,
            date=format_date(session.local_date),
        )
    return None


def _makeup_missed_refusal(session: Meeting, enrollment: Enrollment) -> str | None:
    """His own session of the module must exist, be past and not credited, and he must not
    be recorded here already."""
    name = enrollment.participant.full_name
    missed = own_session(enrollment, session.number)
    if missed is None:
        return _(
            "%(name)s's cohort has no session %(num)d to make up.", name=name, num=session.number
        )
    missed_day = format_date(missed.local_date)
    # A session held before his case started may be made up too: he still owes its module.
    record = _current(enrollment, missed)
    if record is None and missed.scheduled_at > utcnow():
        return _(
            "%(name)s's own session %(num)d is on %(date)s; "
            "a make-up is for a session he has already missed.",
            name=name,
            num=missed.number,
            date=missed_day,
        )
    if record is not None and is_credited(record.status, effective_policy(enrollment)):
        return _(
            "%(name)s already has credit for session %(num)d (%(status)s, %(date)s).",
            name=name,
            num=missed.number,
            status=record.status.label.lower(),
            date=missed_day,
        )
    if _current(enrollment, session) is not None:
        return _("%(name)s is already recorded at this session.", name=name)
    return None


def makeup_candidates(session: Meeting, actor: User) -> list[MakeupCandidate]:
    """Men of the program's other cohorts who may make up this session's module here and
    whose make-up `actor` may record (he sees no one else's name or case number)."""
    enrollments = db.session.scalars(
        select(Enrollment)
        .join(Cohort, Enrollment.cohort_id == Cohort.id)
        .join(CurriculumVersion, Cohort.version_id == CurriculumVersion.id)
        .where(
            CurriculumVersion.program_id == session.cohort.version.program_id,
            Enrollment.cohort_id != session.cohort_id,
            Enrollment.state.in_([EnrollmentState.REFERRED, EnrollmentState.ACTIVE]),
        )
    ).all()
    candidates = []
    for enrollment in enrollments:
        if not can_record_makeup(actor, enrollment, session):
            continue
        if makeup_refusal(session, enrollment) is None:
            missed = own_session(enrollment, session.number)
            candidates.append(MakeupCandidate(enrollment, missed, _current(enrollment, missed)))
    return sorted(candidates, key=lambda c: c.enrollment.participant.full_name)


def record_makeup(
    session: Meeting,
    enrollment: Enrollment,
    actor: User,
    minutes: int | None = None,
    note: str = "",
) -> Attendance:
    """He attended `session` (another cohort's) in place of his own session of that module:
    mark him present there, mark his own session made up, and link the two marks both ways."""
    if not can_record_makeup(actor, enrollment, session):
        raise ServiceError(
            _(
                "Only his own cohort's facilitators (who also run this session's cohort) and "
                "the program director can record his make-up."
            )
        )
    problem = makeup_refusal(session, enrollment)
    if problem:
        raise ServiceError(problem)
    if minutes is None:
        minutes = default_minutes(session, AttendanceStatus.MADE_UP)
    _check_minutes(session, minutes)
    missed = own_session(enrollment, session.number)
    missed_record = _current(enrollment, missed)
    day = format_date(session.local_date)
    attended = _record(
        session,
        enrollment,
        None,
        AttendanceStatus.PRESENT,
        minutes,
        actor,
        note,
        # Reasons in the history are records: kept in the words they were written in.
        f"Make-up for session {missed.number} of {enrollment.cohort.name}",
        action="attendance.makeup",
        missed_session_id=missed.id,
    )
    made_up = _record(
        missed,
        enrollment,
        missed_record,
        AttendanceStatus.MADE_UP,
        minutes,
        actor,
        missed_record.note if missed_record else "",
        f"Made up at {session.cohort.name} on {day}",
    )
    made_up.made_up_at_session = session
    made_up.linked_attendance = attended
    attended.linked_attendance = made_up
    db.session.flush()
    return attended
