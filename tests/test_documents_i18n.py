"""Court documents in their court's language, whoever makes them, and still archival and
tagged for screen readers: PDF/A-3a with /Lang, a structure tree and a title."""

from __future__ import annotations

from io import BytesIO
from xml.etree import ElementTree

import pytest
from pypdf import PdfReader

from intervention.models import AttendanceStatus
from intervention.services import attendance as attendance_service
from intervention.services import certificates as certificate_service
from intervention.services import documents, notices

from .helpers import complete_case

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
RDF_DESCRIPTION = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"


def words(reader: PdfReader) -> str:
    """The document's text with line breaks made spaces, so wrapped phrases still match."""
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def pdfa_claim(reader: PdfReader) -> dict:
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    return {
        key.removeprefix(PDFAID): value
        for description in ElementTree.fromstring(xmp).iter(RDF_DESCRIPTION)
        for key, value in description.attrib.items()
        if key.startswith(PDFAID)
    }


def assert_accessible_archive(reader: PdfReader, language: str) -> None:
    """What a screen reader and an archive need: the language, tags, a title, PDF/A-3a."""
    catalog = reader.trailer["/Root"]
    assert catalog["/Lang"] == language
    assert "/StructTreeRoot" in catalog
    assert catalog["/MarkInfo"]["/Marked"] == True  # noqa: E712  (a pypdf BooleanObject)
    assert reader.metadata.title
    assert pdfa_claim(reader) == {"part": "3", "conformance": "A"}


@pytest.fixture
def spanish_court(make_court):
    court = make_court("Tribunal Municipal de Yakima")
    court.language = "es"
    return court


def issue_for(court, make_enrollment, make_user):
    enrollment = make_enrollment(
        court=court, case_number="YK-26-5150", participant=make_user(name="José Núñez")
    )
    facilitator = complete_case(enrollment)
    return certificate_service.issue(enrollment, facilitator)


def test_a_spanish_courts_certificate_is_in_spanish_and_accessible(
    spanish_court, make_enrollment, make_user
):
    cert = issue_for(spanish_court, make_enrollment, make_user)

    reader = PdfReader(BytesIO(cert.pdf))
    assert_accessible_archive(reader, "es")
    assert reader.metadata.title == f"Certificado de finalización {cert.number}"
    text = words(reader)
    for expected in [
        "Certificado de finalización",
        f"Certificado n.º {cert.number}",
        "Por medio del presente se certifica que",
        "José Núñez",
        "Número de caso",
        "Desvío previo a la acusación",  # the referral type's label
        "Código de verificación",
        "Página 1 de 1",
    ]:
        assert expected in text, expected
    assert "Certificate of Completion" not in text
    # Dates in Spanish too ("3 nov 2026", never "Nov 3, 2026").
    month = cert.issued_at.strftime("%b")
    assert f"{month} {cert.issued_at.day}," not in text


def test_an_english_courts_certificate_stays_english_whoever_issues_it(
    app, make_court, make_enrollment, make_user
):
    court = make_court("King County District Court")
    # A Spanish-speaking facilitator clicks the button: the court's language decides.
    with app.test_request_context(headers={"Accept-Language": "es"}):
        cert = issue_for(court, make_enrollment, make_user)

    reader = PdfReader(BytesIO(cert.pdf))
    assert_accessible_archive(reader, "en")
    assert reader.metadata.title == f"Certificate of completion {cert.number}"
    text = words(reader)
    assert "Certificate of Completion" in text and "Case number" in text
    assert "Certificado" not in text


def test_a_spanish_courts_progress_report_is_in_spanish(
    app, spanish_court, make_enrollment, make_user
):
    enrollment = make_enrollment(court=spanish_court, case_number="YK-26-5151")
    facilitator = enrollment.cohort.facilitators[0]
    session = enrollment.cohort.sessions[0]
    attendance_service.mark(session, enrollment, AttendanceStatus.PRESENT, 120, facilitator)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        report = documents.progress_report(enrollment, facilitator)

    reader = PdfReader(BytesIO(report.pdf))
    assert_accessible_archive(reader, "es")
    assert reader.metadata.title == "Informe de progreso PR-YK-26-5151-1"
    assert reader.metadata.author == f"{facilitator.full_name}, Facilitador"
    text = words(reader).lower()  # headings are set in capitals
    for expected in [
        "Informe de progreso",
        "Situación del caso",
        "Requisitos pendientes",
        "Registro de sesiones",
        "Presente",
        "1 de 3",  # sessions credited of required
        "Falta asistir a 2 sesiones más (1 de 3 acreditadas).",
    ]:
        assert expected.lower() in text, expected
    assert "progress report" not in text


def test_a_notice_for_a_spanish_court_states_its_finding_in_spanish(
    app, spanish_court, make_enrollment
):
    enrollment = make_enrollment(
        court=spanish_court, case_number="YK-26-5152", overrides={"max_gap_days": None}
    )
    facilitator = enrollment.cohort.facilitators[0]
    for session in enrollment.cohort.sessions[:2]:
        attendance_service.mark(session, enrollment, AttendanceStatus.ABSENT, 0, facilitator)
    # Drafted by an English-speaking facilitator's action: the court's language decides.
    with app.test_request_context(headers={"Accept-Language": "en"}):
        drafted = notices.draft_for(enrollment, facilitator)
    # The finding is stored when drafted, in the court's language, and printed as stored.
    notice = next(n for n in drafted if n.rule == "max_consecutive_absences")
    assert notice.reason == "2 ausencias seguidas; el límite es 1."
    documents.generate_notice(notice, facilitator)

    reader = PdfReader(BytesIO(notice.pdf))
    assert_accessible_archive(reader, "es")
    text = words(reader).lower()
    for expected in ["Aviso de incumplimiento", "Norma incumplida", notice.reason, "Hechos"]:
        assert expected.lower() in text, expected
