"""Enrolling a man on a court's referral, and every later change of his case's state."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..i18n import format_date
from ..models import (
    ALLOWED_TRANSITIONS,
    Cohort,
    Court,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    ReferralType,
    Role,
    SessionStatus,
    User,
    utcnow,
)
from ..names import clean_name
from . import ServiceError, audit, cohorts

# Policy rules a court may order differently for one man, with their smallest allowed value.
OVERRIDE_RULES = {
    "sessions_required": 1,
    "max_absences": 0,
    "max_consecutive_absences": 0,
    "max_gap_days": 1,
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OPEN_STATES = [s for s in EnrollmentState if s.is_open]


def transition(
    enrollment: Enrollment, to_state: EnrollmentState, actor: User, reason: str
) -> Enrollment:
    if not reason.strip():
        raise ServiceError(_("Give a reason for this change of status."))
    if to_state not in ALLOWED_TRANSITIONS.get(enrollment.state, set()):
        raise ServiceError(
            _(
                "A case that is %(before)s cannot become %(after)s.",
                before=enrollment.state.label.lower(),
                after=to_state.label.lower(),
            )
        )
    step = EnrollmentTransition(
        enrollment=enrollment,
        from_state=enrollment.state,
        to_state=to_state,
        actor=actor,
        reason=reason.strip(),
    )
    db.session.add(step)
    previous = enrollment.state
    enrollment.state = to_state
    db.session.flush()
    # The reason stays on the transition, where retention can remove it; the event points there.
    audit.record(
        "enrollment.transition",
        actor,
        enrollment,
        **{"from": previous.value, "to": to_state.value, "transition_id": step.id},
    )
    return enrollment


def lock(enrollment: Enrollment) -> None:
    """On PostgreSQL, hold the case's row so two clicks cannot both act on its state."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            select(Enrollment.id).where(Enrollment.id == enrollment.id).with_for_update()
        )
        db.session.refresh(enrollment)


def new_participant(*, full_name: str, email: str, actor: User) -> User:
    """A participant account nobody can sign in to until he sets a password by invitation."""
    full_name, email = clean_name(full_name), email.strip().lower()
    if not full_name:
        raise ServiceError(_("Give the participant's full name."))
    if not EMAIL_RE.match(email):
        raise ServiceError(_("Give a valid email address, like name@example.com."))
    existing = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if existing is not None:
        raise ServiceError(
            _(
                "An account with the email %(email)s already exists (%(name)s). "
                "Choose it from the list of participants instead.",
                email=email,
                name=existing.full_name,
            )
        )
    user = User(email=email, full_name=full_name, role=Role.PARTICIPANT)
    user.set_password(secrets.token_urlsafe(32))  # random and never shown: unusable
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", actor, user, role=user.role.value)
    return user


def open_case(court: Court, case_number: str) -> Enrollment | None:
    """The open enrollment of this court's case, if there is one (case number ignores case)."""
    return db.session.scalar(
        select(Enrollment).where(
            Enrollment.court_id == court.id,
            func.upper(Enrollment.case_number) == case_number.strip().upper(),
            Enrollment.state.in_(OPEN_STATES),
        )
    )


def _duplicate(existing: Enrollment | None, court: Court, case_number: str) -> ServiceError:
    if existing is None:
        return ServiceError(
            _(
                "Case %(case)s at %(court)s already has an open enrollment.",
                case=case_number,
                court=court.name,
            )
        )
    return ServiceError(
        _(
            "Case %(case)s at %(court)s is already open: %(name)s in %(cohort)s (%(status)s). "
            "Close that enrollment before enrolling the case again.",
            case=existing.case_number,
            court=court.name,
            name=existing.participant.full_name,
            cohort=existing.cohort.name,
            status=existing.state.label.lower(),
        )
    )


def _check_overrides(overrides: dict) -> dict:
    stored = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in OVERRIDE_RULES:
            raise ServiceError(_("“%(rule)s” is not a rule a court can change.", rule=key))
        if not isinstance(value, int) or value < OVERRIDE_RULES[key]:
            label = key.replace("_", " ").capitalize()
            raise ServiceError(
                _(
                    "%(rule)s must be a whole number of at least %(min)d.",
                    rule=label,
                    min=OVERRIDE_RULES[key],
                )
            )
        stored[key] = value
    return stored


# The referral's parties kept on the enrollment, as free text (a name and office each).
PARTIES = ("court_department", "prosecutor", "defense_attorney", "probation_officer")
PARTY_MAX = 200
OLDEST_BIRTH_YEAR = 1900


