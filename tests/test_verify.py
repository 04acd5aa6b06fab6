"""Public verification: by code, by QR link or by the PDF itself; valid, revoked, superseded or
unknown; only the minimum shown; every check audited; and a limit on how often one address
may ask."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from intervention.config import load_config
from intervention.extensions import db
from intervention.models import AuditEvent, Certificate, CertificateStatus, Role, utcnow
from intervention.services import audit
from intervention.services import certificates as certificate_service

from .conftest import csrf_token
from .helpers import events, text_of


def upload(client, data: bytes, name: str = "certificate.pdf"):
    token = csrf_token(client, "/verify")
    return client.post(
        "/verify",
        data={"csrf_token": token, "code": "", "pdf": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def by_code(client, code: str):
    return client.post("/verify", data={"csrf_token": csrf_token(client, "/verify"), "code": code})


def verifications() -> list[AuditEvent]:
    return events("certificate.verify")


def second_certificate(old: Certificate) -> Certificate:
    """A corrected certificate for the same case, stored as the service stores one."""
    data = old.pdf + b"\n% corrected"
    new = Certificate(
        enrollment=old.enrollment,
        number=old.number[:-4] + "9999",
        verification_code="NEWC0DE000000001",
        version=old.version,
        issued_by=old.issued_by,
        pdf=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    db.session.add(new)
    db.session.flush()
    old.status = CertificateStatus.SUPERSEDED
    old.status_reason = "Name spelled wrong."
    old.status_changed_at = utcnow()
    old.superseded_by = new
    # The sealed events /verify holds a certificate against, as the service writes them.
    audit.record("certificate.issue", None, new, number=new.number, sha256=new.sha256)
    audit.record("certificate.supersede", None, old, number=old.number, by=new.number)
    db.session.commit()
    return new


# --- the genuine PDF, and one byte changed --------------------------------------------------


def test_the_issued_pdf_verifies_as_valid(client, issued):
    response = upload(client, issued.pdf)
    assert response.status_code == 200
    page = text_of(response)
    assert "This certificate is valid" in page
    assert "exactly the certificate we issued" in page
    assert "Daniel Carter" in page
    assert issued.number in page
    [event] = verifications()
    assert event.details == {
        "method": "upload",
        "found": True,
        "number": issued.number,
        "status": "valid",
        "signature": "valid",  # issue 14: an upload's signature is checked too
    }
    assert event.object_id == issued.id and event.actor_id is None


def test_a_pdf_with_one_byte_changed_is_not_an_issued_document(client, issued):
    data = bytearray(issued.pdf)
    middle = len(data) // 2
    data[middle] ^= 0x01
    response = upload(client, bytes(data))
    assert response.status_code == 404
    page = text_of(response)
    assert "This file is not an issued document" in page
    assert "Daniel Carter" not in page
    assert "This certificate is valid" not in page
    [event] = verifications()
    assert event.details == {"method": "upload", "found": False, "signature": "broken"}


def test_an_upload_that_is_not_a_pdf_is_refused(client, issued):
    response = upload(client, b"hello", name="certificate.txt")
    assert response.status_code == 200
    assert "Upload the certificate as a PDF file." in text_of(response)
    assert verifications() == []


# --- codes: typed, linked, unknown ----------------------------------------------------------


def test_a_typed_code_is_forgiving_about_case_spaces_dashes_and_lookalikes(client, issued):
    code = certificate_service.format_code(issued.verification_code)
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    response = by_code(client, f"  {sloppy}  ")
    assert response.status_code == 200
    assert "This certificate is valid" in text_of(response)
    assert verifications()[-1].details["method"] == "code"


def test_the_qr_link_opens_the_answer(client, issued):
    url = certificate_service.verify_url(issued.verification_code)
    path = url.removeprefix("https://intervention.example")
    response = client.get(path)
    assert response.status_code == 200
    assert "This certificate is valid" in text_of(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert verifications()[-1].details["method"] == "link"


def test_an_unknown_code_answers_unknown(client, issued):
    for response in (client.get("/verify/ZZZZ-ZZZZ-ZZZZ-ZZZZ"), by_code(client, "12345")):
        assert response.status_code == 404
        page = text_of(response)
        assert "Unknown" in page
        assert "No certificate has this code" in page
        assert "Daniel Carter" not in page
    assert [e.details["found"] for e in verifications()] == [False, False]


def test_the_public_page_shows_only_the_minimum(client, issued):
    page = text_of(client.get(f"/verify/{issued.verification_code}"))
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page))
    assert facts == {
        "Name": "Daniel Carter",
        "Program": issued.version.program.title,
        "Completed": facts["Completed"],
        "Issued": facts["Issued"],  # both: a late issue must not make him look late
        "Certificate": issued.number,
    }
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", facts["Completed"])
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", facts["Issued"])
    enrollment = issued.enrollment
    for secret in (
        enrollment.case_number,
        enrollment.court.name,
        issued.issued_by.full_name,
        issued.verification_code,
        certificate_service.format_code(issued.verification_code),
        issued.sha256,
    ):
        assert secret not in page, secret


# --- revoked and superseded -----------------------------------------------------------------


def test_a_revoked_certificate_says_so_and_when_never_why(client, issued, make_user):
    # Issue 13 changed the rule: the reason is the director's internal note, not for the public.
    certificate_service.revoke(issued, make_user(Role.ADMIN), "Attendance records were forged.")
    db.session.commit()
    for response in (upload(client, issued.pdf), client.get(f"/verify/{issued.verification_code}")):
        assert response.status_code == 200
        page = text_of(response)
        assert "This certificate was revoked" in page
        assert "Revoked on " in page
        assert "Attendance records were forged." not in page
        assert "This certificate is valid" not in page
    assert [e.details["status"] for e in verifications()] == ["revoked", "revoked"]


def test_a_superseded_certificate_links_to_the_current_one(client, issued):
    new = second_certificate(issued)
    response = upload(client, issued.pdf)
    page = text_of(response)
    assert "This certificate was replaced" in page
    link = f'href="/verify/{new.verification_code}"'
    assert link in page
    assert new.number in page
    current = text_of(client.get(f"/verify/{new.verification_code}"))
    assert "This certificate is valid" in current
    assert new.number in current


# --- the rate limit -------------------------------------------------------------------------


@pytest.fixture
def rate_limits(rate_limits, app, monkeypatch):
    """Limits on (conftest's rate_limits), and three checks a minute."""
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "3 per minute")


