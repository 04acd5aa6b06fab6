"""Marking attendance: first marks and corrections, each kept in an append-only history."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Enrollment,
    Session,
    SessionStatus,
    User,
    utcnow,
)
from . import ServiceError, audit


def local_date(session: Session):
    from zoneinfo import ZoneInfo

    return session.scheduled_at.astimezone(ZoneInfo(session.cohort.timezone)).date()


def mark(
    session: Session,
    enrollment: Enrollment,
    status: AttendanceStatus,
    minutes: int,
    actor: User,
    note: str = "",
    reason: str = "",
) -> Attendance:
    """Record one man's attendance at one session; a change needs a reason."""
    if enrollment.cohort_id != session.cohort_id:
        raise ServiceError(f"{enrollment.participant.full_name} is not in this session's cohort.")
    if session.status is SessionStatus.CANCELLED:
        raise ServiceError("This session was cancelled; attendance cannot be taken.")
    if session.scheduled_at > utcnow():
        raise ServiceError("This session has not happened yet; attendance cannot be taken.")
    if local_date(session) < enrollment.starts_on:
        raise ServiceError(
            f"{enrollment.participant.full_name} was not enrolled yet on {local_date(session)}."
        )
    if not enrollment.state.is_open:
        raise ServiceError(f"This case is {enrollment.state.label.lower()}; it is closed.")
    duration = session.module.duration_minutes
    if not 0 <= minutes <= duration:
        raise ServiceError(f"Minutes credited must be between 0 and {duration}.")

    record = db.session.scalar(
        select(Attendance).where(
            Attendance.enrollment_id == enrollment.id, Attendance.session_id == session.id
        )
    )
    if record is not None and (record.status, record.minutes_credited) == (status, minutes):
        if note != record.note:
            record.note = note
        return record  # nothing that counts changed, so there is nothing to justify
    if record is not None and not reason.strip():
        raise ServiceError(
            f"{enrollment.participant.full_name} was already marked "
            f"{record.status.label.lower()}; give a reason for the change."
        )
    change = AttendanceChange(
        from_status=record.status if record else None,
        from_minutes=record.minutes_credited if record else None,
        to_status=status,
        to_minutes=minutes,
        reason=reason.strip(),
        actor=actor,
    )
    if record is None:
        record = Attendance(enrollment=enrollment, session=session)
        db.session.add(record)
    record.status = status
    record.minutes_credited = minutes
    record.note = note
    record.recorded_by = actor
    record.recorded_at = utcnow()
    change.attendance = record
    db.session.add(change)
    if session.status is SessionStatus.SCHEDULED:
        session.status = SessionStatus.HELD
    db.session.flush()
    audit.record(
        "attendance.mark" if change.from_status is None else "attendance.change",
        actor,
        record,
        enrollment_id=enrollment.id,
        session_id=session.id,
        to=status.value,
        minutes=minutes,
        **(
            {"from": change.from_status.value, "reason": reason.strip()}
            if change.from_status
            else {}
        ),
    )
    return record
