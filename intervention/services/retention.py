"""Retention: anonymise closed cases once their program's retention period has passed."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Enrollment, User, utcnow
from ..models.attendance import Attendance, AttendanceChange
from ..models.enrollments import ContactAttempt, EnrollmentState
from . import ServiceError, audit

REMOVED = "[removed after the retention period]"
# What survives, and why: a court may still ask about a case years later.
KEPT = (
    "Kept: case number, court, dates, states, attendance statuses and certificates "
    "(number, status, verification code, SHA-256 and the issued PDF bytes) and court "
    "documents, so /verify still answers; a court document is immutable evidence once issued."
)


@dataclass
class RetentionReport:
    today: date
    dry_run: bool
    anonymised: Counter = field(default_factory=Counter)  # program title -> cases
    texts_only: Counter = field(default_factory=Counter)  # man still has another open case
    held: Counter = field(default_factory=Counter)  # legal hold placed by an admin
    enrollments: list[Enrollment] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.anonymised.values()) + sum(self.texts_only.values())


def closed_at(enrollment: Enrollment) -> datetime | None:
    """When the case closed: the time of its last transition, if it is in a closed state."""
    if enrollment.state.is_open or not enrollment.transitions:
        return None
    return max(t.at for t in enrollment.transitions)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def is_due(enrollment: Enrollment, today: date) -> bool:
    closed = closed_at(enrollment)
    if closed is None or enrollment.anonymized_at is not None:
        return False
    years = enrollment.cohort.version.program.retention_years
    return _add_years(closed.astimezone(UTC).date(), years) < today


def _scrub_case_texts(enrollment: Enrollment) -> None:
    for reflection in enrollment.reflections:
        if reflection.draft_text:
            reflection.draft_text = REMOVED
        for attempt in reflection.attempts:
            attempt.text = REMOVED
            if attempt.review is not None and attempt.review.comment:
                attempt.review.comment = REMOVED
    attendance = db.session.scalars(
        select(Attendance).where(Attendance.enrollment_id == enrollment.id)
    ).all()
    for row in attendance:
        row.note = ""
        for change in db.session.scalars(
            select(AttendanceChange).where(AttendanceChange.attendance_id == row.id)
        ):
            change.reason = ""
    for transition in enrollment.transitions:
        transition.reason = REMOVED
    # Contact outcomes and the recommendation's words are free text about him too.
    for contact in db.session.scalars(
        select(ContactAttempt).where(ContactAttempt.enrollment_id == enrollment.id)
    ):
        contact.outcome = REMOVED
    if enrollment.recommendation_text:
        enrollment.recommendation_text = REMOVED


def _anonymise_person(user: User) -> None:
    user.full_name = f"Former participant #{user.id}"
    user.email = f"former-participant-{user.id}@anonymised.invalid"
    # A random password nobody knows, an inactive account and a new session version.
    user.set_password(secrets.token_urlsafe(32))
    user.active = False
    user.session_version = (user.session_version or 1) + 1
    user.calendar_token = None
    user.totp_secret = None
    user.totp_enabled = False


def apply(today: date | None = None, *, dry_run: bool = False, actor: User | None = None):
    """Anonymise every closed case past its period and not on hold; one audit event per run."""
    today = today or utcnow().date()
    report = RetentionReport(today=today, dry_run=dry_run)
    closed_states = [s for s in EnrollmentState if not s.is_open]
    candidates = db.session.scalars(
        select(Enrollment)
        .where(Enrollment.state.in_(closed_states), Enrollment.anonymized_at.is_(None))
        .order_by(Enrollment.id)
    ).all()
    for enrollment in candidates:
        if not is_due(enrollment, today):
            continue
        title = enrollment.cohort.version.program.title
        if enrollment.legal_hold:
            report.held[title] += 1
            continue
        others_open = db.session.scalar(
            select(Enrollment.id).where(
                Enrollment.participant_id == enrollment.participant_id,
                Enrollment.id != enrollment.id,
                Enrollment.state.in_([s for s in EnrollmentState if s.is_open]),
            )
        )
        if others_open is None:
            report.anonymised[title] += 1
        else:
            report.texts_only[title] += 1
        report.enrollments.append(enrollment)
        if dry_run:
            continue
        _scrub_case_texts(enrollment)
        if others_open is None:
            _anonymise_person(enrollment.participant)
        enrollment.anonymized_at = utcnow()
    if not dry_run:
        db.session.flush()
        audit.record(
            "retention.apply",
            actor,
            today=today.isoformat(),
            anonymised=dict(report.anonymised),
            texts_only=dict(report.texts_only),
            held=dict(report.held),
            enrollment_ids=[e.id for e in report.enrollments],
        )
    return report


def set_hold(enrollment: Enrollment, hold: bool, reason: str, actor: User) -> Enrollment:
    """Place (reason required) or lift an admin's legal hold on one case."""
    reason = (reason or "").strip()
    if hold and not reason:
        raise ServiceError(_("Give the reason for the legal hold."))
    if enrollment.anonymized_at is not None and hold:
        raise ServiceError(_("This case was already anonymised; a hold can no longer keep it."))
    enrollment.legal_hold = hold
    enrollment.legal_hold_reason = reason if hold else ""
    db.session.flush()
    audit.record(
        "enrollment.legal_hold" if hold else "enrollment.legal_hold_lifted",
        actor,
        enrollment,
        reason=reason,
    )
    return enrollment


def held_cases() -> list[Enrollment]:
    """Cases under a legal hold, oldest first."""
    return list(
        db.session.scalars(
            select(Enrollment).where(Enrollment.legal_hold.is_(True)).order_by(Enrollment.id)
        )
    )


def cases_matching(case_number: str, limit: int = 50) -> list[Enrollment]:
    """Cases whose number contains `case_number`, oldest first (at most `limit`)."""
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(Enrollment.case_number.ilike(f"%{case_number}%"))
            .order_by(Enrollment.id)
            .limit(limit)
        )
    )