def _check_parties(parties: dict[str, str]) -> dict[str, str]:
    unknown = set(parties) - set(PARTIES)
    if unknown:
        raise TypeError(f"unknown referral parties: {sorted(unknown)}")
    cleaned = {key: clean_name(parties.get(key) or "") for key in PARTIES}
    if any(len(value) > PARTY_MAX for value in cleaned.values()):
        raise ServiceError(_("Keep each name and office under %(num)d characters.", num=PARTY_MAX))
    return cleaned


def _check_date_of_birth(court: Court, date_of_birth: date | None, referral_date: date) -> None:
    if date_of_birth is None:
        if court.requires_date_of_birth:
            raise ServiceError(
                _("Give his date of birth: %(court)s identifies him by it.", court=court.name)
            )
        return
    if date_of_birth.year < OLDEST_BIRTH_YEAR or date_of_birth >= referral_date:
        raise ServiceError(_("Give a date of birth before the referral date."))


def enroll(
    *,
    participant: User,
    cohort: Cohort,
    court: Court,
    case_number: str,
    referral_type: ReferralType,
    referral_date: date,
    completion_deadline: date | None,
    starts_on: date | None,
    overrides: dict,
    note: str,
    actor: User,
    date_of_birth: date | None = None,
    court_person_number: str = "",
    parties: dict[str, str] | None = None,
) -> Enrollment:
    """Record a court's referral and enroll the man in a cohort: referred, then active.

    `date_of_birth` is required unless his court says otherwise; `parties` holds the
    referral's court department or judge, prosecutor, defense attorney and probation officer
    (PARTIES), whom the court documents address."""
    case_number = clean_name(case_number)  # shown to courts beside his name: same risk
    if not case_number:
        raise ServiceError(_("Give the case or docket number."))
    court_person_number = clean_name(court_person_number or "")
    parties = _check_parties(parties or {})
    _check_date_of_birth(court, date_of_birth, referral_date)
    _check_participant_and_deadline(participant, referral_date, completion_deadline)
    stored_overrides = _check_overrides(overrides)
    now = utcnow()
    starts_on = starts_on or _first_day(cohort, now)
    _check_sessions_ahead(cohort, starts_on, now)

    existing = open_case(court, case_number)
    if existing is not None:
        raise _duplicate(existing, court, case_number)
    db.session.flush()  # a new participant account gets its id before the savepoint
    # Built from ids, not relationships, so the row reaches the session only inside the
    # savepoint below (a relationship would cascade it in at once).
    enrollment = Enrollment(
        participant_id=participant.id,
        cohort_id=cohort.id,
        court_id=court.id,
        case_number=case_number,
        referral_type=referral_type,
        referral_date=referral_date,
        completion_deadline=completion_deadline,
        starts_on=starts_on,
        overrides=stored_overrides,
        state=EnrollmentState.REFERRED,
        date_of_birth=date_of_birth,
        court_person_number=court_person_number,
        **parties,
    )
    _insert_enrollment(enrollment, court, case_number)
    _record_referral(enrollment, court, note, actor)
    _audit_enrollment_created(enrollment, actor, stored_overrides, parties)
    return transition(enrollment, EnrollmentState.ACTIVE, actor, f"Enrolled by {actor.full_name}.")


def _check_participant_and_deadline(
    participant: User, referral_date: date, completion_deadline: date | None
) -> None:
    if participant.role is not Role.PARTICIPANT:
        raise ServiceError(_("%(name)s is not a participant account.", name=participant.full_name))
    if completion_deadline is not None and completion_deadline <= referral_date:
        raise ServiceError(_("The completion deadline must be after the referral date."))


def _first_day(cohort: Cohort, now: datetime) -> date:
    """His case starts today where the cohort meets (in the evening in Los Angeles it is
    already tomorrow in UTC, and that evening's session counts for a man enrolled that
    afternoon), or on the cohort's first day if it has not begun."""
    return max(now.astimezone(ZoneInfo(cohort.timezone)).date(), cohort.start_date)


def _check_sessions_ahead(cohort: Cohort, starts_on: date, now: datetime) -> None:
    """Refuse a cohort with no session left to attend, or none on or after his start day."""
    sessions = [s for s in cohort.sessions if s.status is not SessionStatus.CANCELLED]
    if not cohorts.still_meets(cohort, now):
        raise ServiceError(
            _(
                "Every session of %(cohort)s has already been held. "
                "Choose a cohort with sessions still ahead.",
                cohort=cohort.name,
            )
        )
    if not any(s.local_date >= starts_on for s in sessions):
        raise ServiceError(
            _(
                "No session of %(cohort)s falls on or after %(date)s, the day his enrollment "
                "starts.",
                cohort=cohort.name,
                date=format_date(starts_on),
            )
        )


