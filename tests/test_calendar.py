"""The private calendar feed: what a phone's calendar receives, that it gives nothing away about
the program or the case, and that only the current secret link opens it."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from intervention.extensions import db
from intervention.i18n import format_datetime
from intervention.models import AuditEvent, EnrollmentState, Role
from intervention.services import calendar as calendar_service
from intervention.services import enrollments as enrollment_service
from intervention.services import scheduling

from .conftest import csrf_token, login
from .helpers import cancel, events, move, text_of, today


@pytest.fixture
def case(make_court, make_cohort, make_enrollment):
    """A man four days into a three-session cohort: session 1 held, sessions 2 and 3 ahead."""
    court = make_court("Sensitive County Superior Court")
    cohort = make_cohort(start=today() - timedelta(days=4))
    enrollment = make_enrollment(court=court, cohort=cohort, case_number="SECRET-CASE-4711")
    enrollment.participant.full_name = "Zebulon Quartermain"
    db.session.commit()
    return enrollment


def feed_url(user) -> str:
    return f"/calendar/{calendar_service.ensure_token(user)}.ics"


def fetch(client, user) -> tuple[Calendar, str]:
    response = client.get(feed_url(user))
    assert response.status_code == 200
    body = text_of(response)
    return Calendar.from_ical(body), body


def events_by_number(calendar: Calendar) -> dict[int, object]:
    return {int(str(e["summary"]).split()[-1]): e for e in calendar.walk("VEVENT")}


def test_feed_has_one_event_per_session_in_utc(client, case):
    calendar, _body = fetch(client, case.participant)
    vevents = events_by_number(calendar)
    sessions = case.cohort.sessions
    assert len(calendar.walk("VEVENT")) == len(sessions) == 3
    assert str(calendar["x-wr-calname"]) == "Weekly sessions"
    for session in sessions:
        event = vevents[session.number]
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        assert start.utcoffset() == timedelta(0)  # written in UTC ("...Z")
        assert start == session.scheduled_at
        assert end - start == timedelta(minutes=session.module.duration_minutes)
        assert str(event["uid"]) == f"session-{session.id}@intervention"
        assert str(event["summary"]) == f"Session {session.number}"
        assert str(event["status"]) == "CONFIRMED"
        assert event["sequence"] == 0
        assert str(event["location"]) == "Room 1"
        assert str(event["url"]).endswith(f"/me/modules/{session.number}")
        assert str(event["url"]).startswith("https://intervention.example/")


def test_feed_times_are_utc_on_the_wire(client, case):
    _calendar, body = fetch(client, case.participant)
    assert "X-PUBLISHED-TTL:PT6H" in body
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT6H" in body
    first = case.cohort.sessions[0].scheduled_at.astimezone(UTC)
    assert f"DTSTART:{first:%Y%m%dT%H%M%S}Z" in body.replace("\r\n", "\n")
    assert "TZID" not in body


def test_feed_answers_as_a_private_calendar(client, case):
    response = client.get(feed_url(case.participant))
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response.headers["Cache-Control"]
    assert "no-store" in response.headers["Cache-Control"]
    assert text_of(response).startswith("BEGIN:VCALENDAR")


def test_feed_says_nothing_about_the_program_or_the_case(client, case):
    cohort = case.cohort
    cohort.video_link = "https://video.example/room"
    db.session.commit()
    _calendar, body = fetch(client, case.participant)
    unfolded = body.replace("\r\n ", "")
    forbidden = [
        case.case_number,
        case.court.name,
        case.participant.full_name,
        "Zebulon",
        case.participant.email,
        cohort.version.program.title,
        cohort.name,
        *(m.title for m in cohort.version.modules),
        "court",
        "john",
        "sex",
        "prostitut",
        "program",
    ]
    for word in forbidden:
        assert word.lower() not in unfolded.lower(), word
    assert "https://video.example/room" in unfolded  # the place is what he needs


def test_cancelled_and_moved_sessions_update_the_same_events(client, case):
    first, second, third = case.cohort.sessions
    old = second.scheduled_at
    move(second, 2, "The room is being painted")
    cancel(third, "Facilitator is ill")
    db.session.commit()

    vevents = events_by_number(fetch(client, case.participant)[0])
    moved, cancelled = vevents[2], vevents[3]
    assert str(moved["uid"]) == f"session-{second.id}@intervention"
    assert moved.decoded("dtstart") == old + timedelta(days=2)
    assert moved["sequence"] == 1
    assert str(moved["status"]) == "CONFIRMED"
    description = str(moved["description"])
    assert f"Moved from {format_datetime(old, case.cohort.timezone)}." in description
    assert "The room is being painted" in description

    assert str(cancelled["status"]) == "CANCELLED"
    assert cancelled["sequence"] >= 1
    assert "This session is cancelled. Reason: Facilitator is ill" in str(cancelled["description"])
    assert vevents[1]["sequence"] == 0


def test_each_move_raises_the_sequence_again(client, case):
    second = case.cohort.sessions[1]
    admin = case.cohort.facilitators[0]
    local = second.scheduled_at.astimezone(ZoneInfo(case.cohort.timezone))
    for days, reason in [(1, "Room closed"), (2, "Room still closed")]:
        scheduling.reschedule_session(
            second,
            day=local.date() + timedelta(days=days),
            at=local.time(),
            reason=reason,
            actor=admin,
        )
    db.session.commit()
    event = events_by_number(fetch(client, case.participant)[0])[2]
    assert event["sequence"] == 2
    assert event.decoded("dtstart") == local.astimezone(UTC) + timedelta(days=2)
    assert "Room still closed" in str(event["description"])


def test_sessions_before_his_start_are_said_not_to_count(client, make_enrollment, make_cohort):
    cohort = make_cohort(start=today() - timedelta(days=4))
    late = make_enrollment(cohort=cohort, starts_on=cohort.start_date + timedelta(days=1))
    db.session.commit()
    vevents = events_by_number(fetch(client, late.participant)[0])
    assert "does not count for you" in str(vevents[1]["description"])
    assert "does not count" not in str(vevents[2]["description"])


def test_unknown_or_empty_tokens_answer_404(client, case):
    calendar_service.ensure_token(case.participant)
    db.session.commit()
    assert client.get("/calendar/not-a-real-token.ics").status_code == 404
    assert client.get("/calendar/.ics").status_code == 404
    assert client.get(f"/calendar/{case.participant.calendar_token}x.ics").status_code == 404


def test_a_disabled_account_or_a_staff_token_opens_no_feed(client, case, make_user):
    url = feed_url(case.participant)
    case.participant.active = False
    db.session.commit()
    assert client.get(url).status_code == 404

    staff = make_user(Role.FACILITATOR)
    staff.calendar_token = "staff-token-" + "x" * 30
    db.session.commit()
    assert client.get(f"/calendar/{staff.calendar_token}.ics").status_code == 404


def test_a_man_without_a_case_gets_an_empty_calendar(client, make_user):
    user = make_user(Role.PARTICIPANT)
    db.session.commit()
    calendar, _body = fetch(client, user)
    assert calendar.walk("VEVENT") == []


def test_the_feed_follows_his_latest_case(client, case, make_enrollment, make_cohort):
    admin = case.cohort.facilitators[0]
    enrollment_service.transition(case, EnrollmentState.WITHDRAWN, admin, "Moved away.")
    later = make_cohort(start=today() + timedelta(days=30))
    make_enrollment(participant=case.participant, cohort=later)
    db.session.commit()
    vevents = events_by_number(fetch(client, case.participant)[0])
    assert {str(e["uid"]) for e in vevents.values()} == {
        f"session-{s.id}@intervention" for s in later.sessions
    }


def test_token_is_made_on_first_visit_and_renewing_it_kills_the_old_link(app, client, case):
    user = case.participant
    assert user.calendar_token is None
    login(client, user)
    page = text_of(client.get("/me/schedule"))
    db.session.expire_all()
    first = user.calendar_token
    assert first and len(first) >= 43
    assert f"https://intervention.example/calendar/{first}.ics" in page
    assert f"webcal://intervention.example/calendar/{first}.ics" in page
    created = events("calendar.token_create")
    assert [e.object_id for e in created] == [user.id]
    assert first not in str(created[0].details)  # the secret never goes into the log

    client.get("/me/schedule")
    db.session.expire_all()
    assert user.calendar_token == first  # visiting again keeps the same link
    assert len(events("calendar.token_create")) == 1

    anonymous = app.test_client()
    assert anonymous.get(f"/calendar/{first}.ics").status_code == 200

    response = client.post(
        "/me/schedule/calendar-link", data={"csrf_token": csrf_token(client, "/me/schedule")}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/me/schedule")
    db.session.expire_all()
    second = user.calendar_token
    assert second != first
    assert anonymous.get(f"/calendar/{first}.ics").status_code == 404
    assert anonymous.get(f"/calendar/{second}.ics").status_code == 200
    page = text_of(client.get("/me/schedule"))
    assert "You have a new calendar link. The old link no longer works." in page
    assert second in page and first not in page
    renewed = events("calendar.token_renew")
    assert len(renewed) == 1 and renewed[0].actor_id == user.id
    assert second not in str(renewed[0].details)


def test_fetching_the_feed_is_not_audited(client, case):
    url = feed_url(case.participant)
    db.session.commit()
    before = db.session.scalar(select(db.func.count(AuditEvent.id)))
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert db.session.scalar(select(db.func.count(AuditEvent.id))) == before


def test_renewing_without_the_csrf_token_is_refused(client, case):
    login(client, case.participant)
    client.get("/me/schedule")
    db.session.expire_all()
    token = case.participant.calendar_token
    response = client.post("/me/schedule/calendar-link")
    assert response.status_code == 400
    assert "Your form expired" in text_of(response)
    db.session.expire_all()
    assert case.participant.calendar_token == token
