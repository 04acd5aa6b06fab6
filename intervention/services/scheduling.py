"""Scheduling: cohorts and their weekly sessions, public holidays, and moving or cancelling
a session. (Courts, whose holidays and timezones these follow, are in courts.py.)"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import holidays as public_holidays
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import format_clock, format_date
from ..models import (
    Attendance,
    Cohort,
    Court,
    CurriculumVersion,
    Meeting,
    Role,
    SessionStatus,
    User,
)
from ..names import clean_name
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


def require_timezone(name: str) -> None:
    if not is_timezone(name):
        raise ServiceError(
            _(
                "“%(name)s” is not a timezone we know. Use an IANA name such as America/Chicago.",
                name=name,
            )
        )


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
                time=format_clock(at),
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


# --- public holidays ----------------------------------------------------------------------------
# Courts are closed and men expect no class on their state's public holidays. The calendars are
# the `holidays` library's (the one Home Assistant and pandas users rely on), by US state.

# Two-letter code -> name, for the court form's menu.
US_STATES = dict(
    sorted((code, name) for name, code in public_holidays.US.subdivisions_aliases.items())
)
# How to treat a session that falls on a holiday: warn (and change nothing), move it to the next
# free day, or keep the date deliberately (recorded on the session and in the audit log).
HOLIDAY_CHOICES = ("warn", "move", "keep")
# How far past a holiday the next free day is looked for.
_FREE_DAY_SEARCH = 6


def state_from_jurisdiction(jurisdiction: str) -> str:
    """The state a jurisdiction names in full ("King County, Washington"), or ""."""
    names = sorted(public_holidays.US.subdivisions_aliases.items(), key=lambda kv: -len(kv[0]))
    for name, code in names:
        if re.search(rf"\b{re.escape(name)}\b", jurisdiction, re.IGNORECASE):
            return code
    return ""


@functools.cache
def _calendar(state: str, year: int):
    return public_holidays.country_holidays("US", subdiv=state, years=year)


def holiday_on(day: date, states: Iterable[str]) -> str:
    """The public holiday(s) on `day` in any of `states`, named with their states, or ""."""
    found: dict[str, list[str]] = {}
    for state in sorted(set(states)):
        name = _calendar(state, day.year).get(day)
        if name:
            found.setdefault(name, []).append(state)
    return "; ".join(f"{name} ({', '.join(codes)})" for name, codes in found.items())


def court_states() -> list[str]:
    """The states of every court the program serves (a new cohort may take men from any)."""
    return sorted(set(db.session.scalars(select(Court.state).where(Court.state != ""))))


def cohort_states(cohort: Cohort) -> list[str]:
    """The states of the courts that sent the cohort's men; all courts' before anyone enrolls."""
    states = {e.court.state for e in cohort.enrollments if e.court.state}
    return sorted(states) if cohort.enrollments else court_states()


@dataclass(frozen=True)
class HolidayClash:
    number: int
    day: date
    holiday: str
    free_day: date | None  # the next free day, None if none within a week


class HolidayWarning(ServiceError):
    """Raised instead of scheduling on a holiday unless the caller chose to move or keep."""

    def __init__(self, clashes: list[HolidayClash]):
        self.clashes = clashes
        super().__init__(
            " ".join(
                _(
                    "Session %(num)d falls on %(date)s, %(holiday)s.",
                    num=c.number,
                    date=format_date(c.day),
                    holiday=c.holiday,
                )
                for c in clashes
            )
        )


def next_free_day(
    day: date, states: Iterable[str], taken: set[date], before: date | None = None
) -> date | None:
    """The first day after `day` that is no holiday and has no other session of the cohort,
    earlier than `before` (the next session, so the modules keep their order)."""
    states = list(states)
    for offset in range(1, _FREE_DAY_SEARCH + 1):
        candidate = day + timedelta(days=offset)
        if before is not None and candidate >= before:
            return None
        if candidate not in taken and not holiday_on(candidate, states):
            return candidate
    return None


def _check_holiday_choice(on_holiday: str) -> None:
    if on_holiday not in HOLIDAY_CHOICES:
        raise ServiceError(_("Choose whether to move the session or keep the date."))


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
    on_holiday: str = "warn",
) -> Cohort:
    """A cohort with one session per module of its version, weekly on the chosen day. A session
    on a public holiday of a court's state raises HolidayWarning unless `on_holiday` says to
    move it to the next free day or keep the date."""
    name, location, video_link = clean_name(name), location.strip(), video_link.strip()
    _check_new_cohort(name, version, facilitators, weekday, timezone, location, video_link)
    _check_holiday_choice(on_holiday)
    start_time = start_time.replace(second=0, microsecond=0)
    times = weekly_times(start_date, weekday, start_time, timezone, len(version.modules))
    times, kept, moved = avoid_holidays(times, start_time, timezone, court_states(), on_holiday)
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
    _add_cohort_sessions(cohort, version, times, kept)
    db.session.flush()
    _audit_cohort_created(cohort, actor, facilitators, times, kept, moved)
    return cohort


def _check_new_cohort(
    name: str,
    version: CurriculumVersion,
    facilitators: list[User],
    weekday: int,
    timezone: str,
    location: str,
    video_link: str,
) -> None:
    """Refuse a new cohort's choices, first problem first, before anything is scheduled."""
    if not name:
        raise ServiceError(_("Give the cohort a name."))
    if weekday not in range(7):
        raise ServiceError(_("Choose the day of the week the cohort meets."))
    require_timezone(timezone)
    _check_place(location, video_link)
    _check_facilitators(facilitators)
    if not version.modules:
        raise ServiceError(
            _("Version %(version)s has no modules to schedule.", version=version.label)
        )


