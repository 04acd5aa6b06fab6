"""Taking attendance and what the completion engine makes of it: every status, lateness both
ways, absences in a row, the gap in days, sessions before he started, cancelled sessions,
make-ups linked both ways, the change history, and each refusal with its message."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.i18n import format_date
from intervention.models import (
    Attendance,
    AttendanceStatus,
    AuditEvent,
    EnrollmentState,
    Role,
    SessionStatus,
    User,
)
from intervention.services import ServiceError, completion, enrollments
from intervention.services import attendance as attendance_service
from intervention.services import completion_text as words

from .helpers import cancel, mark, post_form, signed_in, text_of, today, violated

S = AttendanceStatus
NO_GAP_RULE = {"max_gap_days": None}  # the fixture sessions were weeks ago


def director():
    return db.session.scalar(sa.select(User).where(User.role == Role.ADMIN).limit(1))


def makeup(enrollment, other_cohort, number: int, minutes: int | None = None):
    """Recorded by the director: the other cohort's facilitator does not run his cohort."""
    session = other_cohort.sessions[number - 1]
    return attendance_service.record_makeup(session, enrollment, director(), minutes)


def day_of(enrollment, number: int):
    return enrollment.cohort.sessions[number - 1].local_date


# --- every status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "minutes", "credited", "absences", "owed"),
    [
        (S.PRESENT, 120, 1, 0, []),
        (S.LATE, 100, 1, 0, []),  # the fixture program counts lateness as attending
        (S.LEFT_EARLY, 45, 0, 1, [1]),
        (S.EXCUSED, 0, 0, 0, [1]),  # not an absence, but the session is still owed
        (S.ABSENT, 0, 0, 1, [1]),
    ],
    ids=lambda v: v.value if isinstance(v, AttendanceStatus) else None,
)
def test_every_status_counts_as_the_policy_says(
    make_enrollment, status, minutes, credited, absences, owed
):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    record = mark(enrollment, 1, status, minutes)
    assert record.status is status and record.minutes_credited == minutes
    result = completion.evaluate(enrollment)
    assert result.sessions_credited == credited
    assert result.absences == absences
    assert result.makeups_owed == owed
    assert result.lines[0].credited is bool(credited)
    assert result.minutes_credited == (minutes if credited else 0)
    if owed:
        assert "1 missed session to make up: session 1." in words.unmet(result)


