"""The clerk's portal: his court's cases only, their documents as stored, the zip of a date
range streamed as it is written, the CSV of cases, and the JSON answer for court systems."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intervention.extensions import db
from intervention.models import (
    Certificate,
    CertificateStatus,
    CourtDocument,
    DocumentKind,
    EnrollmentState,
    Role,
    utcnow,
)
from intervention.services import completion
from intervention.services import enrollments as enrollment_service
from intervention.services import reflections as reflection_service

from .helpers import answer, events, prompts_by_key, signed_in, text_of

C, A = Role.CLERK, Role.ADMIN
JAN = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)  # 10 AM in Los Angeles


def pdf_bytes(label: str) -> bytes:
    return b"%PDF-1.7\n% stand-in for " + label.encode() + b"\n%%EOF\n"


def add_certificate(
    enrollment, number: str, *, issued_at=JAN, status=CertificateStatus.VALID, code=None
):
    data = pdf_bytes(number)
    cert = Certificate(
        enrollment=enrollment,
        number=number,
        verification_code=code or hashlib.sha256(number.encode()).hexdigest()[:16].upper(),
        version=enrollment.cohort.version,
        issued_by=enrollment.cohort.facilitators[0],
        issued_at=issued_at,
        pdf=data,
        sha256=hashlib.sha256(data).hexdigest(),
        status=status,
    )
    db.session.add(cert)
    db.session.flush()
    return cert


def add_document(enrollment, kind=DocumentKind.PROGRESS_REPORT, *, generated_at=JAN, pdf=True):
    data = pdf_bytes(f"{kind.value} {enrollment.case_number} {generated_at}") if pdf else None
    doc = CourtDocument(
        enrollment=enrollment,
        kind=kind,
        reason="3 absences; the limit is 2." if kind is DocumentKind.NONCOMPLIANCE_NOTICE else "",
        rule="max_absences" if kind is DocumentKind.NONCOMPLIANCE_NOTICE else "",
        pdf=data,
        sha256=hashlib.sha256(data).hexdigest() if data else None,
        generated_by=enrollment.cohort.facilitators[0] if data else None,
        generated_at=generated_at if data else None,
        created_at=generated_at,
        due_on=generated_at.date() + timedelta(days=7)
        if kind is DocumentKind.NONCOMPLIANCE_NOTICE
        else None,
    )
    db.session.add(doc)
    db.session.flush()
    return doc


@pytest.fixture
def court_world(make_user, make_court, make_enrollment, make_cohort):
    """Two courts sharing a cohort; each with a clerk and cases, documents on both sides."""
    ours, theirs = make_court("Kings County District Court"), make_court("Elsewhere Court")
    cohort = make_cohort()
    carter = make_enrollment(
        cohort=cohort,
        court=ours,
        case_number="KC-26-104417",
        participant=make_user(name="Daniel Carter"),
    )
    reyes = make_enrollment(
        cohort=cohort,
        court=ours,
        case_number="KC-26-200001",
        participant=make_user(name="Luis Reyes"),
    )
    reyes.referral_date = date(2025, 6, 1)
    stranger = make_enrollment(
        cohort=cohort,
        court=theirs,
        case_number="EC-26-999999",
        participant=make_user(name="Daniel Stranger"),
    )
    db.session.commit()
    return {
        "ours": ours,
        "theirs": theirs,
        "carter": carter,
        "reyes": reyes,
        "stranger": stranger,
        "clerk": make_user(C, court=ours),
        "other_clerk": make_user(C, court=theirs),
        "admin": make_user(A),
    }


def clerk_client(app, user):
    return signed_in(app, user)


# --- search ---------------------------------------------------------------------------------


def test_search_by_docket_name_status_and_referral_dates(app, court_world):
    w = court_world
    client = clerk_client(app, w["clerk"])

    def found(**query) -> set[str]:
        page = text_of(client.get("/court/", query_string=query))
        numbers = ("KC-26-104417", "KC-26-200001", "EC-26-999999")
        return {n for n in numbers if f">{n}</a>" in page}

    assert found() == {"KC-26-104417", "KC-26-200001"}  # never the other court's
    assert found(q="104417") == {"KC-26-104417"}
    assert found(q="daniel") == {"KC-26-104417"}  # Daniel Stranger is another court's
    assert found(q="EC-26-999999") == set()
    enrollment_service.transition(w["reyes"], EnrollmentState.TERMINATED, w["admin"], "Test.")
    db.session.commit()
    assert found(status="terminated") == {"KC-26-200001"}
    assert found(status="active") == {"KC-26-104417"}
    referred = w["carter"].referral_date
    assert found(referred_from=referred.isoformat()) == {"KC-26-104417"}
    assert found(referred_to="2025-06-30") == {"KC-26-200001"}
    assert found(referred_from="2025-06-01", referred_to="2025-06-01") == {"KC-26-200001"}
    page = text_of(client.get("/court/?referred_from=2026-02-01&referred_to=2026-01-01"))
    assert "The end date is before the start date." in page


def test_search_pages_keep_the_filters(app, court_world, make_user, make_enrollment):
    w = court_world
    for n in range(26):
        make_enrollment(
            cohort=w["carter"].cohort,
            court=w["ours"],
            case_number=f"KC-26-3{n:05d}",
            participant=make_user(name=f"Paged Man {n}"),
        )
    db.session.commit()
    client = clerk_client(app, w["clerk"])
    first = text_of(client.get("/court/?q=Paged"))
    assert "26 case(s)" in first
    assert "Page 1 of 2" in first
    assert "/court/?page=2&amp;q=Paged" in first
    second = text_of(client.get("/court/?q=Paged&page=2"))
    assert second.count("Paged Man") == 1
    assert "Daniel Carter" not in second


# --- the case page and its documents --------------------------------------------------------


def test_case_page_lists_certificates_and_court_documents(app, court_world):
    w = court_world
    carter = w["carter"]
    old = add_certificate(carter, "AAC-2026-0001", status=CertificateStatus.SUPERSEDED)
    new = add_certificate(carter, "AAC-2026-0002", issued_at=JAN + timedelta(days=1))
    old.superseded_by = new
    report = add_document(carter)
    sent = add_document(carter, DocumentKind.NONCOMPLIANCE_NOTICE)
    sent.sent_at, sent.sent_method = JAN + timedelta(days=2), "Email"
    draft = add_document(carter, DocumentKind.NONCOMPLIANCE_NOTICE, pdf=False)
    db.session.commit()

    page = text_of(clerk_client(app, w["clerk"]).get(f"/court/cases/{carter.id}"))
    for cert in (old, new):
        assert f"/court/certificates/{cert.id}.pdf" in page
        assert cert.sha256 in page
    assert "Superseded" in page and "by AAC-2026-0002" in page
    assert f'href="/court/documents/{report.id}.pdf"' in page
    assert report.sha256 in page
    assert f'href="/court/documents/{sent.id}.pdf"' in page
    assert "Sent Jan 17, 2026 by email." in page
    assert "Due Jan 22, 2026." in page
    assert f"/court/documents/{draft.id}.pdf" not in page
    assert "In preparation" in page
    assert "Not sent yet." in page
    assert len(events("case.view")) == 1


def test_document_download_serves_the_stored_bytes_and_is_audited(app, court_world):
    w = court_world
    doc = add_document(w["carter"], DocumentKind.TERMINATION_REPORT)
    draft = add_document(w["carter"], DocumentKind.NONCOMPLIANCE_NOTICE, pdf=False)
    db.session.commit()
    client = clerk_client(app, w["clerk"])

    response = client.get(f"/court/documents/{doc.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.get_data() == doc.pdf
    assert hashlib.sha256(response.get_data()).hexdigest() == doc.sha256
    [event] = events("document.download")
    assert (event.object_id, event.actor_id) == (doc.id, w["clerk"].id)

    assert client.get(f"/court/documents/{draft.id}.pdf").status_code == 404
    assert client.get("/court/documents/999999.pdf").status_code == 404
    assert len(events("document.download")) == 1


def test_another_courts_case_is_absent_everywhere(app, court_world):
    """Case, certificate, document, search, CSV, zip and API: the other court's clerk
    gets 404 or nothing, never a hint that the case exists."""
    w = court_world
    carter = w["carter"]
    cert = add_certificate(carter, "AAC-2026-0009")
    doc = add_document(carter)
    db.session.commit()
    other = clerk_client(app, w["other_clerk"])
    for url in (
        f"/court/cases/{carter.id}",
        f"/court/certificates/{cert.id}.pdf",
        f"/court/documents/{doc.id}.pdf",
        "/court/api/cases/KC-26-104417",
    ):
        response = other.get(url)
        assert response.status_code == 404, url
        assert "Daniel Carter" not in text_of(response)
    assert "Daniel Carter" not in text_of(other.get("/court/?q=Carter"))
    assert "KC-26-104417" not in other.get("/court/cases.csv").get_data(as_text=True)
    export = other.get("/court/export.zip?from=2026-01-01&to=2026-01-31")
    archive = zipfile.ZipFile(io.BytesIO(export.get_data()))
    assert archive.namelist() == ["manifest.csv"]
    assert "KC-26-104417" not in archive.read("manifest.csv").decode()
    assert events("case.view") == []
    assert events("document.download") == []
    assert events("certificate.download") == []

    # His own clerk reaches every one of them.
    own = clerk_client(app, w["clerk"])
    assert own.get(f"/court/documents/{doc.id}.pdf").status_code == 200
    assert own.get("/court/api/cases/KC-26-104417").status_code == 200


# --- the zip of a date range ----------------------------------------------------------------


def test_zip_streams_the_date_ranges_documents_with_a_manifest(app, court_world):
    w = court_world
    carter, reyes = w["carter"], w["reyes"]
    valid = add_certificate(carter, "AAC-2026-0003")
    revoked = add_certificate(
        reyes, "AAC-2026-0004", status=CertificateStatus.REVOKED, issued_at=JAN + timedelta(1)
    )
    notice = add_document(reyes, DocumentKind.NONCOMPLIANCE_NOTICE, generated_at=JAN)
    add_document(carter, DocumentKind.NONCOMPLIANCE_NOTICE, pdf=False)  # a draft: no PDF
    # Outside the range: Feb 1 in Los Angeles (Feb 2, 06:00 UTC) and Dec 31.
    add_certificate(carter, "AAC-2026-0005", issued_at=datetime(2026, 2, 2, 6, 0, tzinfo=UTC))
    add_document(carter, generated_at=datetime(2025, 12, 31, 20, 0, tzinfo=UTC))
    # Jan 31, 11 PM in Los Angeles is Feb 1 in UTC: inside, by the court's calendar.
    late = add_document(carter, generated_at=datetime(2026, 2, 1, 7, 0, tzinfo=UTC))
    add_certificate(w["stranger"], "AAC-2026-0006")  # the other court's
    db.session.commit()

    client = clerk_client(app, w["clerk"])
    response = client.get("/court/export.zip?from=2026-01-01&to=2026-01-31")
    assert response.status_code == 200
    assert response.is_streamed  # a generator, not a body built in memory
    assert "Content-Length" not in response.headers
    assert response.mimetype == "application/zip"
    assert "court-documents-2026-01-01-to-2026-01-31.zip" in response.headers["Content-Disposition"]

    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    by_name = {row["file"]: row for row in rows}
    assert set(archive.namelist()) == {"manifest.csv", *by_name}
    assert {row["number"] for row in rows if row["kind"] == "certificate"} == {
        "AAC-2026-0003",
        "AAC-2026-0004",
    }
    kinds = {row["kind"] for row in rows}
    assert kinds == {"certificate", "noncompliance_notice", "progress_report"}
    assert "certificates/AAC-2026-0003-valid.pdf" in by_name
    assert "certificates/AAC-2026-0004-revoked.pdf" in by_name
    for name, row in by_name.items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == row["sha256"], name
    stored = {valid.sha256, revoked.sha256, notice.sha256, late.sha256}
    assert {row["sha256"] for row in rows} == stored
    revoked_row = by_name["certificates/AAC-2026-0004-revoked.pdf"]
    assert revoked_row["case_number"] == "KC-26-200001"
    assert revoked_row["participant"] == "Luis Reyes"
    assert revoked_row["date"] == "2026-01-16"
    assert revoked_row["status"] == "revoked"
    late_row = next(row for row in rows if row["sha256"] == late.sha256)
    assert late_row["date"] == "2026-01-31"
    # Each member carries its sizes after the data: written to a stream, never seeked.
    assert all(info.flag_bits & 0x08 for info in archive.infolist())

    [event] = events("documents.export")
    assert event.details == {
        "date_from": "2026-01-01",
        "date_to": "2026-01-31",
        "certificates": 2,
        "documents": 2,
    }


def test_zip_writer_yields_chunks_as_it_goes(app, court_world):
    from intervention.clerk import exports

    w = court_world
    for n in range(3):
        add_certificate(w["carter"], f"AAC-2026-01{n:02d}")
    db.session.commit()
    items = exports.export_items(w["ours"], date(2026, 1, 1), date(2026, 1, 31))
    chunks = exports.stream_zip(items, JAN)
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04")  # the manifest, before any PDF was read
    rest = list(chunks)
    assert len([c for c in rest if c]) >= 4  # one chunk per PDF, then the directory
    archive = zipfile.ZipFile(io.BytesIO(first + b"".join(rest)))
    assert len(archive.namelist()) == 4


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Give the first day as YYYY-MM-DD."),
        ("?from=2026-02-01&to=2026-01-01", "The last day is before the first day."),
        ("?from=2024-01-01&to=2026-01-01", "Download at most 366 days at a time."),
        ("?from=yesterday&to=2026-01-01", "Not a valid date value."),
    ],
)
def test_zip_refuses_a_bad_range(app, court_world, query, message):
    client = clerk_client(app, court_world["clerk"])
    response = client.get(f"/court/export.zip{query}")
    assert response.status_code == 302
    assert message in text_of(client.get(response.headers["Location"]))
    assert events("documents.export") == []


# --- the CSV of cases -----------------------------------------------------------------------


def test_cases_csv_has_counts_certificates_and_quoted_formulas(app, court_world, make_user):
    w = court_world
    carter, reyes = w["carter"], w["reyes"]
    reyes.participant.full_name = '=HYPERLINK("http://evil.example","click")'
    reyes.case_number = "+1-555-0100"
    add_certificate(carter, "AAC-2026-0011", status=CertificateStatus.REVOKED)
    db.session.commit()

    client = clerk_client(app, w["clerk"])
    response = client.get("/court/cases.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["case_number"] for row in rows} == {"KC-26-104417", "'+1-555-0100"}
    evil = next(row for row in rows if row["case_number"] == "'+1-555-0100")
    assert evil["participant"] == '\'=HYPERLINK("http://evil.example","click")'
    row = next(row for row in rows if row["case_number"] == "KC-26-104417")
    result = completion.evaluate(carter)
    assert row["participant"] == "Daniel Carter"
    assert row["referral_type"] == "Pre-filing diversion"
    assert row["referral_date"] == carter.referral_date.isoformat()
    assert row["status"] == "Active"
    assert row["sessions_credited"] == str(result.sessions_credited)
    assert row["sessions_required"] == str(result.sessions_required)
    assert (row["reflections_accepted"], row["reflections_required"]) == ("0", "4")
    assert (row["certificate_number"], row["certificate_status"]) == ("AAC-2026-0011", "revoked")
    [event] = events("cases.export")
    assert event.details["rows"] == 2

    # The search's filters carry over.
    filtered = client.get("/court/cases.csv?q=Carter").get_data(as_text=True)
    assert "KC-26-104417" in filtered and "555-0100" not in filtered
    page = text_of(client.get("/court/?q=Carter"))
    assert 'href="/court/cases.csv?q=Carter"' in page
    response = client.get("/court/cases.csv?referred_from=2026-02-01&referred_to=2026-01-01")
    assert response.status_code == 302
    assert "The end date is before the start date." in text_of(client.get(response.location))


# --- the JSON answer for court systems ------------------------------------------------------


def test_api_answers_where_a_case_stands(app, court_world):
    w = court_world
    carter = w["carter"]
    cert = add_certificate(carter, "AAC-2026-0012", code="7K3MQ9TX4HRP2WDN")
    db.session.commit()
    client = clerk_client(app, w["clerk"])

    response = client.get("/court/api/cases/kc-26-104417")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "case_number": "KC-26-104417",
        "participant": "Daniel Carter",
        "date_of_birth": None,
        "court_person_number": None,
        "status": "active",
        # Facts a court's system can act on, not sentences in someone's language.
        "completion": {
            "complete": False,
            "possible": True,
            "sessions_credited": 0,
            "sessions_required": 3,
            "hours_credited": 0.0,
            "absences": 0,
            "reflections_accepted": 0,
            "reflections_required": 4,
            "owed": [
                {"kind": "attend", "count": 3, "sessions": []},
                {"kind": "write", "count": 4, "sessions": [1, 2, 3]},
            ],
            "breaches": [],
            "sessions_available": None,
            "completed_on": None,
        },
        "certificates": [
            {
                "number": "AAC-2026-0012",
                "status": "valid",
                "issued_at": cert.issued_at.isoformat(),
                "completed_on": cert.completion_day(cert.enrollment.court.timezone).isoformat(),
                "sha256": cert.sha256,
                "verify_url": "https://intervention.example/verify/7K3M-Q9TX-4HRP-2WDN",
            }
        ],
    }
    [event] = events("case.view")
    assert event.object_id == carter.id and event.details["via"] == "api"

    missing = client.get("/court/api/cases/NO-SUCH-CASE")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"


def test_api_prefers_the_open_referral_of_a_docket(app, court_world, make_enrollment):
    w = court_world
    carter = w["carter"]
    enrollment_service.transition(carter, EnrollmentState.WITHDRAWN, w["admin"], "Moved away.")
    again = make_enrollment(
        cohort=carter.cohort,
        court=w["ours"],
        case_number="KC-26-104417",
        participant=carter.participant,
    )
    db.session.commit()
    body = clerk_client(app, w["clerk"]).get("/court/api/cases/KC-26-104417").get_json()
    assert body["status"] == "active"
    [event] = events("case.view")
    assert event.object_id == again.id


def test_clerk_pages_never_carry_reflection_text(app, court_world):
    carter = court_world["carter"]
    prompt = prompts_by_key(carter)["what-happened"]
    reflection = reflection_service.reflection_for(carter, prompt)
    reflection_service.submit(reflection, answer("Plughsecret", 80), 0, carter.participant)
    db.session.commit()
    client = clerk_client(app, court_world["clerk"])
    for url in (
        f"/court/cases/{carter.id}",
        "/court/cases.csv",
        "/court/api/cases/KC-26-104417",
    ):
        assert "Plughsecret" not in client.get(url).get_data(as_text=True), url
    # Search reads case numbers and names, never answers.
    assert "No case matches." in text_of(client.get("/court/?q=Plughsecret"))


def test_this_month_by_default_in_the_download_form(app, court_world):
    page = text_of(clerk_client(app, court_world["clerk"]).get("/court/"))
    today = utcnow().astimezone(ZoneInfo(court_world["ours"].timezone)).date()
    first = today.replace(day=1).isoformat()
    assert f'id="from" name="from" required type="date" value="{first}"' in page
    assert f'id="to" name="to" required type="date" value="{today.isoformat()}"' in page
    assert 'action="/court/export.zip"' in page
