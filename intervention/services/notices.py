"""Non-compliance notices: one draft per broken rule, due to the court within its deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    CONTACT_METHODS,
    RECOMMENDATIONS,
    ContactAttempt,
    CourtDocument,
    DocumentKind,
    Enrollment,
    EnrollmentState,
    User,
    utcnow,
)
from . import ServiceError, audit, completion, completion_text

# How a notice reached the court; stored as the label the clerk would recognise (in English:
# it is a record, shown as stored).
SEND_METHODS = ("Mail", "Email", "Fax", "Hand delivery", "E-filing")


def court_today(enrollment: Enrollment) -> date:
    return utcnow().astimezone(ZoneInfo(enrollment.court.timezone)).date()


def _created_on(notice: CourtDocument) -> date:
    return notice.created_at.astimezone(ZoneInfo(notice.enrollment.court.timezone)).date()


def notices_for(enrollment: Enrollment) -> list[CourtDocument]:
    return list(
        db.session.scalars(
            select(CourtDocument)
            .where(
                CourtDocument.enrollment_id == enrollment.id,
                CourtDocument.kind == DocumentKind.NONCOMPLIANCE_NOTICE,
            )
            .order_by(CourtDocument.created_at, CourtDocument.id)
        )
    )


def draft_for(
    enrollment: Enrollment, actor: User | None = None, today: date | None = None
) -> list[CourtDocument]:
    """Draft a notice for each rule the engine says is broken, unless one is already open for
    that rule, or this breach (same rule, broken since the same day) was already noticed.
    Returns the notices drafted now.

    The reason is stored with the notice and printed on it as the finding, so it is written
    in the court's language, whoever's action drafted it; it stays as written."""
    if not enrollment.state.is_open:
        return []
    result = completion.evaluate(enrollment, today=today)
    if not result.breaches:
        return []
    today = today or court_today(enrollment)
    existing = notices_for(enrollment)
    drafted = []
    for breach in result.breaches:
        same_rule = [n for n in existing if n.rule == breach.rule]
        if any(n.sent_at is None for n in same_rule):
            continue
        if any(_created_on(n) >= breach.since for n in same_rule):
            continue  # sent already: this breach is known to the court
        with force_locale(enrollment.court.language):
            finding = completion_text.breach_reason(breach)
        notice = CourtDocument(
            enrollment=enrollment,
            kind=DocumentKind.NONCOMPLIANCE_NOTICE,
            rule=breach.rule,
            reason=finding,
            due_on=today + timedelta(days=enrollment.court.notice_deadline_days),
            created_at=utcnow(),
        )
        db.session.add(notice)
        db.session.flush()
        audit.record(
            "notice.draft",
            actor,
            notice,
            enrollment_id=enrollment.id,
            rule=breach.rule,
            reason=notice.reason,
            due_on=notice.due_on.isoformat(),
        )
        drafted.append(notice)
    return drafted


def scan(today: date | None = None) -> list[CourtDocument]:
    """Draft notices for breaches that came with the passage of time (gap, deadline)."""
    drafted = []
    open_cases = db.session.scalars(
        select(Enrollment)
        .where(Enrollment.state.in_([EnrollmentState.REFERRED, EnrollmentState.ACTIVE]))
        .order_by(Enrollment.id)
    )
    for enrollment in open_cases:
        drafted += draft_for(enrollment, None, today=today)
    return drafted


def is_overdue(notice: CourtDocument, today: date | None = None) -> bool:
    if notice.sent_at is not None or notice.due_on is None:
        return False
    return notice.due_on < (today or court_today(notice.enrollment))


def days_overdue(notice: CourtDocument, today: date | None = None) -> int:
    return ((today or court_today(notice.enrollment)) - notice.due_on).days


def overdue(cohort_ids: Select | list[int] | None = None) -> list[CourtDocument]:
    """Unsent notices past their due date, oldest due first, of the cohorts with these ids
    (a list, or a query of ids); all cohorts when None."""
    query = (
        select(CourtDocument)
        .join(Enrollment, CourtDocument.enrollment_id == Enrollment.id)
        .where(
            CourtDocument.kind == DocumentKind.NONCOMPLIANCE_NOTICE,
            CourtDocument.sent_at.is_(None),
            # A day of slack for the courts' timezones; is_overdue decides exactly.
            CourtDocument.due_on < utcnow().date() + timedelta(days=1),
        )
        .order_by(CourtDocument.due_on, CourtDocument.id)
        # The case's court (its calendar decides) and what the lists show of the case.
        .options(
            joinedload(CourtDocument.enrollment).joinedload(Enrollment.court),
            joinedload(CourtDocument.enrollment).joinedload(Enrollment.participant),
            joinedload(CourtDocument.enrollment).joinedload(Enrollment.cohort),
        )
    )
    if cohort_ids is not None:
        query = query.where(Enrollment.cohort_id.in_(cohort_ids))
    return [n for n in db.session.scalars(query) if is_overdue(n)]


def open_count(cohort_ids: Select | list[int] | None = None) -> int:
    """Unsent notices of the cohorts with these ids (as for overdue); all when None."""
    query = (
        select(CourtDocument.id)
        .join(Enrollment, CourtDocument.enrollment_id == Enrollment.id)
        .where(
            CourtDocument.kind == DocumentKind.NONCOMPLIANCE_NOTICE,
            CourtDocument.sent_at.is_(None),
        )
    )
    if cohort_ids is not None:
        query = query.where(Enrollment.cohort_id.in_(cohort_ids))
    return len(db.session.scalars(query).all())


def mark_sent(notice: CourtDocument, sent_on: date, method: str, actor: User) -> CourtDocument:
    """Record that the notice reached the court: the day and how."""
    if notice.kind is not DocumentKind.NONCOMPLIANCE_NOTICE:
        raise ServiceError(_("Only a non-compliance notice is marked as sent here."))
    if notice.sent_at is not None:
        raise ServiceError(
            _("This notice was already marked sent (%(method)s).", method=notice.sent_method)
        )
    if method not in SEND_METHODS:
        raise ServiceError(
            _("Choose how the notice was sent: %(methods)s.", methods=", ".join(SEND_METHODS))
        )
    tz = ZoneInfo(notice.enrollment.court.timezone)
    today = utcnow().astimezone(tz).date()
    if sent_on > today:
        raise ServiceError(_("The date sent cannot be in the future."))
    if sent_on < _created_on(notice):
        raise ServiceError(_("The date sent cannot be before the notice was drafted."))
    # The court's business day is what counts; noon keeps the date in every timezone nearby.
    notice.sent_at = (
        utcnow() if sent_on == today else datetime.combine(sent_on, time(12), tzinfo=tz)
    ).astimezone(UTC)
    notice.sent_method = method
    db.session.flush()
    audit.record(
        "notice.sent",
        actor,
        notice,
        enrollment_id=notice.enrollment_id,
        rule=notice.rule,
        sent_on=sent_on.isoformat(),
        method=method,
        overdue=sent_on > notice.due_on if notice.due_on else False,
    )
    return notice


def record_contact(
    enrollment: Enrollment, actor: User, *, on: date, method: str, outcome: str
) -> ContactAttempt:
    """An attempt to reach him, for the notices and termination report generated after it."""
    outcome = " ".join((outcome or "").split())
    if method not in CONTACT_METHODS:
        raise ServiceError(_("Choose how you tried to reach him."))
    if not outcome:
        raise ServiceError(_("Say what came of it, e.g. \u201cno answer\u201d."))
    if on > court_today(enrollment):
        raise ServiceError(_("The date of a contact attempt cannot be in the future."))
    attempt = ContactAttempt(
        enrollment_id=enrollment.id, on=on, method=method, outcome=outcome, recorded_by=actor
    )
    db.session.add(attempt)
    db.session.flush()
    # Ids and the method only: the outcome is free text about a person.
    audit.record("contact.record", actor, enrollment, contact_id=attempt.id, method=method)
    return attempt


def contacts_for(enrollment: Enrollment) -> list[ContactAttempt]:
    return list(
        db.session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.enrollment_id == enrollment.id)
            .order_by(ContactAttempt.on, ContactAttempt.id)
        )
    )


def set_recommendation(
    enrollment: Enrollment,
    actor: User,
    *,
    recommendation: str,
    text: str,
    may_reenroll: bool | None,
) -> Enrollment:
    """What the program recommends to the court; printed on the next notice or termination
    report (documents already generated keep what they said)."""
    if recommendation not in RECOMMENDATIONS:
        raise ServiceError(_("Choose a recommendation."))
    enrollment.recommendation = recommendation
    enrollment.recommendation_text = (text or "").strip()
    enrollment.may_reenroll = may_reenroll
    db.session.flush()
    audit.record(
        "case.recommendation",
        actor,
        enrollment,
        recommendation=recommendation,
        may_reenroll=may_reenroll,
    )
    return enrollment