def test_made_up_credits_the_session_but_keeps_the_absence(make_cohort, make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    other = make_cohort()
    mark(enrollment, 1, S.ABSENT)
    makeup(enrollment, other, 1, minutes=110)
    result = completion.evaluate(enrollment)
    line = result.lines[0]
    assert line.status is S.MADE_UP and line.credited
    assert line.missed_as is S.ABSENT
    assert result.sessions_credited == 1
    assert result.minutes_credited == 110
    assert result.absences == 1  # a make-up credits the session; it does not undo the absence
    assert result.makeups_owed == []


# --- lateness, both ways ------------------------------------------------------------------------


def test_late_counts_as_attended_when_the_policy_says_so(make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    mark(enrollment, 1, S.LATE, 95)
    mark(enrollment, 2, S.LATE, 90)
    result = completion.evaluate(enrollment)
    assert result.sessions_credited == 2
    assert result.minutes_credited == 185
    assert result.absences == 0 and words.violations(result) == []


def test_late_is_a_missed_session_when_the_court_says_lateness_does_not_count(make_enrollment):
    enrollment = make_enrollment(overrides={**NO_GAP_RULE, "late_counts_as_attended": False})
    mark(enrollment, 1, S.LATE, 95)
    mark(enrollment, 2, S.LATE, 90)
    result = completion.evaluate(enrollment)
    assert result.sessions_credited == 0
    assert result.absences == 2
    assert result.makeups_owed == [1, 2]
    assert "2 missed sessions to make up: sessions 1 and 2." in words.unmet(result)
    assert words.violations(result) == [
        "2 absences; the limit is 1.",
        "2 absences in a row; the limit is 1.",
    ]


def test_the_facts_a_court_system_reads_name_the_rule_the_counts_and_the_days(make_enrollment):
    """completion.as_json: what /court/api/cases/<n> carries, numbers and dates only."""
    enrollment = make_enrollment(overrides={**NO_GAP_RULE, "max_absences": None})
    mark(enrollment, 1, S.ABSENT)
    mark(enrollment, 2, S.LEFT_EARLY, 30)
    facts = completion.as_json(completion.evaluate(enrollment))
    assert facts["breaches"] == [
        {
            "rule": "max_consecutive_absences",
            "count": 2,
            "limit": 1,
            "since": day_of(enrollment, 2).isoformat(),
        }
    ]
    assert facts["owed"][0] == {"kind": "attend", "count": 1, "sessions": []}
    assert (facts["complete"], facts["possible"], facts["completed_on"]) == (False, False, None)
    assert (facts["sessions_credited"], facts["absences"]) == (0, 2)


def test_a_deadline_breach_states_the_deadline_as_a_date(make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    enrollment.completion_deadline = completion.local_today(enrollment) - timedelta(days=3)
    facts = completion.as_json(completion.evaluate(enrollment))
    [breach] = [b for b in facts["breaches"] if b["rule"] == "completion_deadline"]
    assert breach["limit"] == enrollment.completion_deadline.isoformat()
    assert breach["count"] == 3  # days past it


def test_his_own_session_he_made_up_elsewhere_cannot_be_marked_again(two_cohorts):
    ours, theirs, james = two_cohorts
    makeup(james, theirs, 2)
    with pytest.raises(ServiceError) as refused:
        attendance_service.mark(ours.sessions[1], james, S.PRESENT, 120, director(), reason="x")
    assert str(refused.value) == (
        "James Carter made up session 2 elsewhere; that mark is kept with the make-up."
    )


# --- absences in a row ------------------------------------------------------------------------


def test_absences_in_a_row_break_the_consecutive_rule(make_enrollment):
    enrollment = make_enrollment(overrides={**NO_GAP_RULE, "max_absences": None})
    mark(enrollment, 1, S.ABSENT)
    mark(enrollment, 2, S.LEFT_EARLY, 30)
    result = completion.evaluate(enrollment)
    assert [b.rule for b in result.breaches] == ["max_consecutive_absences"]
    assert words.violations(result) == ["2 absences in a row; the limit is 1."]
    assert result.breaches[0].since == day_of(enrollment, 2)
    assert not result.possible
    assert words.blockers(result) == ["2 absences in a row; the limit is 1."]


def test_attending_between_absences_ends_the_run(make_enrollment):
    enrollment = make_enrollment(overrides={**NO_GAP_RULE, "max_absences": None})
    mark(enrollment, 1, S.ABSENT)
    mark(enrollment, 2, S.PRESENT)
    mark(enrollment, 3, S.ABSENT)
    result = completion.evaluate(enrollment)
    assert words.violations(result) == []
    assert result.absences == 2


def test_an_excused_session_neither_ends_nor_extends_a_run(make_enrollment):
    enrollment = make_enrollment(overrides={**NO_GAP_RULE, "max_absences": None})
    mark(enrollment, 1, S.ABSENT)
    mark(enrollment, 2, S.EXCUSED)
    mark(enrollment, 3, S.ABSENT)
    result = completion.evaluate(enrollment)
    assert result.absences == 2
    assert words.violations(result) == ["2 absences in a row; the limit is 1."]


# --- at risk ------------------------------------------------------------------------------------


def test_one_more_absence_would_break_the_limits(make_cohort, make_enrollment):
    # Session 1 was yesterday; sessions 2 and 3 are ahead.
    enrollment = make_enrollment(cohort=make_cohort(start=today() - timedelta(days=1)))
    mark(enrollment, 1, S.ABSENT)
    result = completion.evaluate(enrollment)
    assert result.possible and result.at_risk
    assert words.risks(result) == [
        "1 absence so far; one more breaks the limit of 1.",
        "1 absence in a row; one more in a row breaks the limit of 1.",
    ]


def test_a_man_with_no_absences_is_not_at_risk(make_cohort, make_enrollment):
    enrollment = make_enrollment(cohort=make_cohort(start=today() - timedelta(days=1)))
    mark(enrollment, 1, S.PRESENT)
    result = completion.evaluate(enrollment)
    assert not result.at_risk and words.risks(result) == []


def test_a_deadline_within_two_weeks_with_sessions_owed_is_a_risk(make_cohort, make_enrollment):
    enrollment = make_enrollment(cohort=make_cohort(start=today() - timedelta(days=1)))
    mark(enrollment, 1, S.PRESENT)
    enrollment.completion_deadline = today() + timedelta(days=30)
    assert not completion.evaluate(enrollment, today=today()).at_risk
    enrollment.completion_deadline = today() + timedelta(days=10)
    result = completion.evaluate(enrollment, today=today())
    assert words.risks(result) == [
        f"The completion deadline is {format_date(enrollment.completion_deadline)}, "
        "in 10 days; 2 sessions still to be credited."
    ]


def test_the_warnings_begin_exactly_at_their_windows(make_cohort, make_enrollment):
    """The deadline warns from 14 days before it, the gap from 7 days before its limit; each
    risk names its rule."""
    enrollment = make_enrollment(
        cohort=make_cohort(start=today() - timedelta(weeks=5)), overrides={"max_gap_days": 21}
    )
    mark(enrollment, 1, S.PRESENT)
    attended = enrollment.cohort.sessions[0].local_date
    enrollment.completion_deadline = attended + timedelta(days=30)
    deadline_day = enrollment.completion_deadline - timedelta(days=completion.DEADLINE_WARNING_DAYS)
    result = completion.evaluate(enrollment, today=deadline_day)
    assert completion.Rule.COMPLETION_DEADLINE in [r.rule for r in result.risks]
    result = completion.evaluate(enrollment, today=deadline_day - timedelta(days=1))
    assert completion.Rule.COMPLETION_DEADLINE not in [r.rule for r in result.risks]
    # 14 days without attendance is the first day of the gap's warning (21 - 7); session 2,
    # excused, neither ends the gap nor breaks a rule.
    mark(enrollment, 2, S.EXCUSED)
    gap_day = attended + timedelta(days=21 - completion.GAP_WARNING_DAYS)
    enrollment.completion_deadline = None
    result = completion.evaluate(enrollment, today=gap_day)
    assert [(r.rule, r.count) for r in result.risks] == [(completion.Rule.MAX_GAP_DAYS, 14)]
    result = completion.evaluate(enrollment, today=gap_day - timedelta(days=1))
    assert result.risks == []


def test_one_more_absence_is_no_risk_when_no_session_is_left_to_miss(make_cohort, make_enrollment):
    """At the absence limit with every session held: no absence is left to break it."""
    enrollment = make_enrollment(
        cohort=make_cohort(start=today() - timedelta(weeks=3)), overrides=NO_GAP_RULE
    )
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 2, S.ABSENT)
    mark(enrollment, 3, S.PRESENT)
    result = completion.evaluate(enrollment)
    assert all(line.past for line in result.lines)  # every session held
    assert completion.Rule.MAX_ABSENCES not in [r.rule for r in result.risks]


def test_the_cohorts_calendar_decides_today(make_enrollment, monkeypatch):
    """01:00 UTC on December 8 is still December 7 in Los Angeles, where the cohort meets."""
    from datetime import UTC, date, datetime

    enrollment = make_enrollment()
    monkeypatch.setattr(completion, "utcnow", lambda: datetime(2026, 12, 8, 1, 0, tzinfo=UTC))
    assert completion.local_today(enrollment) == date(2026, 12, 7)


def test_a_complete_case_tells_a_court_system_the_day_it_was_completed(make_enrollment):
    from .helpers import complete_case

    enrollment = make_enrollment()
    complete_case(enrollment)
    result = completion.evaluate(enrollment)
    facts = completion.as_json(result)
    assert facts["complete"] is True
    assert facts["completed_on"] == result.completed_on.isoformat()


# --- gap in days -------------------------------------------------------------------------------


def test_an_unmarked_held_session_does_not_make_a_gap(make_enrollment):
    enrollment = make_enrollment()  # program rule: 21 days; sessions 8, 7 and 6 weeks ago
    mark(enrollment, 1, S.PRESENT)
    result = completion.evaluate(enrollment)
    # Sessions 2 and 3 were held but nobody marked them: he may have been there.
    assert [s.number for s in result.unmarked] == [2, 3]
    assert [line.unmarked for line in result.lines] == [False, True, True]
    assert "max_gap_days" not in violated(result)
    assert result.days_without_attendance == 7  # up to the first unmarked session
    assert result.possible


def test_marked_sessions_without_attendance_let_the_gap_run(make_enrollment):
    enrollment = make_enrollment(overrides={"max_absences": None, "max_consecutive_absences": None})
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 2, S.ABSENT)
    mark(enrollment, 3, S.ABSENT)
    first = day_of(enrollment, 1)
    at_limit = completion.evaluate(enrollment, today=first + timedelta(days=21))
    assert words.violations(at_limit) == []
    assert words.risks(at_limit)[-1] == (
        "21 days without attendance; the limit of 21 days is reached on "
        f"{format_date(first + timedelta(days=22))}."
    )
    early = completion.evaluate(enrollment, today=first + timedelta(days=13))
    assert not any(
        "without attendance" in r for r in words.risks(early)
    )  # 8 days away from the limit
    late = completion.evaluate(enrollment, today=first + timedelta(days=22))
    assert violated(late) == {"max_gap_days": "22 days without attendance; the limit is 21."}
    assert late.breaches[0].since == first + timedelta(days=22)
    assert not late.possible


def test_a_make_up_restarts_the_gap_from_the_day_he_attended_it(make_cohort, make_enrollment):
    enrollment = make_enrollment(overrides={"max_absences": None, "max_consecutive_absences": None})
    later = make_cohort(start=today() - timedelta(weeks=4))
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 2, S.ABSENT)
    mark(enrollment, 3, S.ABSENT)
    makeup(enrollment, later, 3)
    result = completion.evaluate(enrollment, today=later.sessions[2].local_date + timedelta(1))
    assert "max_gap_days" not in violated(result)
    assert result.days_without_attendance == 1


