"""What court documents say: the day he really finished, discretion about the course, and a
layout that fits the page."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from pypdf import PdfReader

from intervention.curriculum.sync import sync_curricula
from intervention.extensions import db
from intervention.i18n import format_date
from intervention.models import AttendanceStatus, EnrollmentState, Role, utcnow
from intervention.services import attendance as attendance_service
from intervention.services import cases, completion, documents
from intervention.services import certificates as certificate_service

from .helpers import complete_case, pdf_text, post_form, save_provider, signed_in, text_of


def backdate_reviews(enrollment, moment) -> None:
    for reflection in enrollment.reflections:
        for attempt in reflection.attempts:
            if attempt.review is not None:
                attempt.review.created_at = moment
    db.session.flush()


def test_a_late_certificate_states_the_day_the_last_requirement_was_met(make_enrollment):
    enrollment = make_enrollment()
    facilitator = complete_case(enrollment)
    last = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    # His last reflection was accepted two days after his last session, weeks ago; the
    # certificate is issued only today.
    accepted_at = last.scheduled_at + timedelta(days=2)
    backdate_reviews(enrollment, accepted_at)
    finished = last.local_date + timedelta(days=2)

    assert completion.evaluate(enrollment).completed_on == finished
    cert = certificate_service.issue(enrollment, facilitator)
    assert cert.completed_on == finished
    assert cert.issued_at.date() > finished + timedelta(days=7)
    text = pdf_text(cert.pdf)
    tz = enrollment.court.timezone
    done, issued = format_date(finished), format_date(cert.issued_at, tz)
    assert f"Completed {done} · Issued {issued}" in text
    assert f"on {done}" in text
    assert f"on {issued}" not in text


def test_the_last_credited_session_sets_the_date_when_reflections_came_first(make_enrollment):
    enrollment = make_enrollment()
    complete_case(enrollment)
    first = min(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    backdate_reviews(enrollment, first.scheduled_at)
    last = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    assert completion.evaluate(enrollment).completed_on == last.local_date


def test_an_incomplete_case_has_no_completion_date(make_enrollment):
    enrollment = make_enrollment()
    assert completion.evaluate(enrollment).completed_on is None


def test_a_reissue_keeps_the_true_completion_date(make_enrollment, make_user):
    enrollment = make_enrollment()
    facilitator = complete_case(enrollment)
    last = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    backdate_reviews(enrollment, last.scheduled_at + timedelta(hours=3))
    old = certificate_service.issue(enrollment, facilitator)
    new = certificate_service.reissue(old, facilitator, "Middle initial was missing.")
    assert new.completed_on == old.completed_on == last.local_date
    assert f"Completed {format_date(last.local_date)}" in pdf_text(new.pdf)


def test_the_verify_page_and_the_court_exports_state_the_true_date(client, make_enrollment):
    from intervention.clerk import exports

    enrollment = make_enrollment()
    facilitator = complete_case(enrollment)
    last = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    backdate_reviews(enrollment, last.scheduled_at + timedelta(hours=3))
    cert = certificate_service.issue(enrollment, facilitator)
    db.session.commit()
    finished = last.local_date

    page = client.get(f"/verify/{cert.verification_code}").get_data(as_text=True)
    assert f"<dt>Completed</dt><dd>{format_date(finished)}</dd>" in page
    issued = format_date(cert.issued_at, enrollment.court.timezone)
    assert f"<dt>Issued</dt><dd>{issued}</dd>" in page

    header, row = exports.cases_csv([enrollment]).decode("utf-8-sig").splitlines()
    fields = dict(zip(header.split(","), row.split(","), strict=True))
    assert fields["completed_on"] == finished.isoformat()
    issued_on = cert.issued_at.astimezone(ZoneInfo(enrollment.court.timezone)).date()
    assert fields["certificate_issued_on"] == issued_on.isoformat()
    [item] = exports.export_items(enrollment.court, finished, issued_on)
    assert item.manifest_row()[-1] == finished.isoformat()


# --- discretion --------------------------------------------------------------------------------


def test_a_certificate_lists_sessions_without_titles_and_keeps_the_fingerprint_in_metadata(
    make_enrollment,
):
    enrollment = make_enrollment()
    facilitator = complete_case(enrollment)
    cert = certificate_service.issue(enrollment, facilitator)
    version = enrollment.cohort.version
    text = pdf_text(cert.pdf)
    for module in version.modules:
        assert module.title not in text
    assert version.short_hash not in text
    assert "Curriculum version" not in text
    reader = PdfReader(BytesIO(cert.pdf))
    assert version.content_hash in reader.metadata["/Keywords"]
    assert version.label in reader.metadata["/Subject"]
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert version.content_hash in xmp  # PDF/A keeps the Info and the XMP in step

    report = documents.progress_report(enrollment, facilitator)
    text = pdf_text(report.pdf)
    assert all(module.title not in text for module in version.modules)
    assert version.short_hash not in text
    assert version.content_hash in PdfReader(BytesIO(report.pdf)).metadata["/Keywords"]


def test_a_court_that_asks_for_titles_gets_them(app, make_user, make_enrollment):
    enrollment = make_enrollment()
    court = enrollment.court
    director = signed_in(app, make_user(Role.ADMIN))
    form = {
        "name": court.name,
        "jurisdiction": court.jurisdiction,
        "timezone": court.timezone,
        "other_timezone": "",
        "notice_deadline_days": "7",
        "language": "en",
        "session_titles_on_documents": "y",
    }
    response = post_form(director, f"/admin/courts/{court.id}/edit", form)
    assert response.status_code == 302, text_of(response)
    db.session.refresh(court)
    assert court.session_titles_on_documents is True

    facilitator = complete_case(enrollment)
    cert = certificate_service.issue(enrollment, facilitator)
    text = pdf_text(cert.pdf)
    assert all(m.title in text for m in enrollment.cohort.version.modules)


# --- layout ------------------------------------------------------------------------------------


def long_course(folder: Path, sessions: int):
    """A program of `sessions` weekly modules, stored like any curriculum: a ten-week course
    is common, twenty weeks is what some courts order."""
    root = folder / f"course-{sessions}"
    (root / "modules").mkdir(parents=True)
    (root / "program.yaml").write_text(
        f'title: "A {sessions}-Week Course for Men"\n'
        f"code: W{sessions}\n"
        'description: "A longer course."\n'
        "language: en\n"
        'version: "2026.1"\n'
        "policy:\n  max_absences: 3\n  late_counts_as_attended: true\n  makeups_required: true\n"
    )
    for n in range(1, sessions + 1):
        (root / "modules" / f"{n:02d}-week.md").write_text(
            f'---\nsession: {n}\ntitle: "Week {n}: Choices and Consequences"\n'
            'duration_minutes: 120\nobjectives:\n  - "Say what you did."\n'
            "reflection:\n"
            f'  - id: week-{n}\n    text: "What did you learn this week?"\n'
            "    min_words: 20\n    required: false\n"
            f"---\n## Week {n}\n\nWe talk about choices.\n"
        )
    [result] = sync_curricula(folder)
    assert result.version is not None, result.problems
    return result.version


def long_enrollment(folder, sessions, make_cohort, make_enrollment, absent=(3, 7)):
    version = long_course(folder, sessions)
    start = utcnow().date() - timedelta(weeks=sessions + 1)
    cohort = make_cohort(version=version, start=start)
    enrollment = make_enrollment(cohort=cohort)
    facilitator = cohort.facilitators[0]
    for session in cohort.sessions:
        status = AttendanceStatus.ABSENT if session.number in absent else AttendanceStatus.PRESENT
        attendance_service.mark(session, enrollment, status, 120, facilitator)
    return enrollment


@pytest.mark.parametrize(("sessions", "pages"), [(10, 1), (20, 2)])
def test_progress_report_page_count(tmp_path, make_cohort, make_enrollment, sessions, pages):
    enrollment = long_enrollment(tmp_path, sessions, make_cohort, make_enrollment)
    report = documents.progress_report(enrollment, enrollment.cohort.facilitators[0])
    reader = PdfReader(BytesIO(report.pdf))
    assert len(reader.pages) == pages
    # No page holds only the signature: the last one carries the record's last sessions.
    last = " ".join(reader.pages[-1].extract_text().split())
    assert "I prepared this report" in last
    final = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    assert f"{sessions} {format_date(final.scheduled_at, enrollment.cohort.timezone)}" in last


def with_letterhead_and_parties(enrollment, make_user) -> None:
    """Everything a real court document carries above its record: the provider's full
    letterhead and logo, his identifiers, and a recipient with three copies."""
    from datetime import date

    save_provider(make_user(Role.ADMIN))
    enrollment.date_of_birth = date(1973, 6, 26)
    enrollment.court_person_number = "BK-5076079"
    enrollment.court_department = "Seattle Courthouse, Judge E. Moreno"
    enrollment.prosecutor = "King County Prosecuting Attorney's Office, DPA L. Chen"
    enrollment.defense_attorney = "King County Department of Public Defense, M. Okafor"
    enrollment.probation_officer = "King County Probation, PO D. Hale"
    db.session.flush()


@pytest.mark.parametrize(
    ("sessions", "pages", "language"), [(10, 1, "en"), (10, 1, "es"), (20, 2, "en")]
)
def test_certificate_page_count_with_letterhead_and_parties(
    tmp_path, make_user, make_cohort, make_enrollment, sessions, pages, language
):
    enrollment = long_enrollment(tmp_path, sessions, make_cohort, make_enrollment, absent=())
    with_letterhead_and_parties(enrollment, make_user)
    enrollment.court.language = language  # Spanish runs longer
    cert = certificate_service.issue(enrollment, enrollment.cohort.facilitators[0])
    reader = PdfReader(BytesIO(cert.pdf))
    assert len(reader.pages) == pages
    text = pdf_text(cert.pdf)
    # Laid out once: the attestation and the verification box are not repeated across pages.
    attest, code = ("I attest that", "Verification code")
    if language == "es":
        attest, code = ("Hago constar que", "Código de verificación")
    assert text.count(attest) == 1, text
    assert text.count(code) == 1
    # No page holds only the attestation: the last page carries the record's last session.
    last = " ".join(reader.pages[-1].extract_text().split())
    assert attest in last and "Dana Whitfield, Program Director" in last
    final = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    with force_locale(language):
        day = format_date(final.scheduled_at, enrollment.cohort.timezone)
    assert f"{sessions} {day}" in last


@pytest.mark.parametrize("sessions", [10, 20])
def test_progress_report_with_letterhead_and_parties_keeps_its_page_count(
    tmp_path, make_user, make_cohort, make_enrollment, sessions
):
    enrollment = long_enrollment(tmp_path, sessions, make_cohort, make_enrollment)
    with_letterhead_and_parties(enrollment, make_user)
    report = documents.progress_report(enrollment, enrollment.cohort.facilitators[0])
    assert len(PdfReader(BytesIO(report.pdf)).pages) == (1 if sessions == 10 else 2)


# --- what notices and termination reports say ------------------------------------------------


def test_notices_and_termination_reports_state_contacts_and_recommendation(app, make_enrollment):
    from intervention.services import notices as notice_service

    enrollment = make_enrollment(overrides={"max_gap_days": None})
    facilitator = enrollment.cohort.facilitators[0]
    sessions = sorted(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    for session in sessions[:2]:
        attendance_service.mark(session, enrollment, AttendanceStatus.ABSENT, 0, facilitator)
    db.session.commit()
    client = signed_in(app, facilitator)
    page = f"/cases/{enrollment.id}"
    today = notice_service.court_today(enrollment)

    # The case page records contact attempts and the recommendation.
    for outcome in ("Two calls, no answer", "Voicemail left"):
        response = post_form(
            client,
            f"{page}/contacts",
            {"on": (today - timedelta(days=2)).isoformat(), "method": "phone", "outcome": outcome},
            page=page,
        )
        assert response.status_code == 302
    tomorrow = (today + timedelta(days=1)).isoformat()
    post_form(
        client, f"{page}/contacts", {"on": tomorrow, "method": "phone", "outcome": "x"}, page=page
    )
    shown = text_of(client.get(page))
    assert "cannot be in the future" in shown
    assert "Two calls, no answer" in shown and "Voicemail left" in shown
    response = post_form(
        client,
        f"{page}/recommendation",
        {
            "recommendation": "review_hearing",
            "text": "He asked to move to the Tuesday group.",
            "may_reenroll": "yes",
        },
        page=page,
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert len(notice_service.contacts_for(enrollment)) == 2
    assert (enrollment.recommendation, enrollment.may_reenroll) == ("review_hearing", True)

    [notice, *_] = notice_service.draft_for(enrollment, facilitator) or [
        d for d in notice_service.notices_for(enrollment)
    ]
    documents.generate_notice(notice, facilitator)
    _transition, report = cases.change_status(
        enrollment, EnrollmentState.TERMINATED, facilitator, "Stopped coming."
    )
    contacted = format_date(today - timedelta(days=2))
    for pdf in (notice.pdf, report.pdf):
        text = pdf_text(pdf)
        assert f"{contacted} Phone call Two calls, no answer" in text
        assert "Voicemail left" in text
        assert "Set a review hearing. He asked to move to the Tuesday group." in text
        assert "May enroll again Yes" in text


def test_a_recommendation_must_be_one_of_the_list(make_enrollment):
    from intervention.services import ServiceError
    from intervention.services import notices as notice_service

    enrollment = make_enrollment()
    facilitator = enrollment.cohort.facilitators[0]
    with pytest.raises(ServiceError, match="Choose a recommendation"):
        notice_service.set_recommendation(
            enrollment, facilitator, recommendation="jail", text="", may_reenroll=None
        )
    with pytest.raises(ServiceError, match="what came of it"):
        notice_service.record_contact(
            enrollment, facilitator, on=utcnow().date(), method="phone", outcome="  "
        )
