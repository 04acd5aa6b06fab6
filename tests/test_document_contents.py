"""What court documents say: the day he really finished, discretion about the course, and a
layout that fits the page."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from intervention.extensions import db
from intervention.models import Role
from intervention.services import certificates as certificate_service
from intervention.services import completion, documents
from intervention.services.attendance import local_date
from intervention.templating import format_date

from .conftest import login
from .helpers import complete_case, post_form, text_of


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(BytesIO(data)).pages)


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
    finished = local_date(last) + timedelta(days=2)

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
    assert completion.evaluate(enrollment).completed_on == local_date(last)


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
    assert new.completed_on == old.completed_on == local_date(last)
    assert f"Completed {format_date(local_date(last))}" in pdf_text(new.pdf)


def test_the_verify_page_and_the_court_exports_state_the_true_date(client, make_enrollment):
    from intervention.clerk import exports

    enrollment = make_enrollment()
    facilitator = complete_case(enrollment)
    last = max(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)
    backdate_reviews(enrollment, last.scheduled_at + timedelta(hours=3))
    cert = certificate_service.issue(enrollment, facilitator)
    db.session.commit()
    finished = local_date(last)

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
    director = app.test_client()
    login(director, make_user(Role.ADMIN))
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
