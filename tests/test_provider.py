"""The provider: the agency record the director keeps, its sanitised logo, and the letterhead
and footer it gives every court document."""

from __future__ import annotations

import json
import struct
import zlib
from datetime import date
from io import BytesIO

import pytest
import sqlalchemy as sa
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader

from intervention.extensions import db
from intervention.models import Provider, Role
from intervention.services import ServiceError, certificates, documents
from intervention.services import provider as provider_service

from .conftest import login
from .helpers import complete_case, events, pdf_text, post_form, text_of

AGENCY = {
    "legal_name": "Northwest Accountability Programs",
    "address": "1420 Fourth Avenue, Suite 300\nSeattle, WA 98101",
    "phone": "(206) 555-0142",
    "email": "court-reports@nwap.example",
    "license_number": "WA-DV-2291",
    "director_name": "Renata Ellison",
    "director_title": "Program Director",
}


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG (grey pixels) with the given size in its header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        provider_service.PNG_SIGNATURE
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


HOSTILE_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  viewBox="0 0 40 40" onload="alert(1)">
  <script>alert(2)</script>
  <style>@import url(https://evil.example/x.css);</style>
  <foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>
  <image href="file:///etc/passwd" width="10" height="10"/>
  <use xlink:href="https://evil.example/sprite.svg#a"/>
  <a href="javascript:alert(3)"><rect width="5" height="5"/></a>
  <circle cx="20" cy="20" r="18" fill="#1f2a36" filter="url(https://evil.example/f)"/>
  <path d="M10 20 L30 20" stroke="#fff" stroke-width="3"/>
</svg>"""


# --- the letterhead on every court document --------------------------------------------------


def test_documents_render_with_the_program_name_until_the_director_fills_it_in(make_enrollment):
    enrollment = make_enrollment()
    facilitator = enrollment.cohort.facilitators[0]
    text = pdf_text(documents.progress_report(enrollment, facilitator).pdf)
    assert enrollment.cohort.version.program.title in text
    assert AGENCY["legal_name"] not in text


def test_every_court_document_is_headed_and_footed_by_the_provider(make_enrollment, make_user):
    provider_service.save(actor=make_user(Role.ADMIN), logo=png(), **AGENCY)
    enrollment = make_enrollment()
    facilitator = complete_case(enrollment)
    program_title = enrollment.cohort.version.program.title
    pdfs = {
        "certificate": certificates.issue(enrollment, facilitator).pdf,
        "progress report": documents.progress_report(enrollment, facilitator).pdf,
    }
    for kind, pdf in pdfs.items():
        pages = PdfReader(BytesIO(pdf)).pages
        first = " ".join(pages[0].extract_text().split())
        for expected in (
            AGENCY["legal_name"],
            "1420 Fourth Avenue, Suite 300 · Seattle, WA 98101",
            "(206) 555-0142 · court-reports@nwap.example",
            "State certification No. WA-DV-2291",
        ):
            assert expected in first, (kind, expected)
        # The course title stays the course title (set in capitals on the page).
        assert program_title.upper() in first.upper(), kind
        # The footer of every page names the sender.
        for page in pages:
            assert page.extract_text().count(AGENCY["legal_name"]) >= 1, kind
        # The logo is drawn: an image on the first page.
        assert list(pages[0].images), kind


def test_the_director_the_provider_names_attests_signs_and_is_in_the_facts(
    make_enrollment, make_user
):
    provider_service.save(actor=make_user(Role.ADMIN, name="Some Admin"), **AGENCY)
    enrollment = make_enrollment()
    enrollment.date_of_birth = date(1979, 3, 14)
    enrollment.court_person_number = "BK-0042117"
    facilitator = complete_case(enrollment)
    cert = certificates.issue(enrollment, facilitator)
    text = pdf_text(cert.pdf)
    assert "Renata Ellison, Program Director" in text
    assert "Some Admin" not in text and facilitator.full_name not in text
    [embedded] = PdfFileReader(BytesIO(cert.pdf)).embedded_signatures
    assert embedded.sig_object["/Name"] == "Renata Ellison, Program Director"
    [data] = PdfReader(BytesIO(cert.pdf)).attachments[certificates.FACTS_FILENAME]
    facts = json.loads(data)
    assert facts["issuer"] == {"name": "Renata Ellison", "title": "Program Director"}
    assert facts["provider"] == {
        "name": AGENCY["legal_name"],
        "license_number": AGENCY["license_number"],
    }
    assert facts["participant"]["date_of_birth"] == "1979-03-14"
    assert facts["participant"]["court_person_number"] == "BK-0042117"


def test_a_name_cannot_break_out_of_the_footer(make_enrollment, make_user):
    provider_service.save(
        actor=make_user(Role.ADMIN),
        **{**AGENCY, "legal_name": 'Quote " and </style><p>x</p> \\ Agency'},
    )
    enrollment = make_enrollment()
    pdf = documents.progress_report(enrollment, enrollment.cohort.facilitators[0]).pdf
    assert 'Quote " and </style><p>x</p> \\ Agency' in pdf_text(pdf)


# --- the director's page ------------------------------------------------------------------------


def test_director_keeps_the_record_and_the_change_is_audited(client, make_user):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    assert "no letterhead yet" in text_of(client.get("/admin/"))
    response = post_form(
        client,
        "/admin/provider",
        {**AGENCY, "logo": (BytesIO(HOSTILE_SVG), "logo.svg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, text_of(response)
    record = db.session.scalar(sa.select(Provider))
    assert record.legal_name == AGENCY["legal_name"]
    assert record.address_lines == ["1420 Fourth Avenue, Suite 300", "Seattle, WA 98101"]
    assert record.logo_type == "image/svg+xml"
    [event] = events("provider.create")
    assert event.actor_id == admin.id and "logo_sha256" in event.details
    assert "no letterhead yet" not in text_of(client.get("/admin/"))
    page = text_of(client.get("/admin/provider"))
    assert "WA-DV-2291" in page
    # The page shows the logo the documents carry: the cleaned drawing, fenced in on its own.
    assert 'src="/admin/provider/logo"' in page and "Now on the letterhead" in page
    logo = client.get("/admin/provider/logo")
    assert logo.status_code == 200 and logo.content_type == "image/svg+xml"
    assert logo.data == record.logo and b"script" not in logo.data.lower()
    assert logo.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert logo.headers["X-Content-Type-Options"] == "nosniff"

    post_form(client, "/admin/provider", {**AGENCY, "phone": "(206) 555-0199"})
    [update] = events("provider.update")
    assert update.details["fields"] == ["phone"]


def test_an_svg_logo_keeps_only_its_drawing():
    cleaned, kind = provider_service.clean_logo(HOSTILE_SVG)
    assert kind == "image/svg+xml"
    lowered = cleaned.lower()
    for bad in (
        b"script",
        b"onload",
        b"foreignobject",
        b"<image",
        b"evil.example",
        b"javascript",
        b"<style",
        b"file:",
        b"alert",
    ):
        assert bad not in lowered, bad
    assert b"<circle" in cleaned and b"<path" in cleaned and b'd="M10 20 L30 20"' in cleaned


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
        # A DTD far into the file, after a long comment, is refused as well.
        b"<!--" + b"x" * 8000 + b'-->\n<!DOCTYPE svg SYSTEM "file:///etc/passwd">'
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"<html><body>not a logo</body></html>",
        b"GIF89a not a png",
        b"\x89PNG\r\n\x1a\n truncated",
        png(20_000, 20_000),
        b"<svg" + b" " * (300 * 1024) + b"/>",
    ],
    ids=["entity", "late-doctype", "html", "gif", "truncated-png", "huge-png", "too-many-bytes"],
)
def test_a_logo_that_is_not_a_clean_png_or_svg_is_refused(client, make_user, data):
    with pytest.raises(ServiceError):
        provider_service.clean_logo(data)
    login(client, make_user(Role.ADMIN))
    response = post_form(
        client,
        "/admin/provider",
        {**AGENCY, "logo": (BytesIO(data), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert db.session.scalar(sa.select(Provider)) is None


def test_a_png_logo_is_kept_as_uploaded(make_user):
    record = provider_service.save(actor=make_user(Role.ADMIN), logo=png(), **AGENCY)
    assert record.logo == png() and record.logo_type == "image/png"
