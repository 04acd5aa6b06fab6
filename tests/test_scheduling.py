"""Scheduling: courts, cohorts with one weekly session per module at the local time across
daylight-saving changes, and moving or cancelling a session with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import (
    AttendanceStatus,
    Cohort,
    Court,
    Role,
    SessionStatus,
)
from intervention.services import ServiceError, courts, scheduling
from intervention.services import attendance as attendance_service

from .helpers import events, new_cohort, post_form, text_of

LA = ZoneInfo("America/Los_Angeles")


# --- cohorts and their weekly sessions ------------------------------------------------------------


class TestCohortSchedule:
    def test_sessions_keep_the_local_time_across_the_end_of_daylight_saving(
        self, program, admin, facilitator
    ):
        # Los Angeles leaves daylight saving on Sunday Nov 1, 2026.
        cohort = new_cohort(program, admin, facilitator)
        sessions = cohort.sessions
        assert len(sessions) == len(program.latest_version.modules) == 3
        assert [s.module.session_number for s in sessions] == [1, 2, 3]
        local = [s.scheduled_at.astimezone(LA) for s in sessions]
        assert [d.date() for d in local] == [
            date(2026, 10, 26),
            date(2026, 11, 2),
            date(2026, 11, 9),
        ]
        assert {(d.hour, d.minute) for d in local} == {(18, 30)}
        # 18:30 PDT is 01:30 UTC; after the change 18:30 PST is 02:30 UTC.
        assert [s.scheduled_at for s in sessions] == [
            datetime(2026, 10, 27, 1, 30, tzinfo=UTC),
            datetime(2026, 11, 3, 2, 30, tzinfo=UTC),
            datetime(2026, 11, 10, 2, 30, tzinfo=UTC),
        ]
        assert all(s.status is SessionStatus.SCHEDULED for s in sessions)
        [event] = events("cohort.create")
        assert event.object_id == cohort.id
        assert event.details["sessions"] == 3
        assert event.details["weekday"] == "Monday"

    def test_and_across_the_start_of_daylight_saving(self, program, admin, facilitator):
        # New York moves its clocks forward on Sunday Mar 14, 2027.
        cohort = new_cohort(
            program,
            admin,
            facilitator,
            start_date=date(2027, 3, 2),  # a Tuesday
            weekday=1,
            start_time=time(19, 0),
            timezone="America/New_York",
        )
        assert [s.scheduled_at.hour for s in cohort.sessions] == [0, 0, 23]  # EST then EDT
        local = [s.scheduled_at.astimezone(ZoneInfo("America/New_York")) for s in cohort.sessions]
        assert [(d.date(), d.hour) for d in local] == [
            (date(2027, 3, 2), 19),
            (date(2027, 3, 9), 19),
            (date(2027, 3, 16), 19),
        ]

    def test_the_first_session_is_on_the_start_date_when_it_is_the_meeting_day(
        self, program, admin, facilitator
    ):
        cohort = new_cohort(program, admin, facilitator, start_date=date(2026, 10, 26))
        assert cohort.sessions[0].scheduled_at.astimezone(LA).date() == date(2026, 10, 26)
        assert scheduling.first_meeting(date(2026, 10, 27), 0) == date(2026, 11, 2)

    def test_a_time_the_clocks_skip_is_refused(self, program, admin, facilitator):
        with pytest.raises(ServiceError, match="2:30 AM does not exist on Mar 14, 2027"):
            new_cohort(
                program,
                admin,
                facilitator,
                start_date=date(2027, 3, 1),
                weekday=6,
                start_time=time(2, 30),
                timezone="America/New_York",
            )

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"facilitators": []}, "Choose at least one facilitator."),
            ({"timezone": "Mars/Olympus"}, "is not a timezone we know"),
            ({"timezone": "../etc/passwd"}, "is not a timezone we know"),
            ({"location": "", "video_link": ""}, "Give a location, a video link, or both."),
            ({"video_link": "http://meet.example/abc"}, "must be a full https:// address"),
            ({"video_link": "javascript:alert(1)"}, "must be a full https:// address"),
            ({"name": "  "}, "Give the cohort a name."),
        ],
    )
    def test_a_cohort_needs_what_the_men_rely_on(
        self, program, admin, facilitator, overrides, message
    ):
        with pytest.raises(ServiceError, match=message):
            new_cohort(program, admin, facilitator, **overrides)

    def test_only_facilitator_accounts_facilitate(
        self, program, admin, facilitator, make_user, make_court
    ):
        clerk = make_user(Role.CLERK, court=make_court(), name="Cleo Clerk")
        with pytest.raises(ServiceError, match="Not an active facilitator account: Cleo Clerk."):
            new_cohort(program, admin, facilitator, facilitators=[facilitator, clerk])

    def test_a_video_only_cohort(self, program, admin, facilitator):
        cohort = new_cohort(
            program, admin, facilitator, location="", video_link="https://meet.example/abc"
        )
        assert (cohort.location, cohort.video_link) == ("", "https://meet.example/abc")

    def test_editing_details_is_audited_with_what_changed(
        self, program, admin, facilitator, make_user
    ):
        cohort = new_cohort(program, admin, facilitator)
        other = make_user(Role.FACILITATOR)
        scheduling.update_cohort(
            cohort,
            name="Monday evenings",
            location="Room 12",
            video_link="",
            facilitators=[other],
            actor=admin,
        )
        assert cohort.location == "Room 12"
        assert [u.id for u in cohort.facilitators] == [other.id]
        [event] = events("cohort.update")
        assert event.details["changes"] == {
            "location": ["Room 204", "Room 12"],
            "facilitator_ids": [[facilitator.id], [other.id]],
        }
        # Saving without a change records nothing.
        scheduling.update_cohort(
            cohort,
            name="Monday evenings",
            location="Room 12",
            video_link="",
            facilitators=[other],
            actor=admin,
        )
        assert len(events("cohort.update")) == 1


# --- courts ---------------------------------------------------------------------------------------


class TestCourts:
    def make(self, admin, **overrides):
        values = {
            "name": "King County District Court",
            "jurisdiction": "King County, WA",
            "timezone": "America/Los_Angeles",
            "notice_deadline_days": 7,
            "actor": admin,
        }
        values.update(overrides)
        return courts.create_court(**values)

    def test_names_are_unique_whatever_their_case(self, admin):
        court = self.make(admin)
        assert events("court.create")[0].object_id == court.id
        with pytest.raises(
            ServiceError, match="A court named “King County District Court” already exists."
        ):
            self.make(admin, name="king county district court")

    def test_renaming_onto_another_court_is_refused_and_keeping_ones_name_is_not(self, admin):
        king = self.make(admin)
        pierce = self.make(admin, name="Pierce County District Court")
        with pytest.raises(ServiceError, match="already exists"):
            courts.update_court(
                pierce,
                name="King County District Court",
                jurisdiction="x",
                timezone="America/Los_Angeles",
                notice_deadline_days=7,
                actor=admin,
            )
        courts.update_court(
            king,
            name="King County District Court",
            jurisdiction="King County, Washington",
            timezone="America/Chicago",
            notice_deadline_days=10,
            actor=admin,
        )
        assert (king.timezone, king.notice_deadline_days) == ("America/Chicago", 10)
        [event] = events("court.update")
        assert event.details["changes"]["notice_deadline_days"] == [7, 10]

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"timezone": "Pacific Time"}, "is not a timezone we know"),
            ({"notice_deadline_days": 0}, "between 1 and 90 days"),
            ({"notice_deadline_days": 91}, "between 1 and 90 days"),
            ({"name": ""}, "Give the court's name."),
        ],
    )
    def test_refusals(self, admin, overrides, message):
        with pytest.raises(ServiceError, match=message):
            self.make(admin, **overrides)


# --- moving and cancelling a session --------------------------------------------------------------


class TestSessionChanges:
    def test_a_move_keeps_the_old_time_and_the_reason(self, make_cohort, admin):
        cohort = make_cohort(start=date.today() + timedelta(days=3))
        session = cohort.sessions[1]
        old = session.scheduled_at
        local = old.astimezone(LA)
        scheduling.reschedule_session(
            session,
            day=local.date() + timedelta(days=1),
            at=time(19, 0),
            reason="Building closed for the holiday.",
            actor=admin,
        )
        assert session.rescheduled_from == old
        assert session.reschedule_reason == "Building closed for the holiday."
        moved = session.scheduled_at.astimezone(LA)
        assert (moved.date(), moved.hour, moved.minute) == (
            local.date() + timedelta(days=1),
            19,
            0,
        )
        [event] = events("session.reschedule")
        assert event.details["from"] == old.isoformat()
        assert event.details["to"] == session.scheduled_at.isoformat()
        assert event.details["reason"] == "Building closed for the holiday."

    def test_a_move_needs_a_reason_and_a_new_time(self, make_cohort, admin):
        session = make_cohort(start=date.today() + timedelta(days=3)).sessions[0]
        local = session.scheduled_at.astimezone(LA)
        with pytest.raises(ServiceError, match="Give the reason for moving this session."):
            scheduling.reschedule_session(
                session, day=local.date(), at=time(20, 0), reason="  ", actor=admin
            )
        with pytest.raises(ServiceError, match="Session 1 is already at that time."):
            scheduling.reschedule_session(
                session, day=local.date(), at=local.time(), reason="Why not", actor=admin
            )

    def test_sessions_keep_the_order_of_the_modules(self, make_cohort, admin):
        session = make_cohort(start=date(2027, 1, 4)).sessions[1]
        with pytest.raises(
            ServiceError, match="would then come before session 1 \\(Jan 4, 2027\\)"
        ):
            scheduling.reschedule_session(
                session, day=date(2027, 1, 3), at=time(18, 0), reason="x", actor=admin
            )
        with pytest.raises(
            ServiceError, match="would then come after session 3 \\(Jan 18, 2027\\)"
        ):
            scheduling.reschedule_session(
                session, day=date(2027, 1, 19), at=time(18, 0), reason="x", actor=admin
            )

    def test_a_session_with_attendance_is_neither_moved_nor_cancelled(self, make_enrollment, admin):
        enrollment = make_enrollment()  # sessions weeks ago
        session = enrollment.cohort.sessions[0]
        attendance_service.mark(
            session, enrollment, AttendanceStatus.PRESENT, 90, enrollment.cohort.facilitators[0]
        )
        local = session.scheduled_at.astimezone(LA)
        with pytest.raises(ServiceError, match="Attendance is already marked for session 1"):
            scheduling.reschedule_session(
                session,
                day=local.date() + timedelta(days=1),
                at=local.time(),
                reason="Wrong day",
                actor=admin,
            )
        with pytest.raises(ServiceError, match="a session with attendance cannot be cancelled"):
            scheduling.cancel_session(session, reason="Never happened", actor=admin)
        assert session.rescheduled_from is None
        assert session.status is SessionStatus.HELD

    def test_a_past_session_without_attendance_can_be_moved(self, make_cohort, admin):
        session = make_cohort().sessions[0]  # weeks ago, nobody marked
        local = session.scheduled_at.astimezone(LA)
        scheduling.reschedule_session(
            session, day=local.date(), at=time(17, 0), reason="Started early", actor=admin
        )
        assert session.scheduled_at.astimezone(LA).hour == 17

    def test_cancel_needs_a_reason_and_happens_once(self, make_cohort, admin):
        session = make_cohort(start=date.today() + timedelta(days=3)).sessions[2]
        with pytest.raises(ServiceError, match="Give the reason for cancelling this session."):
            scheduling.cancel_session(session, reason="", actor=admin)
        scheduling.cancel_session(session, reason="Facilitator ill.", actor=admin)
        assert (session.status, session.cancel_reason) == (
            SessionStatus.CANCELLED,
            "Facilitator ill.",
        )
        [event] = events("session.cancel")
        assert event.details["reason"] == "Facilitator ill."
        with pytest.raises(ServiceError, match="Session 3 is already cancelled."):
            scheduling.cancel_session(session, reason="Again", actor=admin)
        with pytest.raises(ServiceError, match="Session 3 was cancelled; it cannot be moved."):
            scheduling.reschedule_session(
                session, day=date.today() + timedelta(days=40), at=time(18), reason="x", actor=admin
            )


# --- the pages ------------------------------------------------------------------------------------


def test_admin_adds_and_edits_a_court_in_the_browser(director):
    response = post_form(
        director,
        "/admin/courts/new",
        {
            "name": "Suffolk County Municipal Court",
            "jurisdiction": "Suffolk County, MA",
            "timezone": "America/New_York",
            "other_timezone": "",
            "notice_deadline_days": "10",
        },
    )
    assert response.status_code == 302, text_of(response)
    page = text_of(director.get(response.headers["Location"]))
    assert "Court Suffolk County Municipal Court added." in page
    court = db.session.scalar(sa.select(Court).where(Court.name.like("Suffolk%")))
    assert (court.timezone, court.notice_deadline_days) == ("America/New_York", 10)

    # A duplicate name, a bad "other" timezone and a deadline out of range each say so.
    response = post_form(
        director,
        "/admin/courts/new",
        {
            "name": "suffolk county municipal court",
            "jurisdiction": "x",
            "timezone": "America/New_York",
            "notice_deadline_days": "7",
        },
    )
    assert response.status_code == 422
    assert "A court named “Suffolk County Municipal Court” already exists." in text_of(response)
    response = post_form(
        director,
        "/admin/courts/new",
        {
            "name": "Elsewhere",
            "jurisdiction": "x",
            "timezone": "other",
            "other_timezone": "Europe/Atlantis",
            "notice_deadline_days": "120",
        },
    )
    page = text_of(response)
    assert "“Europe/Atlantis” is not a timezone we know." in page
    assert "Give a number of days from 1 to 90." in page

    url = f"/admin/courts/{court.id}/edit"
    page = text_of(director.get(url))
    assert 'value="Suffolk County Municipal Court"' in page
    response = post_form(
        director,
        url,
        {
            "name": "Suffolk County Municipal Court",
            "jurisdiction": "Suffolk County, Massachusetts",
            "timezone": "other",
            "other_timezone": "America/Indiana/Indianapolis",
            "notice_deadline_days": "5",
        },
    )
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    assert court.timezone == "America/Indiana/Indianapolis"
    # The edit page shows a timezone outside the menu in the "other" box.
    page = text_of(director.get(url))
    assert 'value="America/Indiana/Indianapolis"' in page
    assert "Suffolk County Municipal Court" in text_of(director.get("/admin/courts"))


def test_admin_creates_a_cohort_then_moves_and_cancels_sessions(director, program, facilitator):
    start = date.today() + timedelta(days=10)
    response = post_form(
        director,
        "/admin/cohorts/new",
        {
            "name": "Thursday evenings",
            "version_id": str(program.latest_version.id),
            "start_date": start.isoformat(),
            "weekday": "3",
            "start_time": "18:00",
            "timezone": "America/Chicago",
            "facilitators": [str(facilitator.id)],
            "location": "Room 5",
            "video_link": "",
        },
    )
    assert response.status_code == 302, text_of(response)
    cohort = db.session.scalar(sa.select(Cohort).where(Cohort.name == "Thursday evenings"))
    assert "created with 3 sessions" in text_of(director.get(response.headers["Location"]))
    chicago = ZoneInfo("America/Chicago")
    assert [s.scheduled_at.astimezone(chicago).weekday() for s in cohort.sessions] == [3, 3, 3]
    assert cohort.sessions[0].scheduled_at.astimezone(chicago).date() == scheduling.first_meeting(
        start, 3
    )

    page = text_of(director.get("/admin/cohorts"))
    assert "Thursday evenings" in page
    assert "0/3" in page  # sessions held

    first = cohort.sessions[0]
    new_day = first.scheduled_at.astimezone(chicago).date() + timedelta(days=1)
    url = f"/admin/sessions/{first.id}/reschedule"
    response = post_form(director, url, {"day": new_day.isoformat(), "at": "18:30", "reason": ""})
    assert response.status_code == 422
    assert "Give the reason." in text_of(response)
    response = post_form(
        director,
        url,
        {"day": new_day.isoformat(), "at": "18:30", "reason": "Room double-booked."},
    )
    assert response.status_code == 302, text_of(response)
    page = text_of(director.get(f"/admin/cohorts/{cohort.id}"))
    assert "Session 1 moved to" in page
    assert "Moved from" in page and "Room double-booked." in page

    last = cohort.sessions[2]
    response = post_form(
        director, f"/admin/sessions/{last.id}/cancel", {"reason": "Facilitator on leave."}
    )
    assert response.status_code == 302
    page = text_of(director.get(f"/admin/cohorts/{cohort.id}"))
    assert "Cancelled: Facilitator on leave." in page
    # A cancelled session offers no more actions, and its pages say why.
    page = text_of(director.get(f"/admin/sessions/{last.id}/cancel"))
    assert "Session 3 is already cancelled." in page
    assert 'name="reason"' not in page


def test_cohort_form_errors_are_shown(director, program, facilitator):
    response = post_form(
        director,
        "/admin/cohorts/new",
        {
            "name": "Bad one",
            "version_id": str(program.latest_version.id),
            "start_date": "2027-01-04",
            "weekday": "0",
            "start_time": "18:00",
            "timezone": "America/Chicago",
            "location": "",
            "video_link": "http://insecure.example/room",
        },
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "Choose at least one facilitator." in page
    assert "Give a full address starting with https://" in page
    assert db.session.scalar(sa.select(Cohort).where(Cohort.name == "Bad one")) is None


def test_a_marked_session_offers_no_move(director, make_enrollment):
    enrollment = make_enrollment()
    session = enrollment.cohort.sessions[0]
    attendance_service.mark(
        session, enrollment, AttendanceStatus.ABSENT, 0, enrollment.cohort.facilitators[0]
    )
    db.session.commit()
    page = text_of(director.get(f"/admin/cohorts/{enrollment.cohort.id}"))
    assert f"/admin/sessions/{session.id}/reschedule" not in page
    assert f"/admin/sessions/{enrollment.cohort.sessions[1].id}/reschedule" in page
    response = post_form(
        director,
        f"/admin/sessions/{session.id}/reschedule",
        {"day": "2030-01-01", "at": "18:00", "reason": "x"},
    )
    assert response.status_code == 422
    assert "Attendance is already marked for session 1" in text_of(response)
