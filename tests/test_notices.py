"""Non-compliance notices: one draft per broken rule, due within the court's deadline, drafted
after attendance and by the daily scan, overdue ones on the dashboards, and marking one sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.i18n import format_date
from intervention.models import (
    AttendanceStatus,
    CourtDocument,
    DocumentKind,
    EnrollmentState,
    Role,
)
from intervention.services import ServiceError, enrollments, notices
from intervention.services import attendance as attendance_service

from .helpers import events, mark, post_form, signed_in, text_of, today

S = AttendanceStatus
NO_GAP_RULE = {"max_gap_days": None}


def court_today(enrollment):
    return notices.court_today(enrollment)


def all_notices():
    return db.session.scalars(sa.select(CourtDocument).order_by(CourtDocument.id)).all()


@pytest.fixture
def absent_twice(make_court, make_enrollment):
    court = make_court()
    court.notice_deadline_days = 10
    enrollment = make_enrollment(court=court, overrides=NO_GAP_RULE)
    mark(enrollment, 1, S.ABSENT)
    mark(enrollment, 2, S.ABSENT)
    return enrollment


def test_one_notice_per_broken_rule_due_within_the_courts_deadline(absent_twice):
    drafted = notices.draft_for(absent_twice)
    assert [(n.rule, n.reason) for n in drafted] == [
        ("max_absences", "2 absences; the limit is 1."),
        ("max_consecutive_absences", "2 absences in a row; the limit is 1."),
    ]
    for notice in drafted:
        assert notice.kind is DocumentKind.NONCOMPLIANCE_NOTICE
        assert notice.due_on == court_today(absent_twice) + timedelta(days=10)
        assert notice.sent_at is None and notice.pdf is None
        assert notice.created_at is not None
    # Asking again (another roster save, another scan) drafts nothing new.
    assert notices.draft_for(absent_twice) == []
    mark(absent_twice, 3, S.ABSENT)  # worse, but the same breach
    assert notices.draft_for(absent_twice) == []
    assert len(all_notices()) == 2
    drafted = events("notice.draft")
    assert [e.details["rule"] for e in drafted] == ["max_absences", "max_consecutive_absences"]


def test_a_sent_notice_is_not_drafted_again_for_the_same_breach(absent_twice, make_user):
    first, _second = notices.draft_for(absent_twice)
    notices.mark_sent(first, court_today(absent_twice), "Email", make_user(Role.FACILITATOR))
    assert notices.draft_for(absent_twice) == []
    assert len(all_notices()) == 2


def test_a_new_gap_after_a_sent_gap_notice_drafts_a_new_one(make_cohort, make_enrollment):
    enrollment = make_enrollment(overrides={"max_absences": None, "max_consecutive_absences": None})
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 2, S.ABSENT)
    mark(enrollment, 3, S.ABSENT)
    first_day = enrollment.cohort.sessions[0].local_date
    [gap] = notices.draft_for(enrollment, today=first_day + timedelta(days=22))
    assert gap.rule == "max_gap_days"
    gap.sent_at, gap.sent_method = datetime.now(UTC), "Mail"
    gap.created_at = datetime.now(UTC) - timedelta(weeks=10)  # drafted back then
    # He comes back for a make-up, then disappears again: a new breach, a new notice.
    own = enrollment.cohort.facilitators[0]  # runs the later cohort too, so may record it
    later = make_cohort(start=today() - timedelta(weeks=5), facilitator=own)
    attendance_service.record_makeup(later.sessions[1], enrollment, own)
    back = later.sessions[1].local_date
    assert notices.draft_for(enrollment, today=back + timedelta(days=10)) == []
    [again] = notices.draft_for(enrollment, today=back + timedelta(days=22))
    assert again.rule == "max_gap_days" and again.id != gap.id


def test_a_closed_case_gets_no_notice(absent_twice, make_user):
    enrollments.transition(
        absent_twice, EnrollmentState.TERMINATED, make_user(Role.ADMIN), "Court terminated."
    )
    assert notices.draft_for(absent_twice) == []


def test_the_scan_drafts_gap_and_deadline_notices_that_time_brought(runner, make_enrollment):
    gap_case = make_enrollment(overrides={"max_absences": None, "max_consecutive_absences": None})
    mark(gap_case, 1, S.PRESENT)
    mark(gap_case, 2, S.EXCUSED)
    mark(gap_case, 3, S.EXCUSED)
    late_case = make_enrollment(overrides=NO_GAP_RULE)
    late_case.completion_deadline = today() - timedelta(days=2)
    fine = make_enrollment(overrides=NO_GAP_RULE)
    db.session.commit()

    result = runner.invoke(args=["notices", "scan"])
    assert result.exit_code == 0, result.output
    assert "2 notice(s) drafted" in result.output
    assert f"{gap_case.case_number} ({gap_case.court.name}):" in result.output
    by_case = {(n.enrollment_id, n.rule) for n in all_notices()}
    assert by_case == {(gap_case.id, "max_gap_days"), (late_case.id, "completion_deadline")}
    assert fine.id not in {e for e, _ in by_case}
    again = runner.invoke(args=["notices", "scan"])
    assert "0 notice(s) drafted" in again.output


# --- marking a notice sent ------------------------------------------------------------------


def test_mark_sent_records_date_and_method_and_is_audited(absent_twice, make_user):
    notice, _ = notices.draft_for(absent_twice)
    actor = make_user(Role.FACILITATOR)
    with pytest.raises(ServiceError, match="Choose how the notice was sent"):
        notices.mark_sent(notice, court_today(absent_twice), "Pigeon", actor)
    with pytest.raises(ServiceError, match="cannot be in the future"):
        notices.mark_sent(notice, court_today(absent_twice) + timedelta(days=1), "Fax", actor)
    notices.mark_sent(notice, court_today(absent_twice), "E-filing", actor)
    assert notice.sent_method == "E-filing"
    assert format_date(notice.sent_at, absent_twice.court.timezone) == format_date(
        court_today(absent_twice)
    )
    with pytest.raises(ServiceError, match="already marked sent"):
        notices.mark_sent(notice, court_today(absent_twice), "Fax", actor)
    [event] = events("notice.sent")
    assert event.details["method"] == "E-filing" and event.actor_id == actor.id


# --- in the browser ---------------------------------------------------------------------------


def test_saving_the_roster_drafts_the_notice_and_says_so(app, make_enrollment):
    enrollment = make_enrollment(overrides=NO_GAP_RULE)
    mark(enrollment, 1, S.ABSENT)
    db.session.commit()
    client = signed_in(app, enrollment.cohort.facilitators[0])
    url = f"/facilitator/sessions/{enrollment.cohort.sessions[1].id}/attendance"
    response = post_form(
        client, url, {"rows-0-enrollment_id": str(enrollment.id), "rows-0-status": "absent"}
    )
    assert response.status_code == 302
    page = text_of(client.get(response.headers["Location"]))
    assert "Non-compliance notice drafted for" in page
    assert "2 absences; the limit is 1." in page
    assert {n.rule for n in all_notices()} == {"max_absences", "max_consecutive_absences"}


def test_the_enrollment_page_shows_notices_and_marks_one_sent(app, absent_twice):
    notice, _other = notices.draft_for(absent_twice)
    db.session.commit()
    client = signed_in(app, absent_twice.cohort.facilitators[0])
    url = f"/facilitator/enrollments/{absent_twice.id}"
    page = text_of(client.get(url))
    assert "Notices to the court" in page
    assert f"due to {absent_twice.court.name} {format_date(notice.due_on)}" in page
    assert page.count("Mark as sent") == 2
    day = court_today(absent_twice).isoformat()
    response = post_form(
        client,
        f"/facilitator/notices/{notice.id}/sent",
        {"sent_on": day, "method": "Hand delivery"},
        page=url,
    )
    assert response.status_code == 302
    page = text_of(client.get(response.headers["Location"]))
    assert "Notice marked sent on" in page and "by hand delivery" in page
    assert page.count("Mark as sent") == 1
    db.session.refresh(notice)
    assert notice.sent_method == "Hand delivery"

    response = post_form(
        client, f"/facilitator/notices/{_other.id}/sent", {"sent_on": day, "method": ""}, page=url
    )
    assert "Notice not marked sent: Choose how it was sent." in text_of(
        client.get(response.headers["Location"])
    )


def test_another_facilitator_cannot_mark_a_notice_sent(app, absent_twice, make_user):
    notice, _ = notices.draft_for(absent_twice)
    db.session.commit()
    stranger = signed_in(app, make_user(Role.FACILITATOR))
    response = post_form(
        stranger,
        f"/facilitator/notices/{notice.id}/sent",
        {"sent_on": today().isoformat(), "method": "Fax"},
        page="/facilitator/",
    )
    assert response.status_code == 404
    db.session.refresh(notice)
    assert notice.sent_at is None


def test_overdue_notices_stand_out_on_the_dashboards(app, absent_twice, make_user, make_enrollment):
    notice, sent = notices.draft_for(absent_twice)
    notice.due_on = court_today(absent_twice) - timedelta(days=3)
    sent.due_on = court_today(absent_twice) - timedelta(days=3)
    sent.sent_at, sent.sent_method = datetime.now(UTC), "Mail"
    elsewhere = make_enrollment(overrides=NO_GAP_RULE)  # another facilitator's cohort
    mark(elsewhere, 1, S.ABSENT)
    mark(elsewhere, 2, S.ABSENT)
    theirs = notices.draft_for(elsewhere)
    for n in theirs:
        n.due_on = court_today(elsewhere) - timedelta(days=1)
    db.session.commit()
    link = f'href="/facilitator/enrollments/{absent_twice.id}#notices"'

    facilitator = signed_in(app, absent_twice.cohort.facilitators[0])
    home = text_of(facilitator.get("/facilitator/"))
    assert "Overdue notices to the court: 1" in home
    assert link in home and notice.reason in home
    assert elsewhere.participant.full_name not in home
    assert "<dt>" in home and "Notices overdue" in home
    cohort_page = text_of(facilitator.get(f"/facilitator/cohorts/{absent_twice.cohort_id}"))
    assert "Overdue notices to the court: 1" in cohort_page and link in cohort_page
    record = text_of(facilitator.get(f"/facilitator/enrollments/{absent_twice.id}"))
    assert "Overdue by 3 day(s)" in record

    director = signed_in(app, make_user(Role.ADMIN))
    overview = text_of(director.get("/admin/"))
    assert "3 overdue" in overview  # one of his, two of the other cohort's
    assert "3 not sent" in overview
    assert link in overview
    assert f'href="/facilitator/enrollments/{elsewhere.id}#notices"' in overview