# --- sessions before his enrollment ------------------------------------------------------------


def test_sessions_before_he_started_never_count_against_him(make_cohort, make_enrollment):
    cohort = make_cohort()
    early = make_enrollment(cohort=cohort, overrides=NO_GAP_RULE)
    mark(early, 1, S.ABSENT)  # another man's absence, to show the session was held
    enrollment = make_enrollment(
        cohort=cohort, starts_on=day_of(early, 2), overrides={"max_gap_days": 21}
    )
    with pytest.raises(ServiceError) as refused:
        mark(enrollment, 1, S.ABSENT)
    assert str(refused.value) == (
        f"{enrollment.participant.full_name} was not enrolled yet on "
        f"{format_date(day_of(early, 1))}: his case starts {format_date(day_of(early, 2))}."
    )
    mark(enrollment, 2, S.PRESENT)
    mark(enrollment, 3, S.PRESENT)
    result = completion.evaluate(enrollment, today=day_of(early, 3) + timedelta(days=1))
    assert [line.counts for line in result.lines] == [False, True, True]
    assert result.absences == 0 and result.unmarked == []
    assert words.violations(result) == []
    # He still owes the module he was not there for: only a make-up elsewhere can credit it.
    assert result.possible
    assert "1 more session to make up in another group: session 1." in words.unmet(result)


def test_a_session_before_he_started_can_be_made_up(make_cohort, make_enrollment):
    cohort = make_cohort()
    next_cycle = make_cohort(start=today() - timedelta(weeks=3))
    enrollment = make_enrollment(
        cohort=cohort, starts_on=cohort.sessions[1].local_date, overrides=NO_GAP_RULE
    )
    mark(enrollment, 2, S.PRESENT)
    mark(enrollment, 3, S.PRESENT)
    makeup(enrollment, next_cycle, 1)
    result = completion.evaluate(enrollment)
    assert result.sessions_credited == 3
    assert result.lines[0].status is S.MADE_UP and not result.lines[0].counts
    assert result.absences == 0
    assert not any("session" in item and "make up" in item for item in words.unmet(result))


# --- cancelled sessions ---------------------------------------------------------------------


def test_a_cancelled_session_is_ignored_and_not_owed(make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    cancel(enrollment.cohort.sessions[1])
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 3, S.PRESENT)
    result = completion.evaluate(enrollment)
    assert [line.session.number for line in result.lines] == [1, 3]
    assert result.sessions_required == 2  # the program held two of its three sessions
    assert result.sessions_credited == 2
    assert result.absences == 0 and result.unmarked == []
    assert not any("session" in item and "attend" in item for item in words.unmet(result))