def _insert_enrollment(enrollment: Enrollment, court: Court, case_number: str) -> None:
    """Insert the enrollment, or say the case is already open if another one just was."""
    try:
        # A savepoint, so losing a race to a concurrent enrollment of the same case (the
        # partial unique index) leaves the transaction usable and answers with the message.
        with db.session.begin_nested():
            db.session.add(enrollment)
            db.session.flush()
    except IntegrityError:
        raise _duplicate(open_case(court, case_number), court, case_number) from None
    db.session.refresh(enrollment)


def _record_referral(enrollment: Enrollment, court: Court, note: str, actor: User) -> None:
    """The case's first transition, into referred, with the court and the staff's note."""
    note = note.strip()
    referral = f"Referral from {court.name}" + (f": {note}" if note else ".")
    db.session.add(
        EnrollmentTransition(
            enrollment=enrollment,
            from_state=None,
            to_state=EnrollmentState.REFERRED,
            actor=actor,
            reason=referral,
        )
    )
    db.session.flush()


def _audit_enrollment_created(
    enrollment: Enrollment, actor: User, stored_overrides: dict, parties: dict[str, str]
) -> None:
    audit.record(
        "enrollment.create",
        actor,
        enrollment,
        participant_id=enrollment.participant_id,
        cohort_id=enrollment.cohort_id,
        court_id=enrollment.court_id,
        referral_type=enrollment.referral_type.value,
        referral_date=enrollment.referral_date.isoformat(),
        completion_deadline=(
            enrollment.completion_deadline.isoformat() if enrollment.completion_deadline else None
        ),
        starts_on=enrollment.starts_on.isoformat(),
        overrides=stored_overrides,
        # Whether they were given, never the values: the audit log holds no one's identity.
        date_of_birth_given=enrollment.date_of_birth is not None,
        court_person_number_given=bool(enrollment.court_person_number),
        parties_given=sorted(k for k, v in parties.items() if v),
    )


def update_referral_details(
    enrollment: Enrollment,
    *,
    date_of_birth: date | None,
    court_person_number: str,
    parties: dict[str, str],
    actor: User,
) -> Enrollment:
    """Correct who he is and to whom his documents go. Documents already issued keep what
    they said (stored PDFs never change); the next ones use the corrected values."""
    court_person_number = clean_name(court_person_number or "")
    parties = _check_parties(parties)
    _check_date_of_birth(enrollment.court, date_of_birth, enrollment.referral_date)
    wanted = {"date_of_birth": date_of_birth, "court_person_number": court_person_number}
    wanted.update(parties)
    changed = sorted(k for k, v in wanted.items() if getattr(enrollment, k) != v)
    if not changed:
        return enrollment
    for key in changed:
        setattr(enrollment, key, wanted[key])
    db.session.flush()
    # Which fields changed, never their values: the audit log holds no one's identity.
    audit.record("enrollment.referral_update", actor, enrollment, fields=changed)
    return enrollment


def search(
    *,
    case_number: str = "",
    court_id: int | None = None,
    cohort_id: int | None = None,
    state: EnrollmentState | None = None,
) -> Select:
    """Enrollments newest first, narrowed by any of: part of the case number, court, cohort,
    state. Returns the query, for the page to paginate."""
    query = (
        select(Enrollment)
        .join(User, Enrollment.participant_id == User.id)
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())
    )
    if case_number:
        query = query.where(Enrollment.case_number.ilike(f"%{case_number}%"))
    if court_id:
        query = query.where(Enrollment.court_id == court_id)
    if cohort_id:
        query = query.where(Enrollment.cohort_id == cohort_id)
    if state is not None:
        query = query.where(Enrollment.state == state)
    return query


# A program may hold tens of thousands of men: a form offers those a search found, never all.
PARTICIPANT_MATCHES = 25


def find_participants(find: str, chosen: int | None = None) -> list[User]:
    """Active participants whose name or email contains `find` (at most PARTICIPANT_MATCHES),
    plus the one already chosen (a link's ?participant=, or the posted form)."""
    active = select(User).where(User.role == Role.PARTICIPANT, User.active)
    found: list[User] = []
    if find:
        needle = find.lower()
        found = list(
            db.session.scalars(
                active.where(
                    func.lower(User.full_name).contains(needle, autoescape=True)
                    | func.lower(User.email).contains(needle, autoescape=True)
                )
                .order_by(User.full_name, User.id)
                .limit(PARTICIPANT_MATCHES)
            )
        )
    if chosen and all(u.id != chosen for u in found):
        found[:0] = db.session.scalars(active.where(User.id == chosen)).all()
    return found


def latest_enrollment(user: User, *options) -> Enrollment | None:
    """His current case: the most recent one, as on his own pages, with what the page will
    read of it loaded up front (`options`, see services.loading)."""
    return db.session.scalar(
        select(Enrollment)
        .where(Enrollment.participant_id == user.id)
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())
        .limit(1)
        .options(*options)
    )