def _add_cohort_sessions(
    cohort: Cohort, version: CurriculumVersion, times: list[datetime], kept: dict[int, str]
) -> None:
    """One session per module, in module order, at the scheduled times."""
    for i, (module, when) in enumerate(zip(version.modules, times, strict=True)):
        db.session.add(
            Meeting(cohort=cohort, module=module, scheduled_at=when, holiday_kept=kept.get(i, ""))
        )


def _audit_cohort_created(
    cohort: Cohort,
    actor: User,
    facilitators: list[User],
    times: list[datetime],
    kept: dict[int, str],
    moved: list[dict],
) -> None:
    audit.record(
        "cohort.create",
        actor,
        cohort,
        name=cohort.name,
        version_id=cohort.version.id,
        facilitator_ids=[u.id for u in facilitators],
        weekday=WEEKDAYS[cohort.weekday],
        start_time=cohort.start_time.strftime("%H:%M"),
        timezone=cohort.timezone,
        first_session=times[0].isoformat(),
        sessions=len(times),
        holidays_kept=[
            {
                "number": i + 1,
                "date": times[i].astimezone(ZoneInfo(cohort.timezone)).date().isoformat(),
                "holiday": holiday,
            }
            for i, holiday in sorted(kept.items())
        ],
        holidays_moved=moved,
    )


def avoid_holidays(
    times: list[datetime], at: time, tz: str, states: list[str], on_holiday: str
) -> tuple[list[datetime], dict[int, str], list[dict]]:
    """The weekly times with holidays handled as chosen: the times, the holiday kept by index,
    and the moves made. Raises HolidayWarning when told to warn and a session falls on one."""
    zone = ZoneInfo(tz)
    days = [t.astimezone(zone).date() for t in times]
    clashes, kept, moved = [], {}, []
    for i, day in enumerate(days):
        name = holiday_on(day, states)
        if not name:
            continue
        before = days[i + 1] if i + 1 < len(days) else None
        free = next_free_day(day, states, set(days), before)
        clashes.append(HolidayClash(i + 1, day, name, free))
        if on_holiday == "keep":
            kept[i] = name
        elif on_holiday == "move":
            if free is None:
                raise ServiceError(
                    _(
                        "Session %(num)d falls on %(date)s, %(holiday)s, and no free day "
                        "follows before the next session. Choose another start date or keep "
                        "the date.",
                        num=i + 1,
                        date=format_date(day),
                        holiday=name,
                    )
                )
            days[i] = free
            times[i] = local_to_utc(free, at, tz)
            moved.append(
                {"number": i + 1, "from": day.isoformat(), "to": free.isoformat(), "holiday": name}
            )
    if clashes and on_holiday == "warn":
        raise HolidayWarning(clashes)
    return times, kept, moved


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