def test_too_many_checks_from_one_address_get_a_429_page(client, issued, rate_limits):
    code = issued.verification_code
    assert client.get("/verify").status_code == 200  # the blank form is not counted
    assert by_code(client, code).status_code == 200
    assert client.get(f"/verify/{code}").status_code == 200
    assert client.get("/verify/ZZZZZZZZZZZZZZZZ").status_code == 404
    # The form and the QR link share one budget per address.
    for response in (client.get(f"/verify/{code}"), by_code(client, code)):
        assert response.status_code == 429
        page = text_of(response)
        assert "Too many tries" in page
        assert re.search(r"Try again in \d+ seconds?\.", page)
        assert 'class="site-header"' in page  # the site's own layout
        assert 0 < int(response.headers["Retry-After"]) <= 60
        assert "Daniel Carter" not in page
    assert len(verifications()) == 3  # refused checks never reached the lookup

    other = client.application.test_client()
    response = other.get(f"/verify/{code}", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 200  # another address has its own count


def test_limits_are_off_in_tests_unless_turned_on(client, issued):
    for _ in range(40):
        assert client.get(f"/verify/{issued.verification_code}").status_code == 200


def test_redis_url_moves_the_counts_to_redis(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "development")  # production would need a SECRET_KEY
    monkeypatch.delenv("INTERVENTION_REDIS_URL", raising=False)
    assert load_config(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("INTERVENTION_REDIS_URL", "redis://127.0.0.1:6379/0")
    config = load_config(str(tmp_path))
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert load_config(str(tmp_path), {"TESTING": True})["RATE_LIMITS"] is False
