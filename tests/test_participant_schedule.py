"""The participant's schedule page, and moved or cancelled sessions wherever he sees his
sessions: the schedule, the module list and the home page's "this week" card."""

from __future__ import annotations

from datetime import timedelta

import pytest

from intervention.extensions import db
from intervention.i18n import format_datetime
from intervention.models import AttendanceStatus, Role
from intervention.services import attendance as attendance_service

from .conftest import login
from .helpers import cancel, move, text_of, today


@pytest.fixture
def case(make_cohort, make_enrollment):
    """Four days into a three-session cohort: session 1 held, sessions 2 and 3 ahead."""
    cohort = make_cohort(start=today() - timedelta(days=4))
    enrollment = make_enrollment(cohort=cohort)
    db.session.commit()
    return enrollment


def page(client, enrollment, url: str = "/me/schedule") -> str:
    login(client, enrollment.participant)
    response = client.get(url)
    assert response.status_code == 200
    return text_of(response)


def when(session) -> str:
    return format_datetime(session.scheduled_at, session.cohort.timezone)


def test_schedule_lists_every_session_in_order_in_the_cohorts_timezone(client, case):
    html = page(client, case)
    assert "All times are Los Angeles time (America/Los_Angeles)." in html
    positions = []
    for session in case.cohort.sessions:
        title = f"Session {session.number}: {session.module.title}"
        assert title in html
        assert when(session) in html  # e.g. "Mar 3, 2026, 6:30 PM PST"
        positions.append(html.index(title))
    assert positions == sorted(positions)
    assert "Room 1" in html
    assert "6:30 PM" in html  # local time, not UTC


def test_schedule_says_another_timezone_when_the_cohort_has_one(
    client, make_cohort, make_enrollment
):
    cohort = make_cohort(start=today() - timedelta(days=4), timezone="America/New_York")
    enrollment = make_enrollment(cohort=cohort)
    db.session.commit()
    html = page(client, enrollment)
    assert "All times are New York time (America/New_York)." in html
    assert when(cohort.sessions[0]) in html
    assert "6:30 PM E" in html  # EST or EDT


def test_held_session_shows_his_mark_and_the_next_one_is_highlighted(client, case):
    first, second, _third = case.cohort.sessions
    attendance_service.mark(
        first, case, AttendanceStatus.LATE, 100, case.cohort.facilitators[0], note="Bus"
    )
    db.session.commit()
    html = page(client, case)
    first_item = html[html.index("Session 1:") : html.index("Session 2:")]
    assert "Late" in first_item
    assert "Coming up" not in first_item
    # The next session is session 2, marked and highlighted.
    next_item = html[html.rindex("<li", 0, html.index("Session 2:")) : html.index("Session 3:")]
    assert 'class="is-next' in next_item
    assert ">Next<" in next_item
    assert "Coming up" in next_item


def test_schedule_shows_moved_and_cancelled_sessions_with_their_reasons(client, case):
    _first, second, third = case.cohort.sessions
    old = second.scheduled_at
    move(second, 1, "The building is closed for a holiday")
    cancel(third, "The facilitator is ill")
    db.session.commit()
    html = page(client, case)
    tz = case.cohort.timezone
    assert f"Moved from {format_datetime(old, tz)}: The building is closed for a holiday" in html
    assert f"{format_datetime(second.scheduled_at, tz)}" in html
    assert "New time" in html
    assert "Cancelled: The facilitator is ill" in html
    assert "Do not come to this session." in html
    assert f"<s>{format_datetime(third.scheduled_at, tz)}</s>" in html


def test_sessions_before_his_enrollment_are_labelled_as_not_counting(
    client, make_cohort, make_enrollment
):
    cohort = make_cohort(start=today() - timedelta(days=4))
    late = make_enrollment(cohort=cohort, starts_on=cohort.start_date + timedelta(days=1))
    db.session.commit()
    html = page(client, late)
    first_item = html[html.index("Session 1:") : html.index("Session 2:")]
    assert "This was before you started. It does not count for you." in first_item
    assert "Does not count" in first_item
    assert html.count("It does not count for you.") == 1


def test_schedule_offers_the_private_calendar_link(client, case):
    html = page(client, case)
    db.session.expire_all()
    token = case.participant.calendar_token
    assert "Add to your calendar" in html
    assert f'value="https://intervention.example/calendar/{token}.ics"' in html
    assert "Keep this link private." in html
    assert 'action="/me/schedule/calendar-link"' in html
    assert 'name="csrf_token"' in html
    assert "Make a new link" in html
    assert 'href="/me/schedule"' in html  # in the navigation


def test_each_man_sees_only_his_own_schedule_and_link(app, case, make_cohort, make_enrollment):
    other = make_enrollment(cohort=make_cohort(start=today() + timedelta(days=3)))
    db.session.commit()
    mine = page(app.test_client(), case)
    his = page(app.test_client(), other)
    db.session.expire_all()
    assert case.participant.calendar_token in mine
    assert case.participant.calendar_token not in his
    assert other.participant.calendar_token in his
    assert when(other.cohort.sessions[0]) in his
    assert when(case.cohort.sessions[0]) not in his


def test_a_man_without_a_class_is_told_so_and_gets_no_link(client, make_user):
    user = make_user(Role.PARTICIPANT)
    db.session.commit()
    login(client, user)
    html = text_of(client.get("/me/schedule"))
    assert "You are not in a class yet" in html
    assert "/calendar/" not in html


def test_module_list_shows_moved_and_cancelled_sessions(client, case):
    _first, second, third = case.cohort.sessions
    old = second.scheduled_at
    move(second, 1, "Room change")
    cancel(third, "Public holiday")
    db.session.commit()
    html = page(client, case, "/me/modules")
    tz = case.cohort.timezone
    assert f"Moved from {format_datetime(old, tz)}: Room change" in html
    assert "Cancelled: Public holiday" in html


def test_home_this_week_card_shows_a_move_and_a_cancellation_before_it(client, case):
    _first, second, third = case.cohort.sessions
    cancel(second, "Facilitator training day")
    old = third.scheduled_at
    move(third, 1, "Room booked by another group")
    db.session.commit()
    html = page(client, case, "/me/")
    card = html[html.index("This week") : html.index("Your sessions")]
    tz = case.cohort.timezone
    assert "Session 3:" in card  # session 2 is cancelled, so 3 is next
    assert f"Moved from {format_datetime(old, tz)}: Room booked by another group" in card
    assert (
        f"Session 2 on {format_datetime(second.scheduled_at, tz)} is cancelled: "
        "Facilitator training day" in card
    )


def test_home_shows_attendance_hours_and_what_he_still_owes(client, case):
    first = case.cohort.sessions[0]
    attendance_service.mark(first, case, AttendanceStatus.PRESENT, 90, case.cohort.facilitators[0])
    db.session.commit()
    html = page(client, case, "/me/")
    assert "What you still need to do" in html
    assert "<dt>Sessions credited</dt><dd>1 of 3</dd>" in html
    assert "<dt>Hours credited</dt><dd>1.5</dd>" in html
    assert "<dt>Absences</dt><dd>0</dd>" in html
    owed = html[html.index("What you still need to do") : html.index("</section>")]
    assert "<li>" in owed  # the engine's list of what is left, in his words
