"""Scheduling that courts notice: a session on a public holiday of the court's state is named
with its holiday, the next free day is one click away, and keeping the date is recorded."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from intervention.demo import seed
from intervention.extensions import db
from intervention.models import Cohort, Court, Meeting, SessionStatus, User
from intervention.services import courts, scheduling

from .helpers import events, new_cohort, post_form, signed_in, text_of

LA = ZoneInfo("America/Los_Angeles")
THANKSGIVING = date(2026, 11, 26)
# Thanksgiving's Friday is Native American Heritage Day, a state holiday in Washington:
# the next free day is the Saturday.
FREE_DAY = date(2026, 11, 28)


def local_days(cohort: Cohort) -> list[date]:
    return [s.scheduled_at.astimezone(LA).date() for s in cohort.sessions]


@pytest.fixture
def washington(admin) -> Court:
    """A court whose jurisdiction names its state: the state is taken from it."""
    return courts.create_court(
        name="King County District Court",
        jurisdiction="King County, Washington",
        timezone="America/Los_Angeles",
        notice_deadline_days=7,
        actor=admin,
    )


def cohort_form(program, facilitator, **extra) -> dict:
    # Thursdays from Nov 12, 2026: the test course's third session is on Thanksgiving.
    return {
        "name": "Thursday evenings",
        "version_id": str(program.latest_version.id),
        "start_date": "2026-11-12",
        "weekday": "3",
        "start_time": "18:30",
        "timezone": "America/Los_Angeles",
        "facilitators": [str(facilitator.id)],
        "location": "Room 204",
        "video_link": "",
        **extra,
    }


# --- the court's state --------------------------------------------------------------------------


def test_a_courts_state_comes_from_its_jurisdiction_and_can_be_set(admin, washington):
    assert washington.state == "WA"
    assert scheduling.state_from_jurisdiction("City and County of Denver, Colorado") == "CO"
    assert scheduling.state_from_jurisdiction("Kanawha County, West Virginia") == "WV"
    assert scheduling.state_from_jurisdiction("Test County") == ""
    courts.update_court(
        washington,
        name=washington.name,
        jurisdiction=washington.jurisdiction,
        timezone=washington.timezone,
        notice_deadline_days=7,
        state="OR",
        actor=admin,
    )
    assert washington.state == "OR"
    assert events("court.update")[-1].details["changes"] == {"state": ["WA", "OR"]}
    with pytest.raises(scheduling.ServiceError, match="Choose the court's state"):
        courts.update_court(
            washington,
            name=washington.name,
            jurisdiction=washington.jurisdiction,
            timezone=washington.timezone,
            notice_deadline_days=7,
            state="XX",
            actor=admin,
        )


def test_the_court_form_sets_the_state(director):
    response = post_form(
        director,
        "/admin/courts/new",
        {
            "name": "Multnomah County Circuit Court",
            "jurisdiction": "Multnomah County",
            "timezone": "America/Los_Angeles",
            "notice_deadline_days": "7",
            "state": "OR",
        },
    )
    assert response.status_code == 302, text_of(response)
    court = db.session.scalar(sa.select(Court).where(Court.name.like("Multnomah%")))
    assert court.state == "OR"
    page = text_of(director.get(f"/admin/courts/{court.id}/edit"))
    assert '<option selected value="OR">Oregon</option>' in page


# --- creating a cohort --------------------------------------------------------------------------


def test_creating_a_cohort_on_thanksgiving_warns_and_names_the_next_free_day(
    director, program, facilitator, washington
):
    response = post_form(director, "/admin/cohorts/new", cohort_form(program, facilitator))
    assert response.status_code == 422
    page = text_of(response)
    assert "Session 3: Nov 26, 2026 is Thanksgiving Day (WA)." in page
    assert "Next free day: Nov 28, 2026, same time." in page
    assert "Move session 3 to Nov 28, 2026" in page
    assert "Keep the date anyway" in page
    assert db.session.scalar(sa.select(Cohort)) is None  # nothing is created by a warning


def test_one_click_moves_the_session_to_the_next_free_day(
    director, program, facilitator, washington
):
    form = cohort_form(program, facilitator, move_to_free_day="1")
    response = post_form(director, "/admin/cohorts/new", form)
    assert response.status_code == 302, text_of(response)
    cohort = db.session.scalar(sa.select(Cohort))
    assert local_days(cohort) == [date(2026, 11, 12), date(2026, 11, 19), FREE_DAY]
    assert cohort.sessions[2].scheduled_at.astimezone(LA).time() == time(18, 30)
    assert all(s.holiday_kept == "" for s in cohort.sessions)
    [event] = events("cohort.create")
    assert event.details["holidays_moved"] == [
        {"number": 3, "from": "2026-11-26", "to": "2026-11-28", "holiday": "Thanksgiving Day (WA)"}
    ]


def test_keeping_the_date_anyway_is_recorded_and_shown(
    app, director, program, facilitator, washington, make_enrollment
):
    form = cohort_form(program, facilitator, keep_holiday="y")
    response = post_form(director, "/admin/cohorts/new", form)
    assert response.status_code == 302, text_of(response)
    cohort = db.session.scalar(sa.select(Cohort))
    assert local_days(cohort)[2] == THANKSGIVING
    kept = cohort.sessions[2]
    assert kept.holiday_kept == "Thanksgiving Day (WA)"
    [event] = events("cohort.create")
    assert event.details["holidays_kept"] == [
        {"number": 3, "date": "2026-11-26", "holiday": "Thanksgiving Day (WA)"}
    ]
    assert "Meets on Thanksgiving Day (WA): the date was kept on purpose." in text_of(
        director.get(f"/admin/cohorts/{cohort.id}")
    )

    # The facilitator's pages and the man's schedule say so plainly.
    teacher = signed_in(app, facilitator)
    assert "on Thanksgiving Day (WA), kept on purpose" in text_of(
        teacher.get(f"/facilitator/cohorts/{cohort.id}")
    )
    assert "on Thanksgiving Day (WA), kept on purpose" in text_of(
        teacher.get(f"/facilitator/sessions/{kept.id}/attendance")
    )
    case = make_enrollment(cohort=cohort, court=washington)
    db.session.commit()
    man = signed_in(app, case.participant)
    assert "This is a public holiday (Thanksgiving Day (WA)), but the class still meets." in (
        text_of(man.get("/me/schedule"))
    )


def test_no_state_no_warning_and_a_wrong_choice_is_refused(program, admin, facilitator):
    # Thursdays from Nov 12, 2026, as cohort_form: the third session is on Thanksgiving.
    thursdays = {"name": "Thursdays", "start_date": date(2026, 11, 12), "weekday": 3}
    with pytest.raises(scheduling.ServiceError, match="move the session or keep"):
        new_cohort(program, admin, facilitator, **thursdays, on_holiday="maybe")
    # No court has a state yet: nothing to check against.
    cohort = new_cohort(program, admin, facilitator, **thursdays)
    assert local_days(cohort)[2] == THANKSGIVING


# --- moving a session ---------------------------------------------------------------------------


@pytest.fixture
def tuesdays(make_cohort, washington) -> Cohort:
    """Tuesdays Nov 17, Nov 24 and Dec 1, 2026."""
    return make_cohort(start=date(2026, 11, 17))


def test_moving_a_session_onto_a_holiday_warns_then_moves_to_the_free_day(director, tuesdays):
    second = tuesdays.sessions[1]
    url = f"/admin/sessions/{second.id}/reschedule"
    move = {"day": "2026-11-26", "at": "18:30", "reason": "Room booked on Tuesday."}
    db.session.commit()
    response = post_form(director, url, move)
    assert response.status_code == 422
    page = text_of(response)
    assert "Session 2: Nov 26, 2026 is Thanksgiving Day (WA)." in page
    assert "Move session 2 to Nov 28, 2026" in page
    db.session.expire_all()
    assert second.scheduled_at.astimezone(LA).date() == date(2026, 11, 24)

    response = post_form(director, url, {**move, "move_to_free_day": "1"})
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    assert second.scheduled_at.astimezone(LA) == datetime(2026, 11, 28, 18, 30, tzinfo=LA)
    assert second.holiday_kept == ""
    assert events("session.reschedule")[-1].details["holiday_kept"] == ""


def test_moving_onto_a_holiday_on_purpose_is_recorded(director, tuesdays):
    second = tuesdays.sessions[1]
    db.session.commit()
    response = post_form(
        director,
        f"/admin/sessions/{second.id}/reschedule",
        {"day": "2026-11-26", "at": "18:30", "reason": "Holiday class.", "keep_holiday": "y"},
    )
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    assert second.scheduled_at.astimezone(LA).date() == THANKSGIVING
    assert second.holiday_kept == "Thanksgiving Day (WA)"
    [event] = events("session.reschedule")
    assert event.details["holiday_kept"] == "Thanksgiving Day (WA)"
    # Moved off the holiday again, the mark goes with it.
    scheduling.reschedule_session(
        second, day=date(2026, 11, 25), at=time(18, 30), reason="Back.", actor=event.actor
    )
    assert second.holiday_kept == ""


def test_the_free_day_never_clashes_with_another_session(admin, make_cohort, washington):
    cohort = make_cohort(start=date(2026, 11, 17))
    first, second, third = cohort.sessions
    # Session 3 on Saturday Nov 28 first: a move of session 2 onto Thanksgiving finds no free
    # day before it (Friday is a holiday, Saturday is taken) and says so.
    scheduling.reschedule_session(
        third, day=FREE_DAY, at=time(18, 30), reason="Earlier.", actor=admin
    )
    with pytest.raises(scheduling.HolidayWarning) as warned:
        scheduling.reschedule_session(
            second,
            day=THANKSGIVING,
            at=time(18, 30),
            reason="x",
            actor=admin,
            on_holiday="move",
        )
    [clash] = warned.value.clashes
    assert (clash.number, clash.holiday, clash.free_day) == (2, "Thanksgiving Day (WA)", None)


def test_only_the_states_of_the_cohorts_courts_count(
    admin, washington, make_cohort, make_enrollment
):
    oregon = courts.create_court(
        name="Multnomah County Circuit Court",
        jurisdiction="Multnomah County, Oregon",
        timezone="America/Los_Angeles",
        notice_deadline_days=7,
        actor=admin,
    )
    cohort = make_cohort(start=date(2026, 11, 17))
    make_enrollment(cohort=cohort, court=oregon)
    assert scheduling.cohort_states(cohort) == ["OR"]
    # Native American Heritage Day is Washington's, not Oregon's: no warning for these men.
    scheduling.reschedule_session(
        cohort.sessions[1], day=date(2026, 11, 27), at=time(18, 30), reason="x", actor=admin
    )
    assert cohort.sessions[1].holiday_kept == ""


# --- the demo -----------------------------------------------------------------------------------


def _holidays_met_on() -> list[tuple[str, int, date, str]]:
    met = []
    for session in db.session.scalars(sa.select(Meeting)):
        cohort = session.cohort
        if session.status is SessionStatus.CANCELLED:
            continue
        day = session.scheduled_at.astimezone(ZoneInfo(cohort.timezone)).date()
        states = {e.court.state for e in cohort.enrollments}
        holiday = scheduling.holiday_on(day, states)
        if holiday:
            met.append((cohort.name, session.number, day, holiday))
    return met


@pytest.mark.parametrize(
    "today",
    [
        None,  # the real date
        date(2026, 12, 7),  # the fall cohort's Thursdays run through Thanksgiving
        date(2026, 1, 12),  # Veterans Day 2025 (a Tuesday), Christmas, New Year's Day
    ],
)
def test_the_demo_never_meets_on_its_courts_holidays(monkeypatch, today):
    if today is not None:
        # The module, not the package's `seed` (the function of the same name).
        demo = importlib.import_module("intervention.demo.seed")

        now = datetime.combine(today, time(17, 0), tzinfo=UTC)
        monkeypatch.setattr(demo, "utcnow", lambda: now)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    seed()
    db.session.flush()
    courts = db.session.scalars(sa.select(Court)).all()
    assert {c.state for c in courts} == {"WA"}
    assert _holidays_met_on() == []
    # The sessions still keep the order of the modules.
    for cohort in db.session.scalars(sa.select(Cohort)):
        times = [s.scheduled_at for s in sorted(cohort.sessions, key=lambda s: s.number)]
        assert times == sorted(times)
        assert all(b - a >= timedelta(days=1) for a, b in zip(times, times[1:], strict=False))
