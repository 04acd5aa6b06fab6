"""Scheduling: courts, cohorts and their weekly sessions, and moving or cancelling a session."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..i18n import DEFAULT as DEFAULT_LANGUAGE
from ..i18n import offered_languages
from ..models import (
    Attendance,
    Cohort,
    Court,
    CurriculumVersion,
    Role,
    Session,
    SessionStatus,
    User,
)
from ..names import clean_name
from ..templating import format_date
from . import ServiceError, audit

# Offered first in timezone menus; any other IANA name is accepted too.
COMMON_TIMEZONES = [
    ("America/New_York", "Eastern (New York)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Phoenix", "Mountain, no daylight saving (Phoenix)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NOTICE_DEADLINE_DAYS = range(1, 91)


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    return name in _known_timezones()


def _require_timezone(name: str) -> None:
    if not is_timezone(name):
        raise ServiceError(
            _(
                "“%(name)s” is not a timezone we know. Use an IANA name such as America/Chicago.",
                name=name,
            )
        )


def clock_time(at: time) -> str:
    """A wall-clock time as the pages show it: 6:30 PM."""
    return f"{at.hour % 12 or 12}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def local_to_utc(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a local wall-clock time; refuses a time the clocks skip."""
    if not 2000 <= day.year <= 2100:
        # Also keeps date arithmetic away from datetime's limits (year 1 and 9999).
        raise ServiceError(_("%(year)d is not a year sessions can be scheduled in.", year=day.year))
    zone = ZoneInfo(tz)
    local = datetime.combine(day, at.replace(second=0, microsecond=0), tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ServiceError(
            _(
                "%(time)s does not exist on %(date)s in %(tz)s: the clocks move forward then. "
                "Choose another time.",
                time=clock_time(at),
                date=format_date(day),
                tz=tz,
            )
        )
    return instant


def first_meeting(start: date, weekday: int) -> date:
    """The first day on or after `start` that falls on `weekday` (0 = Monday)."""
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def weekly_times(start: date, weekday: int, at: time, tz: str, count: int) -> list[datetime]:
    """One UTC instant a week at the same local time. Each week's local date and time is
    converted on its own, so a daylight-saving change moves the UTC hour, not the local one."""
    if not 2000 <= start.year <= 2100:
        raise ServiceError(
            _("%(year)d is not a year sessions can be scheduled in.", year=start.year)
        )
    first = first_meeting(start, weekday)
    return [local_to_utc(first + timedelta(weeks=i), at, tz) for i in range(count)]


# --- courts -------------------------------------------------------------------------------------


def _check_court(
    name: str, timezone: str, notice_deadline_days: int, language: str, court: Court | None
):
    if not name:
        raise ServiceError(_("Give the court's name."))
    _require_timezone(timezone)
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
    requires_date_of_birth: bool = True,
) -> Court:
    """A court that refers men; `language` is the language of the documents sent to it."""
    name, jurisdiction = clean_name(name), clean_name(jurisdiction)
    _check_court(name, timezone, notice_deadline_days, language, None)
    court = Court(
        name=name,
        jurisdiction=jurisdiction,
        timezone=timezone,
        notice_deadline_days=notice_deadline_days,
        language=language,
        requires_date_of_birth=requires_date_of_birth,
    )
    db.session.add(court)
    _flush_court(name)
    audit.record(
        "court.create",
        actor,
        court,
        name=name,
        jurisdiction=jurisdiction,
        timezone=timezone,
        notice_deadline_days=notice_deadline_days,
        language=language,
        requires_date_of_birth=requires_date_of_birth,
    )
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
    requires_date_of_birth: bool | None = None,
) -> Court:
    """Change a court's details; `language` None keeps its documents' language. Documents
    already issued keep the language they were issued in: stored PDFs never change."""
    name, jurisdiction = clean_name(name), clean_name(jurisdiction)
    language = language or court.language
    _check_court(name, timezone, notice_deadline_days, language, court)
    wanted = {
        "name": name,
        "jurisdiction": jurisdiction,
        "timezone": timezone,
        "notice_deadline_days": notice_deadline_days,
        "language": language,
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


# --- cohorts ------------------------------------------------------------------------------------


def _check_place(location: str, video_link: str) -> None:
    if not location and not video_link:
        raise ServiceError(_("Give a location, a video link, or both."))
    if video_link:
        parts = urlsplit(video_link)
        if parts.scheme != "https" or not parts.netloc:
            raise ServiceError(_("The video link must be a full https:// address."))


def _check_facilitators(facilitators: list[User]) -> None:
    if not facilitators:
        raise ServiceError(_("Choose at least one facilitator."))
    wrong = [u.full_name for u in facilitators if u.role is not Role.FACILITATOR or not u.active]
    if wrong:
        raise ServiceError(
            _("Not an active facilitator account: %(names)s.", names=", ".join(wrong))
        )


def create_cohort(
    *,
    name: str,
    version: CurriculumVersion,
    facilitators: list[User],
    start_date: date,
    weekday: int,
    start_time: time,
    timezone: str,
    location: str,
    video_link: str,
    actor: User,
) -> Cohort:
    """A cohort with one session per module of its version, weekly on the chosen day."""
    name, location, video_link = clean_name(name), location.strip(), video_link.strip()
    if not name:
        raise ServiceError(_("Give the cohort a name."))
    if weekday not in range(7):
        raise ServiceError(_("Choose the day of the week the cohort meets."))
    _require_timezone(timezone)
    _check_place(location, video_link)
    _check_facilitators(facilitators)
    if not version.modules:
        raise ServiceError(
            _("Version %(version)s has no modules to schedule.", version=version.label)
        )
    start_time = start_time.replace(second=0, microsecond=0)
    times = weekly_times(start_date, weekday, start_time, timezone, len(version.modules))
    cohort = Cohort(
        name=name,
        version=version,
        start_date=start_date,
        weekday=weekday,
        start_time=start_time,
        timezone=timezone,
        location=location,
        video_link=video_link,
        facilitators=list(facilitators),
    )
    db.session.add(cohort)
    for module, when in zip(version.modules, times, strict=True):
        db.session.add(Session(cohort=cohort, module=module, scheduled_at=when))
    db.session.flush()
    audit.record(
        "cohort.create",
        actor,
        cohort,
        name=name,
        version_id=version.id,
        facilitator_ids=[u.id for u in facilitators],
        weekday=WEEKDAYS[weekday],
        start_time=start_time.strftime("%H:%M"),
        timezone=timezone,
        first_session=times[0].isoformat(),
        sessions=len(times),
    )
    return cohort


def update_cohort(
    cohort: Cohort,
    *,
    name: str,
    location: str,
    video_link: str,
    facilitators: list[User],
    actor: User,
) -> Cohort:
    name, location, video_link = clean_name(name), location.strip(), video_link.strip()
    if not name:
        raise ServiceError(_("Give the cohort a name."))
    _check_place(location, video_link)
    _check_facilitators(facilitators)
    wanted = {"name": name, "location": location, "video_link": video_link}
    changes = {k: [getattr(cohort, k), v] for k, v in wanted.items() if getattr(cohort, k) != v}
    before = sorted(u.id for u in cohort.facilitators)
    after = sorted({u.id for u in facilitators})
    if before != after:
        changes["facilitator_ids"] = [before, after]
        cohort.facilitators = list(facilitators)
    if not changes:
        return cohort
    for key in wanted.keys() & changes.keys():
        setattr(cohort, key, wanted[key])
    db.session.flush()
    audit.record("cohort.update", actor, cohort, changes=changes)
    return cohort


# --- sessions -----------------------------------------------------------------------------------


def sessions_with_attendance(sessions: list[Session]) -> set[int]:
    """Ids of the sessions someone was marked at, or attended as a make-up for another."""
    ids = [s.id for s in sessions]
    if not ids:
        return set()
    marked = db.session.scalars(select(Attendance.session_id).where(Attendance.session_id.in_(ids)))
    made_up = db.session.scalars(
        select(Attendance.made_up_at_session_id).where(Attendance.made_up_at_session_id.in_(ids))
    )
    return set(marked) | set(made_up)


def has_attendance(session: Session) -> bool:
    return session.id in sessions_with_attendance([session])


def why_fixed(session: Session, action: str) -> str | None:
    """Why the session can no longer be moved or cancelled (`action`), or None if it can."""
    if session.status is SessionStatus.CANCELLED:
        if action == "cancelled":
            return _("Session %(num)d is already cancelled.", num=session.number)
        return _("Session %(num)d was cancelled; it cannot be moved.", num=session.number)
    if has_attendance(session):
        if action == "cancelled":
            return _(
                "Attendance is already marked for session %(num)d; "
                "a session with attendance cannot be cancelled.",
                num=session.number,
            )
        return _(
            "Attendance is already marked for session %(num)d; "
            "a session with attendance cannot be moved.",
            num=session.number,
        )
    return None


def local_when(session: Session) -> datetime:
    return session.scheduled_at.astimezone(ZoneInfo(session.cohort.timezone))


def reschedule_session(
    session: Session, *, day: date, at: time, reason: str, actor: User
) -> Session:
    """Move a session that nobody has been marked at; it keeps its old time and the reason."""
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give the reason for moving this session."))
    refusal = why_fixed(session, "moved")
    if refusal:
        raise ServiceError(refusal)
    cohort = session.cohort
    new = local_to_utc(day, at, cohort.timezone)
    if new == session.scheduled_at:
        raise ServiceError(_("Session %(num)d is already at that time.", num=session.number))
    others = [
        s for s in cohort.sessions if s is not session and s.status is not SessionStatus.CANCELLED
    ]
    before = [s for s in others if s.number < session.number]
    after = [s for s in others if s.number > session.number]
    if before:
        previous = max(before, key=lambda s: s.number)
        if new <= previous.scheduled_at:
            raise ServiceError(
                _(
                    "Session %(num)d would then come before session %(other)d (%(date)s). "
                    "Sessions keep the order of the modules.",
                    num=session.number,
                    other=previous.number,
                    date=format_date(local_when(previous)),
                )
            )
    if after:
        following = min(after, key=lambda s: s.number)
        if new >= following.scheduled_at:
            raise ServiceError(
                _(
                    "Session %(num)d would then come after session %(other)d (%(date)s). "
                    "Sessions keep the order of the modules.",
                    num=session.number,
                    other=following.number,
                    date=format_date(local_when(following)),
                )
            )
    old = session.scheduled_at
    session.rescheduled_from = old
    session.scheduled_at = new
    session.reschedule_reason = reason
    db.session.flush()
    audit.record(
        "session.reschedule",
        actor,
        session,
        cohort_id=cohort.id,
        number=session.number,
        **{"from": old.isoformat(), "to": new.isoformat(), "reason": reason},
    )
    return session


def cancel_session(session: Session, *, reason: str, actor: User) -> Session:
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give the reason for cancelling this session."))
    refusal = why_fixed(session, "cancelled")
    if refusal:
        raise ServiceError(refusal)
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    db.session.flush()
    audit.record(
        "session.cancel",
        actor,
        session,
        cohort_id=session.cohort_id,
        number=session.number,
        scheduled_at=session.scheduled_at.isoformat(),
        reason=reason,
    )
    return session
