"""Court PDFs: archival PDF/A-3a with metadata, the certificate's content, and the fetcher."""

from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

import pytest
import segno
from flask import Flask
from pypdf import PdfReader

from intervention.pdf import StaticOnlyURLFetcher, render_pdf

REPO = Path(__file__).resolve().parent.parent
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"

SESSION_TITLES = [
    "Orientation and accountability",
    "The law and its consequences",
    "Prostitution and the people it harms",
    "Pimping and trafficking",
    "Health risks",
    "Impact on families and neighborhoods",
    "Survivors speak",
    "Men, entitlement and choice",
    "Healthy relationships",
    "Staying accountable",
    "Make-up and review",
    "Closing circle",
]


def certificate_context(session_count: int) -> dict:
    verify_url = "https://intervention.example.org/verify/7K3M-Q9TX-4HRP-2WDN"
    sessions = [
        {
            "number": n,
            "title": SESSION_TITLES[n - 1] if n <= 12 else f"Court-ordered session {n}",
            "date": f"{date(2026, 1, 6) + timedelta(weeks=n - 1):%B %-d, %Y}",
            "status": "Made up" if n == 2 else "Present",
            "hours": "2.0",
        }
        for n in range(1, session_count + 1)
    ]
    return {
        "title": "Certificate of Completion AAC-2026-0001",
        "author": "Dana Whitfield, Facilitator",
        "program_title": "Stopping Sexual Exploitation: A Program for Men",
        "metadata_keywords": "curriculum-version:2026.1; curriculum-sha256:3f9a1c07be42",
        "metadata_subject": "Stopping Sexual Exploitation, curriculum version 2026.1",
        "show_titles": True,  # a court that asked for them
        "participant_name": "Michael J. Thornton",
        "court_name": "King County District Court",
        "court_jurisdiction": "King County, Washington",
        "case_number": "KCDC-2025-CR-004817",
        "referral_type": "Pre-filing diversion",
        "referral_date": "December 2, 2025",
        "completion_date": "March 17, 2026",
        "issue_date": "March 18, 2026",
        "sessions": sessions,
        "total_hours": f"{2.0 * session_count:.1f}",
        "sessions_required": session_count,
        "reflections_accepted": session_count,
        "issued_by_name": "Dana Whitfield",
        "issued_by_role": "Facilitator",
        "issued_at": "March 18, 2026",
        "certificate_number": "AAC-2026-0001",
        "verification_code": "7K3M-Q9TX-4HRP-2WDN",
        "verify_url": verify_url,
        "qr_svg": segno.make(verify_url).svg_inline(scale=3),
    }


def render_certificate(app: Flask, session_count: int) -> bytes:
    with app.app_context():  # no request context: certificates are also issued from the CLI
        return render_pdf("pdf/certificate.html", **certificate_context(session_count))


@pytest.mark.parametrize("session_count", [3, 12])
def test_certificate_is_pdfa_3a_with_metadata_and_content(app, session_count):
    pdf = render_certificate(app, session_count)

    assert pdf.startswith(b"%PDF")
    reader = PdfReader(BytesIO(pdf))
    # US Letter comes from static/pdf/base.css: the stylesheet was fetched, not refused.
    assert (reader.pages[0].mediabox.width, reader.pages[0].mediabox.height) == (612, 792)

    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    pdfaid = {
        key.removeprefix(PDFAID): value
        for description in ElementTree.fromstring(xmp).iter(
            "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"
        )
        for key, value in description.attrib.items()
        if key.startswith(PDFAID)
    }
    assert pdfaid == {"part": "3", "conformance": "A"}
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged, as PDF/A "a" requires

    assert reader.metadata.title == "Certificate of Completion AAC-2026-0001"
    assert reader.metadata.author == "Dana Whitfield, Facilitator"

    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Michael J. Thornton" in text
    assert "AAC-2026-0001" in text
    assert "7K3M-Q9TX-4HRP-2WDN" in text
    assert f"Page 1 of {len(reader.pages)}" in text
    if session_count == 3:
        assert len(reader.pages) == 1
    else:
        assert SESSION_TITLES[-1] in text


def test_certificate_fits_one_page_up_to_ten_sessions(app):
    assert len(PdfReader(BytesIO(render_certificate(app, 10))).pages) == 1


def test_long_session_record_flows_onto_more_pages(app):
    reader = PdfReader(BytesIO(render_certificate(app, 24)))
    assert len(reader.pages) == 2
    continuation = reader.pages[1].extract_text()
    assert "Page 2 of 2" in continuation
    assert "Michael J. Thornton" in continuation  # running header names the participant
    assert "ATTENDANCE" in continuation  # the table header repeats
    assert "I attest that" in continuation


def test_fetcher_refuses_network_and_files_outside_static(app):
    fetcher = StaticOnlyURLFetcher(app.static_folder)
    for url in (
        "http://example.com/x.png",
        "https://example.com/x.png",
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        (Path(app.static_folder) / "pdf" / ".." / ".." / "pyproject.toml").as_uri(),
        "file://evil.example.com/etc/passwd",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_fetcher_refuses_symlink_out_of_static(app, tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "escape.txt").symlink_to("/etc/passwd")
    with pytest.raises(ValueError):
        StaticOnlyURLFetcher(root).fetch((root / "escape.txt").as_uri())


def test_fetcher_serves_static_files_and_data_urls(app):
    fetcher = StaticOnlyURLFetcher(app.static_folder)
    css = Path(app.static_folder) / "pdf" / "certificate.css"
    response = fetcher.fetch(css.as_uri())
    try:
        assert response.read() == css.read_bytes()
    finally:
        response.close()
    response = fetcher.fetch("data:text/plain;base64,b2s=")
    assert response.read() == b"ok"
    response.close()


def test_refused_resource_is_skipped_not_fatal(app, tmp_path):
    """A template that points outside the static folder still renders, without the resource."""
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "leak.html").write_text(
        '{% extends "pdf/base.html" %}{% block content %}'
        '<img src="file:///etc/passwd" alt="">'
        '<img src="http://example.com/x.png" alt=""><p>Body</p>{% endblock %}'
    )
    app.jinja_loader.searchpath.insert(0, str(tmp_path))
    with app.app_context():
        pdf = render_pdf("pdf/leak.html", title="T", author="A")
    assert "Body" in PdfReader(BytesIO(pdf)).pages[0].extract_text()
