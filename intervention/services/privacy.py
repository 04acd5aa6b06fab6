"""Everything the program holds about one participant, as plain data for a page or a JSON file."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from ..extensions import db
from ..models import Enrollment, User, utcnow
from ..models.attendance import Attendance
from ..models.certificates import CourtDocument
from . import audit


def _when(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _attendance(enrollment: Enrollment) -> list[dict]:
    rows = db.session.scalars(
        select(Attendance).where(Attendance.enrollment_id == enrollment.id)
    ).all()
    rows = sorted(rows, key=lambda a: a.session.scheduled_at)
    return [
        {
            "session": a.session.number,
            "module": a.session.module.title,
            "session_time": _when(a.session.scheduled_at),
            "status": a.status.value,
            "minutes_credited": a.minutes_credited,
            "note": a.note,
            "made_up_at_session": a.made_up_at_session.number if a.made_up_at_session else None,
            "recorded_at": _when(a.recorded_at),
            "history": [
                {
                    "from_status": c.from_status.value if c.from_status else None,
                    "to_status": c.to_status.value,
                    "from_minutes": c.from_minutes,
                    "to_minutes": c.to_minutes,
                    "reason": c.reason,
                    "at": _when(c.at),
                }
                for c in sorted(a.history, key=lambda c: c.at)
            ],
        }
        for a in rows
    ]


def _reflections(enrollment: Enrollment) -> list[dict]:
    items = sorted(
        enrollment.reflections,
        key=lambda r: (r.prompt.module.session_number, r.prompt.position),
    )
    return [
        {
            "session": r.prompt.module.session_number,
            "prompt": r.prompt.text,
            "state": r.state.value,
            "draft_text": r.draft_text,
            "draft_saved_at": _when(r.draft_saved_at),
            "attempts": [
                {
                    "number": a.number,
                    "text": a.text,
                    "word_count": a.word_count,
                    "submitted_at": _when(a.submitted_at),
                    "review": None
                    if a.review is None
                    else {
                        "outcome": a.review.outcome.value,
                        "comment": a.review.comment,
                        "rubric_scores": a.review.rubric_scores,
                        "reviewed_at": _when(a.review.created_at),
                    },
                }
                for a in sorted(r.attempts, key=lambda a: a.number)
            ],
        }
        for r in items
    ]


def _schedule(enrollment: Enrollment) -> list[dict]:
    return [
        {
            "session": s.number,
            "module": s.module.title,
            "time": _when(s.scheduled_at),
            "status": s.status.value,
            "moved_from": _when(s.rescheduled_from),
            "cancel_reason": s.cancel_reason,
        }
        for s in sorted(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    ]


def _enrollment(enrollment: Enrollment) -> dict:
    cohort = enrollment.cohort
    documents = db.session.scalars(
        select(CourtDocument)
        .where(CourtDocument.enrollment_id == enrollment.id)
        .order_by(CourtDocument.created_at)
    ).all()
    return {
        "id": enrollment.id,
        "court": enrollment.court.name,
        "case_number": enrollment.case_number,
        "program": cohort.version.program.title,
        "cohort": cohort.name,
        "location": cohort.location,
        "timezone": cohort.timezone,
        "referral_type": enrollment.referral_type.label,
        "referral_date": _when(enrollment.referral_date),
        "starts_on": _when(enrollment.starts_on),
        "completion_deadline": _when(enrollment.completion_deadline),
        "court_orders": enrollment.overrides or {},
        "state": enrollment.state.value,
        "state_changes": [
            {
                "from": t.from_state.value if t.from_state else None,
                "to": t.to_state.value,
                "reason": t.reason,
                "at": _when(t.at),
            }
            for t in enrollment.transitions
        ],
        "schedule": _schedule(enrollment),
        "attendance": _attendance(enrollment),
        "reflections": _reflections(enrollment),
        "certificates": [
            {
                "id": c.id,
                "number": c.number,
                "status": c.status.value,
                "status_reason": c.status_reason,
                "issued_at": _when(c.issued_at),
                "verification_code": c.verification_code,
                "sha256": c.sha256,
            }
            for c in enrollment.certificates
        ],
        "documents": [
            {
                "kind": d.kind.value,
                "reason": d.reason,
                "generated_at": _when(d.generated_at),
                "due_on": _when(d.due_on),
                "sent_at": _when(d.sent_at),
                "sha256": d.sha256,
            }
            for d in documents
        ],
    }


def participant_data(user: User) -> dict:
    """All of one man's records; only ever called with the signed-in man himself."""
    enrollments = db.session.scalars(
        select(Enrollment).where(Enrollment.participant_id == user.id).order_by(Enrollment.id)
    ).all()
    return {
        "exported_at": _when(utcnow()),
        "account": {
            "id": user.id,
            "full_name": user.full_name,
            "email": user.email,
            "role": user.role.value,
            "created_at": _when(user.created_at),
            "last_sign_in": _when(user.last_login_at),
            "two_step_sign_in": bool(user.totp_enabled),
            "calendar_link_active": user.calendar_token is not None,
        },
        "enrollments": [_enrollment(e) for e in enrollments],
    }


def record_export(user: User, fmt: str) -> None:
    audit.record("participant.data_export", user, user, format=fmt)