def test_a_cancelled_session_cannot_be_marked(make_enrollment):
    enrollment = make_enrollment()
    session = enrollment.cohort.sessions[0]
    cancel(session, "Snow closure")
    with pytest.raises(ServiceError) as refused:
        mark(enrollment, 1, S.PRESENT)
    assert str(refused.value) == (
        f"Session 1 on {format_date(session.scheduled_at, enrollment.cohort.timezone)} "
        "was cancelled (Snow closure); attendance cannot be taken."
    )


def test_a_cancellation_lowers_a_court_order_for_more_sessions_only_by_one(make_enrollment):
    enrollment = make_enrollment(overrides={**NO_GAP_RULE, "sessions_required": 4})
    cancel(enrollment.cohort.sessions[2])
    result = completion.evaluate(enrollment)
    assert result.sessions_required == 3
    assert not result.possible
    assert words.blockers(result) == ["Only 2 sessions can count for this case; 3 are required."]


# --- deadline ---------------------------------------------------------------------------------


def test_a_passed_deadline_with_work_left_is_a_violation(make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    enrollment.completion_deadline = today() - timedelta(days=1)
    result = completion.evaluate(enrollment)
    assert violated(result) == {
        "completion_deadline": (
            f"The completion deadline ({format_date(enrollment.completion_deadline)}) has passed."
        )
    }
    assert not result.possible


def test_a_passed_deadline_after_finishing_everything_is_no_violation(make_enrollment):
    from .helpers import complete_case

    enrollment = make_enrollment()
    complete_case(enrollment)
    enrollment.completion_deadline = today() - timedelta(days=1)
    result = completion.evaluate(enrollment)
    assert result.complete and words.violations(result) == []


# --- refusals ---------------------------------------------------------------------------------


def test_a_future_session_is_refused_with_its_time(make_cohort, make_enrollment):
    enrollment = make_enrollment(cohort=make_cohort(start=today() + timedelta(days=7)))
    with pytest.raises(ServiceError, match=r"^Session 1 has not happened yet: it starts "):
        mark(enrollment, 1, S.PRESENT)
    assert enrollment.attendance == []


def test_another_cohorts_session_is_refused_and_points_to_make_ups(make_enrollment):
    ours, theirs = make_enrollment(), make_enrollment()
    with pytest.raises(ServiceError) as refused:
        attendance_service.mark(
            ours.cohort.sessions[0], theirs, S.PRESENT, 120, ours.cohort.facilitators[0]
        )
    assert str(refused.value) == (
        f"{theirs.participant.full_name} is not in this session's cohort "
        f"({ours.cohort.name}); record a make-up instead."
    )


def test_made_up_cannot_be_set_by_hand(make_enrollment):
    enrollment = make_enrollment()
    with pytest.raises(ServiceError, match="by recording the make-up itself"):
        mark(enrollment, 1, S.MADE_UP)


def test_a_closed_case_is_refused(make_user, make_enrollment):
    enrollment = make_enrollment()
    enrollments.transition(enrollment, EnrollmentState.WITHDRAWN, make_user(Role.ADMIN), "Moved.")
    with pytest.raises(ServiceError, match="This case is withdrawn; it is closed."):
        mark(enrollment, 1, S.PRESENT)


# --- the change history -----------------------------------------------------------------------


def test_every_change_is_kept_with_who_when_from_to_and_why(app, make_user, make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    facilitator = enrollment.cohort.facilitators[0]
    director = make_user(Role.ADMIN, name="Dana Director")
    session = enrollment.cohort.sessions[0]
    record = attendance_service.mark(session, enrollment, S.ABSENT, 0, facilitator)
    with pytest.raises(ServiceError, match="was already marked absent; give a reason"):
        attendance_service.mark(session, enrollment, S.LATE, 95, director)
    attendance_service.mark(
        session, enrollment, S.LATE, 95, director, reason="Sign-in sheet shows 6:55 pm."
    )
    db.session.commit()
    assert [
        (c.actor.full_name, c.from_status, c.from_minutes, c.to_status, c.to_minutes, c.reason)
        for c in record.history
    ] == [
        (facilitator.full_name, None, None, S.ABSENT, 0, ""),
        (director.full_name, S.ABSENT, 0, S.LATE, 95, "Sign-in sheet shows 6:55 pm."),
    ]
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_type == "attendance")
    ).all()
    assert actions == ["attendance.mark", "attendance.change"]

    page = text_of(signed_in(app, facilitator).get(f"/facilitator/enrollments/{enrollment.id}"))
    assert (
        f"{director.full_name}: Absent (0 min) → Late (95 min). Why: Sign-in sheet shows 6:55 pm."
        in page
    )
    assert f"{facilitator.full_name}: — → Absent (0 min)" in page


# --- the roster form ------------------------------------------------------------------------


@pytest.fixture
def roster(make_cohort, make_enrollment, make_user):
    """A cohort with five men, one per roster status, sessions weeks ago."""
    cohort = make_cohort()
    names = ["Adam Present", "Ben Late", "Carl Early", "Dan Excused", "Eli Absent"]
    men = [
        make_enrollment(cohort=cohort, participant=make_user(name=name), overrides=NO_GAP_RULE)
        for name in names
    ]
    db.session.commit()
    return cohort, men


