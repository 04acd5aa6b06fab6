"""A man's session schedule: the lines of his schedule page, his private calendar feed (.ics)
and the secret token in the feed's URL."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vDuration
from sqlalchemy import func, select

from ..extensions import db
from ..i18n import format_datetime
from ..models import (
    AttendanceStatus,
    AuditEvent,
    Enrollment,
    Meeting,
    Role,
    SessionStatus,
    User,
    utcnow,
)
from . import audit

# The feed's name as a calendar app shows it. A calendar is often shared with family or seen
# on a lock screen, so nothing in the feed says what the program is about (see build_feed).
CALENDAR_NAME = "Weekly sessions"
# How often calendar apps that honour it should fetch the feed again.
REFRESH = timedelta(hours=6)


@dataclass
class ScheduleLine:
    """One session of his cohort as he should read it."""

    session: Meeting
    attendance: AttendanceStatus | None  # his mark, None while not marked
    counts: bool  # False for a session held before his enrollment began
    status: str  # upcoming, held or cancelled; a moved session is still upcoming or held
    is_next: bool = False

    @property
    def moved(self) -> bool:
        return self.session.rescheduled_from is not None

    @property
    def ends_at(self) -> datetime:
        return self.session.scheduled_at + timedelta(minutes=self.session.module.duration_minutes)


def schedule(enrollment: Enrollment, now: datetime | None = None) -> list[ScheduleLine]:
    """Every session of his cohort in time order, with his mark and the next one flagged."""
    now = now or utcnow()
    marks = {a.session_id: a.status for a in enrollment.attendance}
    lines = [
        ScheduleLine(
            session=session,
            attendance=marks.get(session.id),
            counts=session.local_date >= enrollment.starts_on,
            status=_status(session, now),
        )
        for session in sorted(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    ]
    upcoming = [line for line in lines if line.status == "upcoming"]
    if upcoming:
        upcoming[0].is_next = True
    return lines


def _status(session: Meeting, now: datetime) -> str:
    if session.status is SessionStatus.CANCELLED:
        return "cancelled"
    if session.status is SessionStatus.HELD or session.scheduled_at < now:
        return "held"
    return "upcoming"


# --- the private feed URL -------------------------------------------------------------------


def ensure_token(user: User) -> str:
    """His feed token, made on first use."""
    if user.calendar_token is None:
        user.calendar_token = secrets.token_urlsafe(32)
        db.session.flush()
        # The token is a secret: the audit log says that one was made, never what it is.
        audit.record("calendar.token_create", user, user)
    return user.calendar_token


def renew_token(user: User) -> str:
    """Replace his feed token: the old URL stops working at once."""
    had_one = user.calendar_token is not None
    user.calendar_token = secrets.token_urlsafe(32)
    db.session.flush()
    audit.record("calendar.token_renew", user, user, replaced=had_one)
    return user.calendar_token


def user_for_token(token: str) -> User | None:
    """The active participant this feed token belongs to, or None."""
    if not token:
        return None
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    if user is None or not user.active or user.role is not Role.PARTICIPANT:
        return None
    return user


# --- the feed itself ------------------------------------------------------------------------


def _where(session: Meeting) -> str:
    cohort = session.cohort
    return cohort.location or cohort.video_link


def _description(line: ScheduleLine, module_url: str) -> str:
    session = line.session
    cohort = session.cohort
    parts = []
    if line.status == "cancelled":
        parts.append(
            "This session is cancelled."
            + (f" Reason: {session.cancel_reason}" if session.cancel_reason else "")
        )
    if line.moved:
        old = format_datetime(session.rescheduled_from, cohort.timezone)
        parts.append(
            f"Moved from {old}."
            + (f" Reason: {session.reschedule_reason}" if session.reschedule_reason else "")
        )
    if not line.counts:
        parts.append("This session was before your start date. It does not count for you.")
    if cohort.location and cohort.video_link:
        parts.append(f"Video link: {cohort.video_link}")
    parts.append(f"The reading for this session (sign in first): {module_url}")
    return "\n\n".join(parts)


def _times_moved(sessions: list[Meeting]) -> dict[int, int]:
    """How often each session was moved, from the audit log (a session keeps only its
    latest previous time), so each move raises the event's SEQUENCE again."""
    ids = [s.id for s in sessions]
    if not ids:
        return {}
    rows = db.session.execute(
        select(AuditEvent.object_id, func.count(AuditEvent.id))
        .where(
            AuditEvent.action == "session.reschedule",
            AuditEvent.object_type == "session",
            AuditEvent.object_id.in_(ids),
        )
        .group_by(AuditEvent.object_id)
    )
    return {object_id: count for object_id, count in rows}


def build_feed(enrollment: Enrollment | None, module_url: Callable[[int], str]) -> bytes:
    """The .ics body: one event per session of his cohort, times in UTC. `module_url` gives
    the absolute address of a session's module page.

    Discretion: a phone calendar is seen by other people (family, co-workers, lock screens,
    shared calendars). So the calendar is called "Weekly sessions", each event is only
    "Session N" with its place and time, and the module title, the program's name, the court,
    the case number and his name never appear. The link leads to a page behind sign-in.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//Weekly sessions//Schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", CALENDAR_NAME)
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    if enrollment is None:
        return calendar.to_ical()
    stamp = utcnow().replace(microsecond=0)
    lines = schedule(enrollment)
    moves = _times_moved([line.session for line in lines])
    for line in lines:
        session = line.session
        url = module_url(session.number)
        event = Event()
        # Stable per session, so a moved or cancelled session updates the same event.
        event.add("uid", f"session-{session.id}@intervention")
        event.add("dtstamp", stamp)
        event.add("dtstart", session.scheduled_at)
        event.add("dtend", line.ends_at)
        event.add("summary", f"Session {session.number}")
        if _where(session):
            event.add("location", _where(session))
        event.add("url", url)
        event.add("description", _description(line, url))
        cancelled = line.status == "cancelled"
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        # Calendar apps only take an update whose sequence went up: one per move, one more
        # for the cancellation.
        moved = max(moves.get(session.id, 0), int(line.moved))
        event.add("sequence", moved + int(cancelled))
        event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