def sessions_with_attendance(sessions: list[Meeting]) -> set[int]:
    """Ids of the sessions someone was marked at, or attended as a make-up for another."""
    ids = [s.id for s in sessions]
    if not ids:
        return set()
    marked = db.session.scalars(select(Attendance.session_id).where(Attendance.session_id.in_(ids)))
    made_up = db.session.scalars(
        select(Attendance.made_up_at_session_id).where(Attendance.made_up_at_session_id.in_(ids))
    )
    return set(marked) | set(made_up)


def has_attendance(session: Meeting) -> bool:
    return session.id in sessions_with_attendance([session])


def why_fixed(session: Meeting, action: str) -> str | None:
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


def local_when(session: Meeting) -> datetime:
    return session.scheduled_at.astimezone(ZoneInfo(session.cohort.timezone))


def reschedule_session(
    session: Meeting, *, day: date, at: time, reason: str, actor: User, on_holiday: str = "warn"
) -> Meeting:
    """Move a session that nobody has been marked at; it keeps its old time and the reason.
    A new day on a public holiday raises HolidayWarning unless `on_holiday` says to move it on
    to the next free day or keep it."""
    _check_holiday_choice(on_holiday)
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give the reason for moving this session."))
    refusal = why_fixed(session, "moved")
    if refusal:
        raise ServiceError(refusal)
    cohort = session.cohort
    local_to_utc(day, at, cohort.timezone)  # refuses a year or a time that cannot be
    others = [
        s for s in cohort.sessions if s is not session and s.status is not SessionStatus.CANCELLED
    ]
    day, holiday = _day_clear_of_holiday(session, others, day, on_holiday)
    new = local_to_utc(day, at, cohort.timezone)
    if new == session.scheduled_at:
        raise ServiceError(_("Session %(num)d is already at that time.", num=session.number))
    _check_session_order(session, others, new)
    old = session.scheduled_at
    session.rescheduled_from = old
    session.scheduled_at = new
    session.reschedule_reason = reason
    session.holiday_kept = holiday
    db.session.flush()
    audit.record(
        "session.reschedule",
        actor,
        session,
        cohort_id=cohort.id,
        number=session.number,
        **{"from": old.isoformat(), "to": new.isoformat(), "reason": reason},
        holiday_kept=holiday,
    )
    return session


def _day_clear_of_holiday(
    session: Meeting, others: list[Meeting], day: date, on_holiday: str
) -> tuple[date, str]:
    """The day the session moves to and the holiday it keeps there ("" if none), as
    `on_holiday` says; HolidayWarning when told to warn or when no free day follows."""
    states = cohort_states(session.cohort)
    holiday = holiday_on(day, states)
    if holiday and on_holiday != "keep":
        later = [local_when(s).date() for s in others if s.number > session.number]
        free = next_free_day(
            day, states, {local_when(s).date() for s in others}, min(later, default=None)
        )
        if on_holiday == "warn" or free is None:
            raise HolidayWarning([HolidayClash(session.number, day, holiday, free)])
        day, holiday = free, ""
    return day, holiday


def _check_session_order(session: Meeting, others: list[Meeting], new: datetime) -> None:
    """Refuse a time before the previous session or after the next: sessions keep module order."""
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


def cancel_session(session: Meeting, *, reason: str, actor: User) -> Meeting:
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
