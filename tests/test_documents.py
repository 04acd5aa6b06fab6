"""Court documents: progress reports, non-compliance notices and termination reports, stored
once with their hash, downloaded as stored, and never carrying reflection text."""

from __future__ import annotations

import hashlib
from io import BytesIO

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from intervention.extensions import db
from intervention.models import (
    AttendanceStatus,
    CourtDocument,
    DocumentKind,
    EnrollmentState,
    ReviewOutcome,
    Role,
)
from intervention.services import ServiceError, cases, documents, notices
from intervention.services import reflections as reflection_service

from .helpers import (
    answer,
    events,
    mark,
    pdf_text,
    post_form,
    signed_in,
    submit_answer,
    text_of,
)

S = AttendanceStatus
SECRET = "Quokkazanzibar"  # a word only his reflection contains


@pytest.fixture
def case(make_enrollment):
    """Two sessions attended, one reflection accepted (with a distinctive word), one left."""
    enrollment = make_enrollment(case_number="KC-26-777001")
    facilitator = enrollment.cohort.facilitators[0]
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 2, S.PRESENT)
    attempt = submit_answer(enrollment, "what-happened", answer(SECRET, 80))
    reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "Honest.", facilitator)
    return enrollment


@pytest.fixture
def absent_case(make_court, make_enrollment):
    """Absent twice in a row: two rules broken, two notices drafted."""
    court = make_court("Lakeside District Court")
    court.notice_deadline_days = 10
    enrollment = make_enrollment(
        court=court, case_number="LDC-26-4410", overrides={"max_gap_days": None}
    )
    mark(enrollment, 1, S.ABSENT)
    mark(enrollment, 2, S.ABSENT)
    return enrollment


# --- progress report ----------------------------------------------------------------------------


def test_progress_report_states_counts_and_never_reflection_text(case):
    facilitator = case.cohort.facilitators[0]
    report = documents.progress_report(case, facilitator)

    assert report.kind is DocumentKind.PROGRESS_REPORT
    assert report.generated_by is facilitator and report.generated_at is not None
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()
    reader = PdfReader(BytesIO(report.pdf))
    assert reader.metadata.title == "Progress report PR-KC-26-777001-1"
    assert reader.metadata.author == f"{facilitator.full_name}, Facilitator"
    text = pdf_text(report.pdf)
    for expected in [
        "Progress Report",
        "PR-KC-26-777001-1",
        "KC-26-777001",
        case.participant.full_name,
        case.court.name,
        "Pre-filing diversion",
        f"Document ID {report.id}",
        "2 of 3",  # sessions credited of required
        "1 of 4",  # reflections accepted of required: the count only
        "1 more session to attend (2 of 3 credited).",
        "Active — can still complete.",  # one statement, the state and what it means
        "Page 1 of 1",
    ]:
        assert expected in text, expected
    assert SECRET not in text
    assert "I thought about my choices" not in text
    assert SECRET.encode() not in report.pdf
    [event] = events("document.generate")
    assert "number" not in event.details  # a document number holds the case number
    assert event.details["sha256"] == report.sha256


def test_each_progress_report_is_a_new_document_with_the_next_number(case):
    facilitator = case.cohort.facilitators[0]
    first = documents.progress_report(case, facilitator)
    mark(case, 3, S.PRESENT)
    second = documents.progress_report(case, facilitator)
    assert first.id != second.id
    assert documents.document_number(second) == "PR-KC-26-777001-2"
    assert "3 of 3" in pdf_text(second.pdf)
    assert "2 of 3" in pdf_text(first.pdf)  # the first keeps what it said then


def test_only_staff_make_court_documents(case, make_user):
    for user in (make_user(Role.PARTICIPANT), make_user(Role.CLERK, court=case.court)):
        with pytest.raises(ServiceError):
            documents.progress_report(case, user)
    assert documents.documents_for(case) == []


def test_progress_report_shows_absences_and_that_completion_is_impossible(absent_case):
    report = documents.progress_report(absent_case, absent_case.cohort.facilitators[0])
    text = pdf_text(report.pdf)
    # One plain statement: never "Active" beside "completion is no longer possible".
    assert "Active — can no longer complete: 2 absences; the limit is 1." in text
    assert "possible" not in text
    assert "Make-up owed." in text


# --- non-compliance notices ---------------------------------------------------------------------


def test_notice_pdf_is_generated_once_and_never_changes(absent_case):
    facilitator = absent_case.cohort.facilitators[0]
    notice, _other = notices.draft_for(absent_case)
    assert notice.pdf is None

    documents.generate_notice(notice, facilitator)
    stored, digest = notice.pdf, notice.sha256
    assert digest == hashlib.sha256(stored).hexdigest()
    assert notice.generated_by is facilitator
    first_generated_at = notice.generated_at

    with pytest.raises(documents.AlreadyGenerated, match="already generated"):
        documents.generate_notice(notice, absent_case.cohort.facilitators[0])
    db.session.expire_all()
    assert (notice.pdf, notice.sha256, notice.generated_at) == (stored, digest, first_generated_at)
    assert len(events("document.generate")) == 1