def roster_rows(html: str) -> dict[str, str]:
    """participant name -> index of his row in the roster form."""
    rows = {}
    for index, enrollment_id in re.findall(
        r'name="rows-(\d+)-enrollment_id"[^>]*value="(\d+)"', html
    ):
        rows[int(enrollment_id)] = index
    return rows


def test_the_roster_takes_every_status_in_one_form(app, roster):
    cohort, men = roster
    client = signed_in(app, cohort.facilitators[0])
    url = f"/facilitator/sessions/{cohort.sessions[0].id}/attendance"
    rows = roster_rows(text_of(client.get(url)))
    assert set(rows) == {m.id for m in men}
    chosen = dict(
        zip(
            [m.id for m in men],
            [
                ("present", ""),
                ("late", "100"),
                ("left_early", "40"),
                ("excused", ""),
                ("absent", ""),
            ],
            strict=True,
        )
    )
    data = {}
    for enrollment_id, (status, minutes) in chosen.items():
        i = rows[enrollment_id]
        data |= {
            f"rows-{i}-enrollment_id": str(enrollment_id),
            f"rows-{i}-status": status,
            f"rows-{i}-minutes": minutes,
            f"rows-{i}-note": "Phone call" if status == "excused" else "",
        }
    response = post_form(client, url, data)
    assert response.status_code == 302, text_of(response)
    assert "Attendance saved for session 1 (5 change(s))." in text_of(
        client.get(response.headers["Location"])
    )
    db.session.expire_all()
    got = {
        a.enrollment_id: (a.status.value, a.minutes_credited, a.note)
        for m in men
        for a in m.attendance
    }
    assert got == {
        men[0].id: ("present", 120, ""),
        men[1].id: ("late", 100, ""),
        men[2].id: ("left_early", 40, ""),
        men[3].id: ("excused", 0, "Phone call"),
        men[4].id: ("absent", 0, ""),
    }
    grid = text_of(client.get(f"/facilitator/cohorts/{cohort.id}"))
    for letter, label in [("P", "Present"), ("L", "Late"), ("E", "Left early"), ("X", "Excused")]:
        assert f'<abbr title="{label}">{letter}</abbr>' in grid


def test_a_change_without_a_reason_saves_nothing_on_the_roster(app, roster):
    cohort, men = roster
    session = cohort.sessions[0]
    for m in men:
        attendance_service.mark(session, m, S.ABSENT, 0, cohort.facilitators[0])
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    url = f"/facilitator/sessions/{session.id}/attendance"
    rows = roster_rows(text_of(client.get(url)))
    first, second = men[0], men[1]
    data = {
        f"rows-{rows[first.id]}-enrollment_id": str(first.id),
        f"rows-{rows[first.id]}-status": "present",
        f"rows-{rows[first.id]}-reason": "He was in the back row.",
        f"rows-{rows[second.id]}-enrollment_id": str(second.id),
        f"rows-{rows[second.id]}-status": "present",
    }
    response = post_form(client, url, data)
    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was saved." in page
    assert f"{second.participant.full_name} was already marked absent; give a reason" in page
    db.session.expire_all()
    assert first.attendance[0].status is S.ABSENT  # all or nothing


def test_a_mark_cannot_be_cleared_from_the_roster(app, roster):
    cohort, men = roster
    session = cohort.sessions[0]
    attendance_service.mark(session, men[0], S.PRESENT, 120, cohort.facilitators[0])
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    url = f"/facilitator/sessions/{session.id}/attendance"
    rows = roster_rows(text_of(client.get(url)))
    i = rows[men[0].id]
    response = post_form(
        client, url, {f"rows-{i}-enrollment_id": str(men[0].id), f"rows-{i}-status": ""}
    )
    assert response.status_code == 422
    assert "a mark cannot be removed" in text_of(response)


def test_a_man_not_yet_enrolled_on_that_date_is_named_and_refused(app, roster, make_enrollment):
    cohort, _men = roster
    late_joiner = make_enrollment(cohort=cohort, starts_on=cohort.sessions[1].local_date)
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    url = f"/facilitator/sessions/{cohort.sessions[0].id}/attendance"
    page = text_of(client.get(url))
    assert late_joiner.participant.full_name not in page  # not on that day's roster
    response = post_form(
        client,
        url,
        {"rows-0-enrollment_id": str(late_joiner.id), "rows-0-status": "present"},
    )
    assert response.status_code == 422
    assert (
        f"{late_joiner.participant.full_name} was not enrolled yet on "
        f"{format_date(cohort.sessions[0].local_date)}" in text_of(response)
    )
    db.session.expire_all()
    assert late_joiner.attendance == []


def test_a_future_session_shows_why_and_refuses_a_post(app, make_cohort, make_enrollment):
    cohort = make_cohort(start=today() + timedelta(days=7))
    enrollment = make_enrollment(cohort=cohort)
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    url = f"/facilitator/sessions/{cohort.sessions[0].id}/attendance"
    page = text_of(client.get(url))
    assert "Session 1 has not happened yet: it starts" in page
    assert "Save attendance" not in page
    response = client.post(
        url,
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "rows-0-enrollment_id": str(enrollment.id),
            "rows-0-status": "present",
        },
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert enrollment.attendance == []


def test_a_cancelled_session_shows_why(app, make_enrollment):
    enrollment = make_enrollment()
    session = enrollment.cohort.sessions[0]
    cancel(session, "Snow closure")
    db.session.commit()
    client = signed_in(app, enrollment.cohort.facilitators[0])
    page = text_of(client.get(f"/facilitator/sessions/{session.id}/attendance"))
    assert "was cancelled (Snow closure); attendance cannot be taken." in page
    assert "Save attendance" not in page