def test_a_racing_second_generation_changes_nothing(absent_case, make_user):
    notice, _other = notices.draft_for(absent_case)
    first = absent_case.cohort.facilitators[0]
    documents.generate_notice(notice, first)
    stored = notice.pdf
    # Another request loaded the notice before the first stored its PDF.
    db.session.execute(
        sa.update(CourtDocument)
        .where(CourtDocument.id == notice.id)
        .values(sha256=None)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(notice)
    assert notice.sha256 is None
    db.session.execute(
        sa.update(CourtDocument)
        .where(CourtDocument.id == notice.id)
        .values(sha256=hashlib.sha256(stored).hexdigest())
        .execution_options(synchronize_session=False)
    )
    # `notice` still believes there is no PDF; the conditional update refuses all the same.
    with pytest.raises(documents.AlreadyGenerated):
        documents.generate_notice(notice, make_user(Role.ADMIN))
    assert notice.pdf == stored
    assert notice.generated_by is first


def test_notice_pdf_states_the_rule_the_facts_and_the_due_date(absent_case):
    notice, _other = notices.draft_for(absent_case)
    documents.generate_notice(notice, absent_case.cohort.facilitators[0])
    text = pdf_text(notice.pdf)
    due = notice.due_on
    for expected in [
        "Notice of Non-Compliance",
        "NC-LDC-26-4410-1",
        "LDC-26-4410",
        "Lakeside District Court",
        "Absences: no more than 1 absence from required sessions.",
        "2 absences; the limit is 1.",
        "Date of violation",
        f"{due:%b} {due.day}, {due:%Y}",
        "Not made up",
        "Statement of the program".upper(),
        "I certify that the facts stated are true",
    ]:
        assert expected in text, expected
    for session in absent_case.cohort.sessions[:2]:
        day = session.local_date
        assert f"{day:%b} {day.day}, {day:%Y}" in text


def test_only_a_notice_is_generated_as_a_notice(case):
    report = documents.progress_report(case, case.cohort.facilitators[0])
    with pytest.raises(ServiceError):
        documents.generate_notice(report, case.cohort.facilitators[0])


# --- termination report -------------------------------------------------------------------------


def test_terminating_generates_the_termination_report(absent_case, admin):
    _, report = cases.change_status(
        absent_case, EnrollmentState.TERMINATED, admin, "Two absences in a row; court agreed."
    )
    assert report.kind is DocumentKind.TERMINATION_REPORT
    assert report.reason == "Two absences in a row; court agreed."
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()
    text = pdf_text(report.pdf)
    for expected in [
        "Termination Report",
        "TR-LDC-26-4410-1",
        "LDC-26-4410",
        "Two absences in a row; court agreed.",
        "Dana Director, Program director",
        "Terminated",
        "NOT COMPLETED",
        "0 of 3",
    ]:
        assert expected in text, expected
    assert documents.documents_for(absent_case)[-1] == report


def test_a_termination_report_needs_a_terminated_case(case):
    with pytest.raises(ServiceError):
        documents.termination_report(case, case.cohort.facilitators[0])


# --- downloads ----------------------------------------------------------------------------------


def test_a_download_serves_the_stored_bytes_with_their_hash(app, absent_case):
    facilitator = absent_case.cohort.facilitators[0]
    notice, unsent = notices.draft_for(absent_case)
    documents.generate_notice(notice, facilitator)
    db.session.commit()
    client = signed_in(app, facilitator)

    response = client.get(f"/cases/documents/{notice.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    body = response.get_data()
    assert body == notice.pdf
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    assert response.headers["X-Content-SHA256"] == notice.sha256
    assert "noncompliance-notice-NC-LDC-26-4410-1.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    [event] = events("document.download")
    assert event.actor_id == facilitator.id and event.object_id == notice.id
    # Again: the same bytes, never a fresh render.
    assert client.get(f"/cases/documents/{notice.id}.pdf").get_data() == body

    # A drafted notice has no PDF to download yet.
    assert client.get(f"/cases/documents/{unsent.id}.pdf").status_code == 404


def test_the_case_page_generates_a_notice_pdf_once(app, absent_case):
    facilitator = absent_case.cohort.facilitators[0]
    notice, _other = notices.draft_for(absent_case)
    db.session.commit()
    client = signed_in(app, facilitator)
    page = f"/cases/{absent_case.id}"
    assert "Generate the notice PDF" in text_of(client.get(page))

    response = post_form(client, f"/cases/notices/{notice.id}/pdf", {}, page=page)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{absent_case.id}#documents")
    shown = text_of(client.get(page))
    assert "Notice NC-LDC-26-4410-1 generated." in shown
    db.session.expire_all()
    stored = notice.pdf
    assert f"/cases/documents/{notice.id}.pdf" in shown

    post_form(client, f"/cases/notices/{notice.id}/pdf", {}, page=page)
    again = text_of(client.get(page))
    assert "was already generated" in again and "nothing was done" in again
    db.session.expire_all()
    assert notice.pdf == stored
    # Marking it sent stays on the facilitator's enrollment page.
    assert f'href="/facilitator/enrollments/{absent_case.id}#notices">Mark as sent' in again


def test_the_case_page_generates_a_progress_report(app, case):
    client = signed_in(app, case.cohort.facilitators[0])
    page = f"/cases/{case.id}"
    response = post_form(client, f"/cases/{case.id}/progress-report", {}, page=page)
    assert response.status_code == 302
    shown = text_of(client.get(page))
    assert "Progress report PR-KC-26-777001-1 generated." in shown
    [report] = documents.documents_for(case)
    assert report.sha256 in shown
    assert SECRET not in shown