# --- make-ups ---------------------------------------------------------------------------------


@pytest.fixture
def two_cohorts(make_cohort, make_enrollment, make_user):
    """James missed session 2 of his cohort; the other cohort of the program held it later."""
    ours = make_cohort()
    theirs = make_cohort(start=today() - timedelta(weeks=4))
    james = make_enrollment(
        cohort=ours, participant=make_user(name="James Carter"), overrides=NO_GAP_RULE
    )
    mark(james, 1, S.PRESENT)
    mark(james, 2, S.ABSENT, note="No call")
    mark(james, 3, S.PRESENT)
    db.session.commit()
    return ours, theirs, james


def test_a_make_up_links_both_marks_and_credits_the_missed_session(two_cohorts):
    ours, theirs, james = two_cohorts
    there = theirs.sessions[1]
    attended = makeup(james, theirs, 2, minutes=115)
    missed = attended.linked_attendance
    assert attended.session is there and attended.status is S.PRESENT
    assert attended.minutes_credited == 115
    assert missed.session is ours.sessions[1] and missed.status is S.MADE_UP
    assert missed.linked_attendance is attended  # each points at the other
    assert missed.made_up_at_session is there
    assert missed.note == "No call"
    assert [(c.from_status, c.to_status, c.reason) for c in missed.history] == [
        (None, S.ABSENT, ""),
        (S.ABSENT, S.MADE_UP, f"Made up at {theirs.name} on {format_date(there.local_date)}"),
    ]
    assert [(c.from_status, c.to_status) for c in attended.history] == [(None, S.PRESENT)]
    assert there.status is SessionStatus.HELD
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["attendance.makeup", "attendance.change"]


def test_a_make_up_keeps_the_note_written_with_it(two_cohorts):
    _ours, theirs, james = two_cohorts
    attended = attendance_service.record_makeup(
        theirs.sessions[1], james, director(), 110, note="Came straight from work."
    )
    assert attended.note == "Came straight from work."
    assert attended.linked_attendance.note == "No call"  # his own mark keeps its note


def test_men_of_the_sessions_own_cohort_or_another_program_are_not_offered(
    two_cohorts, make_cohort, make_enrollment, make_user, tmp_path
):
    from .test_document_contents import long_enrollment

    ours, theirs, james = two_cohorts
    own = make_enrollment(cohort=theirs, participant=make_user(name="Own Cohort"))
    mark(own, 2, S.ABSENT)  # he missed it in this very cohort: the roster, not a make-up
    elsewhere = long_enrollment(tmp_path, 3, make_cohort, make_enrollment, absent=(2,))
    offered = attendance_service.makeup_candidates(theirs.sessions[1], director())
    names = [c.enrollment.participant.full_name for c in offered]
    assert "James Carter" in names
    assert "Own Cohort" not in names
    assert elsewhere.participant.full_name not in names


def test_a_make_up_is_not_counted_twice(two_cohorts):
    _ours, theirs, james = two_cohorts
    makeup(james, theirs, 2, minutes=115)
    db.session.expire_all()
    result = completion.evaluate(james)
    assert len(james.attendance) == 4  # three of his own, one in the other cohort
    assert [line.session.cohort_id for line in result.lines] == [james.cohort_id] * 3
    assert result.sessions_credited == 3
    assert result.minutes_credited == 120 + 115 + 120
    assert result.makeups_owed == []
    assert "make up" not in " ".join(words.unmet(result))


def test_make_up_refusals_say_why(two_cohorts, make_cohort):
    ours, theirs, james = two_cohorts
    name = james.participant.full_name
    with pytest.raises(ServiceError) as refused:
        makeup(james, theirs, 1)
    assert str(refused.value) == (
        f"{name} already has credit for session 1 "
        f"(present, {format_date(ours.sessions[0].local_date)})."
    )
    future = make_cohort(start=today() + timedelta(days=3))
    with pytest.raises(ServiceError, match=r"has not happened yet \(it starts .*\); record the"):
        makeup(james, future, 2)
    with pytest.raises(ServiceError, match="is in this cohort; mark him on the roster instead."):
        makeup(james, ours, 2)
    makeup(james, theirs, 2)
    with pytest.raises(ServiceError, match="already has credit for session 2 \\(made up"):
        makeup(james, make_cohort(start=today() - timedelta(weeks=3)), 2)


def test_every_make_up_refusal_names_the_man_the_session_and_the_day(
    two_cohorts, make_cohort, make_user
):
    """The words a facilitator reads when a make-up is refused, whole: who, which session of
    which cohort, and when."""
    from intervention.i18n import format_datetime

    ours, theirs, james = two_cohorts
    name = james.participant.full_name
    refusal = attendance_service.makeup_refusal
    assert refusal(ours.sessions[1], james) == (
        f"{name} is in this cohort; mark him on the roster instead."
    )
    future = make_cohort(start=today() + timedelta(days=3))
    starts = format_datetime(future.sessions[1].scheduled_at, future.timezone)
    assert refusal(future.sessions[1], james) == (
        f"Session 2 of {future.name} has not happened yet (it starts {starts}); "
        "record the make-up once he has attended it."
    )
    cancelled = theirs.sessions[1]
    cancel(cancelled, "Snow closure")
    assert refusal(cancelled, james) == f"Session 2 of {theirs.name} was cancelled."
    later = make_cohort(start=today() - timedelta(weeks=3))
    assert refusal(later.sessions[1], james) is None  # he may make it up here
    attendance_service.record_makeup(later.sessions[1], james, director(), 100)
    assert refusal(later.sessions[1], james) == (
        f"{name} already has credit for session 2 "
        f"(made up, {format_date(ours.sessions[1].local_date)})."
    )
    enrollments.transition(james, EnrollmentState.WITHDRAWN, make_user(Role.ADMIN), "Moved.")
    assert refusal(later.sessions[0], james) == f"{name}'s case is withdrawn; it is closed."


def test_make_up_refusals_about_the_program_and_the_module(
    two_cohorts, make_cohort, make_enrollment, make_user
):
    """A make-up must be of his own program's module, and his cohort must have that session."""
    from intervention.models import CurriculumVersion, Module, Program

    ours, theirs, james = two_cohorts
    other = Program(slug="another-program", code="ANO", title="Another program")
    version = CurriculumVersion(
        program=other, label="1", content_hash="f" * 64, policy={}, rubric=[]
    )
    for number in (1, 2):
        Module(
            version=version,
            session_number=number,
            source_path=f"modules/0{number}.md",
            title=f"Module {number}",
            duration_minutes=60,
            body_markdown="",
            body_html="",
        )
    db.session.add(other)
    db.session.flush()
    elsewhere = make_cohort(version=version)
    refusal = attendance_service.makeup_refusal
    assert refusal(elsewhere.sessions[1], james) == (
        "James Carter is in another program; a make-up must be the same program's module."
    )
    # Kim's cohort cancelled its session 3: there is nothing of his to make up at theirs.
    cohort = make_cohort()
    kim = make_enrollment(cohort=cohort, participant=make_user(name="Kim Lee"))
    cancel(cohort.sessions[2])
    assert refusal(theirs.sessions[2], kim) == "Kim Lee's cohort has no session 3 to make up."


def test_a_refused_roster_says_every_problem_in_its_message(two_cohorts, make_user):
    """All or nothing: the refusal lists each row's problem, and nothing is recorded."""
    ours, theirs, james = two_cohorts
    rows = [
        attendance_service.RosterRow(None, S.PRESENT),
        attendance_service.RosterRow(james.id, S.LATE),  # already marked: needs a reason
    ]
    with pytest.raises(attendance_service.RosterRefused) as refused:
        attendance_service.mark_roster(ours.sessions[0], rows, make_user(Role.ADMIN))
    assert refused.value.problems == [
        (0, "A row names a man who is not on this session's roster."),
        (1, "James Carter was already marked present; give a reason for the change."),
    ]
    assert str(refused.value) == (
        "A row names a man who is not on this session's roster. "
        "James Carter was already marked present; give a reason for the change."
    )
    assert james.attendance[0].status is S.PRESENT


def test_make_up_refusals_about_his_own_dates(make_cohort, make_enrollment, make_user):
    # His cohort started six days ago (his sessions 2 and 3 are ahead); the other cohort held
    # sessions 1 and 2 before his case started and session 3 yesterday.
    ours = make_cohort(start=today() - timedelta(days=6))
    theirs = make_cohort(start=today() - timedelta(days=15))
    james = make_enrollment(
        cohort=ours,
        participant=make_user(name="James Carter"),
        starts_on=today() - timedelta(days=6),
        overrides=NO_GAP_RULE,
    )
    refusal = attendance_service.makeup_refusal
    own = format_date(ours.sessions[2].local_date)
    assert refusal(theirs.sessions[2], james) == (
        f"James Carter's own session 3 is on {own}; "
        "a make-up is for a session he has already missed."
    )
    before = format_date(theirs.sessions[0].local_date)
    assert refusal(theirs.sessions[0], james) == f"James Carter was not enrolled yet on {before}."


def test_only_men_who_missed_the_module_are_offered(two_cohorts, make_enrollment, make_user):
    ours, theirs, james = two_cohorts
    kept = make_enrollment(cohort=ours, participant=make_user(name="Kept Going"))
    mark(kept, 2, S.PRESENT)
    excused = make_enrollment(cohort=ours, participant=make_user(name="Excused Man"))
    mark(excused, 2, S.EXCUSED)
    never_marked = make_enrollment(cohort=ours, participant=make_user(name="Not Marked"))
    offered = attendance_service.makeup_candidates(theirs.sessions[1], director())
    assert [c.enrollment.participant.full_name for c in offered] == [
        "Excused Man",
        "James Carter",
        "Not Marked",
    ]
    assert [c.mark.status if c.mark else None for c in offered] == [S.EXCUSED, S.ABSENT, None]
    assert never_marked.id in {c.enrollment.id for c in offered}


def test_recording_a_make_up_in_the_browser_shows_the_link_both_ways(app, two_cohorts):
    ours, theirs, james = two_cohorts
    there = theirs.sessions[1]
    # One facilitator runs both cohorts here, so both rosters are his.
    theirs.facilitators = [ours.facilitators[0]]
    db.session.commit()
    client = signed_in(app, ours.facilitators[0])
    roster_url = f"/facilitator/sessions/{there.id}/attendance"
    page = text_of(client.get(roster_url))
    assert "Record a make-up" in page
    assert f'<option value="{james.id}">James Carter ({james.case_number})' in page
    response = post_form(
        client,
        f"/facilitator/sessions/{there.id}/makeups",
        {"enrollment_id": str(james.id), "minutes": "110", "note": "Came on Tuesday"},
        page=roster_url,
    )
    assert response.status_code == 302
    page = text_of(client.get(response.headers["Location"]))
    assert "Make-up recorded: James Carter attended session 2 here" in page
    assert (
        f"for his session 2 on {format_date(ours.sessions[1].scheduled_at, ours.timezone)}" in page
    )

    own = text_of(client.get(f"/facilitator/sessions/{ours.sessions[1].id}/attendance"))
    assert "Made up in another cohort" in own
    assert f'href="/facilitator/sessions/{there.id}/attendance">{theirs.name}, session 2</a>' in own

    record = text_of(client.get(f"/facilitator/enrollments/{james.id}"))
    assert f'Made up at <a href="/facilitator/sessions/{there.id}/attendance">' in record
    assert "; first marked absent." in record
    assert "Make-ups attended in other cohorts" in record
    assert f"Made up at {theirs.name} on {format_date(there.local_date)}" in record

    # A second make-up of the same module is refused with the reason.
    response = post_form(
        client,
        f"/facilitator/sessions/{there.id}/makeups",
        {"enrollment_id": str(james.id)},
        page=roster_url,
    )
    assert "Make-up not recorded: James Carter already has credit for session 2" in text_of(
        client.get(response.headers["Location"])
    )


def test_a_make_up_without_choosing_a_man_is_refused(app, two_cohorts):
    _ours, theirs, _james = two_cohorts
    client = signed_in(app, theirs.facilitators[0])
    roster_url = f"/facilitator/sessions/{theirs.sessions[1].id}/attendance"
    response = post_form(
        client, f"/facilitator/sessions/{theirs.sessions[1].id}/makeups", {}, page=roster_url
    )
    assert "Make-up not recorded: Choose the man who made up the session." in text_of(
        client.get(response.headers["Location"])
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Attendance.id)).where(
                Attendance.session_id == theirs.sessions[1].id
            )
        )
        == 0
    )


def test_only_his_own_cohorts_facilitators_and_the_director_record_his_make_up(
    app, two_cohorts, make_court, make_user
):
    """Issue 13: any facilitator could record a make-up for a man of another facilitator's
    cohort and another court. The make-up changes his own record, so it takes someone who runs
    his cohort and the one he attended, or the director."""
    ours, theirs, james = two_cohorts
    james.court = make_court("Another County Court")
    there = theirs.sessions[1]
    stranger = theirs.facilitators[0]  # runs the other cohort, not James's
    assert stranger not in ours.facilitators
    db.session.commit()

    with pytest.raises(ServiceError, match="Only his own cohort's facilitators"):
        attendance_service.record_makeup(there, james, stranger, 100)
    # His own facilitator does not run the cohort he attended: not his to record either.
    with pytest.raises(ServiceError, match="Only his own cohort's facilitators"):
        attendance_service.record_makeup(there, james, ours.facilitators[0], 100)
    assert attendance_service.makeup_candidates(there, stranger) == []

    client = signed_in(app, stranger)
    roster_url = f"/facilitator/sessions/{there.id}/attendance"
    page = text_of(client.get(roster_url))
    assert "James Carter" not in page and james.case_number not in page
    response = post_form(
        client,
        f"/facilitator/sessions/{there.id}/makeups",
        {"enrollment_id": str(james.id), "minutes": "110"},
        page=roster_url,
    )
    assert "Make-up not recorded: choose the man who made up the session." in text_of(
        client.get(response.headers["Location"])
    )
    count = sa.select(sa.func.count(Attendance.id)).where(Attendance.session_id == there.id)
    assert db.session.scalar(count) == 0

    director = make_user(Role.ADMIN)
    assert [c.enrollment for c in attendance_service.makeup_candidates(there, director)] == [james]
    attendance_service.record_makeup(there, james, director, 100)
    assert db.session.scalar(count) == 1


# --- the cohort grid and the participant's own page ---------------------------------------


def test_the_cohort_page_shows_who_is_at_risk_who_cannot_finish_and_why(
    app, make_cohort, make_enrollment, make_user
):
    cohort = make_cohort(start=today() - timedelta(days=8))  # sessions 1, 2 held; 3 ahead
    risky = make_enrollment(cohort=cohort, participant=make_user(name="Rick Risky"))
    gone = make_enrollment(cohort=cohort, participant=make_user(name="Gary Gone"))
    fine = make_enrollment(cohort=cohort, participant=make_user(name="Fred Fine"))
    mark(risky, 1, S.ABSENT)
    mark(risky, 2, S.PRESENT)
    mark(gone, 1, S.ABSENT)
    mark(gone, 2, S.ABSENT)
    mark(fine, 1, S.PRESENT)  # session 2 not marked for him yet
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    page = text_of(client.get(f"/facilitator/cohorts/{cohort.id}"))
    attention = page[page.index("Needs attention") : page.index("Participants")]
    assert "Gary Gone" in attention and "Cannot finish" in attention
    assert "2 absences in a row; the limit is 1." in attention
    assert "Rick Risky" in attention and "At risk" in attention
    assert "1 absence so far; one more breaks the limit of 1." in attention
    assert "Fred Fine" not in attention
    assert 'class="row-bad"' in page and 'class="row-warn"' in page
    assert 'class="sticky-col"' in page
    unmarked = page[page.index("Attendance not taken") : page.index("Needs attention")]
    assert "Session 2" in unmarked and "1 man not marked." in unmarked
    home = text_of(client.get("/facilitator/"))
    assert "<dt>Cannot finish</dt><dd>1</dd>" in home
    assert "<dt>At risk</dt><dd>1</dd>" in home


def test_his_own_page_shows_hours_and_exactly_what_he_owes(app, two_cohorts, make_enrollment):
    _ours, _theirs, james = two_cohorts
    page = text_of(signed_in(app, james.participant).get("/me/"))
    assert "1 missed session to make up: session 2." in page
    assert "2 of 3" in page or "2 of 3 sessions credited" in page
    assert "4.0" in page  # hours credited
