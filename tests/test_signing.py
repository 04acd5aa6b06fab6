"""Court documents signed (PAdES, the program's key), still PDF/A-3a, attested by the director;
the certificate's facts as a signed JSON attachment a court system reads without OCR; /verify
checks an uploaded file's signature; production refuses to start without a signing key."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader, PdfWriter

from intervention import signing
from intervention.config import ConfigError, load_config
from intervention.models import AttendanceStatus as S
from intervention.models import EnrollmentState, Role
from intervention.services import attendance as attendance_service
from intervention.services import cases, documents, notices
from intervention.services import certificates as certificate_service

from .helpers import pdf_text
from .test_verify import upload

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "docs" / "schemas" / "certificate-facts.schema.json"
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def validation(pdf: bytes):
    reader = PdfFileReader(io.BytesIO(pdf))
    [embedded] = reader.embedded_signatures
    roots = signing.trust_roots()
    return embedded, validate_pdf_signature(embedded, ValidationContext(trust_roots=roots))


def assert_signed_pdfa(pdf: bytes) -> None:
    embedded, status = validation(pdf)
    assert embedded.field_name == signing.FIELD_NAME
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert "INTACT:TRUSTED,UNTOUCHED" in status.summary()
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = ElementTree.fromstring(root["/Metadata"].get_object().get_data())
    assert xmp.find(f".//*[@{PDFAID}part]") is not None or b"pdfaid" in ElementTree.tostring(xmp)
    text = ElementTree.tostring(xmp).decode()
    part = xmp.find(f".//{PDFAID}part")
    conformance = xmp.find(f".//{PDFAID}conformance")
    if part is not None:  # element form
        assert (part.text, conformance.text) == ("3", "A")
    else:  # attribute form
        node = xmp.find(f".//*[@{PDFAID}part]")
        assert (node.get(f"{PDFAID}part"), node.get(f"{PDFAID}conformance")) == ("3", "A"), text
    assert "/StructTreeRoot" in root  # still tagged
    assert bool(root["/MarkInfo"]["/Marked"])


def test_issued_certificate_is_signed_and_stays_pdfa_3a(issued):
    pdf = issued.pdf
    assert_signed_pdfa(pdf)
    # The stored bytes and digest are those of the signed file, and its issue event says so.
    assert issued.sha256 == hashlib.sha256(pdf).hexdigest()
    assert certificate_service.integrity(issued).intact


def test_certificate_is_attested_and_signed_by_the_director_not_the_facilitator(issued):
    facilitator = issued.issued_by
    assert facilitator.role is Role.FACILITATOR
    text = pdf_text(issued.pdf)
    assert "Dana Director, Program director" in text
    assert facilitator.full_name not in text
    embedded, _status = validation(issued.pdf)
    assert embedded.sig_object["/Name"] == "Dana Director, Program director"


def test_pdfsig_reports_the_signature_valid(issued, tmp_path):
    if shutil.which("pdfsig") is None:
        # CI must run it (make system-deps installs poppler-utils); elsewhere, say what's missing.
        if os.environ.get("CI"):
            pytest.fail("pdfsig is missing: make system-deps installs poppler-utils")
        pytest.skip("poppler-utils' pdfsig is not installed (make system-deps)")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(issued.pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Signature Type: ETSI.CAdES.detached" in out
    assert "Signature Validation: Signature is Valid." in out
    assert "Development" in out  # the development CA is named as such


def test_every_court_document_kind_is_signed(admin, make_enrollment):
    enrollment = make_enrollment(case_number="LDC-26-4410", overrides={"max_gap_days": None})
    facilitator = enrollment.cohort.facilitators[0]
    for session in enrollment.cohort.sessions[:2]:
        attendance_service.mark(session, enrollment, S.ABSENT, 0, facilitator)
    report = documents.progress_report(enrollment, facilitator)
    [notice, *_] = notices.draft_for(enrollment)
    documents.generate_notice(notice, facilitator)
    _, termination = cases.change_status(
        enrollment, EnrollmentState.TERMINATED, admin, "Two absences in a row."
    )
    for doc in (report, notice, termination):
        assert_signed_pdfa(doc.pdf)
        assert doc.sha256 == hashlib.sha256(doc.pdf).hexdigest()
        assert documents.integrity(doc).intact
        assert "Dana Director, Program director" in pdf_text(doc.pdf)


def facts_of(pdf: bytes) -> dict:
    reader = PdfReader(io.BytesIO(pdf))
    [data] = reader.attachments[certificate_service.FACTS_FILENAME]
    return json.loads(data)


def test_certificate_facts_are_a_signed_pdfa_data_attachment_matching_the_schema(issued):
    facts = facts_of(issued.pdf)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(
        facts, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    enrollment = issued.enrollment
    assert facts["certificate_number"] == issued.number
    assert facts["case_number"] == "KC-26-104417"
    assert facts["participant"]["name"] == "Daniel Carter"
    assert facts["court"]["name"] == "Kings County District Court"
    assert facts["program"]["title"] == enrollment.cohort.version.program.title
    assert facts["issuer"] == {"name": "Dana Director", "title": "Program director"}
    assert len(facts["sessions"]) == facts["sessions_required"] > 0
    assert {"number", "date", "attendance", "hours"} == set(facts["sessions"][0])
    assert "title" not in json.dumps(facts["sessions"])  # discretion: numbers, not titles

    # A PDF/A-3 associated file: listed in the catalog's /AF, relationship /Data, JSON type.
    root = PdfReader(io.BytesIO(issued.pdf)).trailer["/Root"]
    specs = [s.get_object() for s in root["/AF"]]
    [spec] = [s for s in specs if s["/F"] == certificate_service.FACTS_FILENAME]
    assert spec["/AFRelationship"] == "/Data"
    assert spec["/F"] == spec["/UF"] == certificate_service.FACTS_FILENAME
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"

    # Covered by the signature: the signature covers the whole file, nothing was changed
    # after it, and changing the attachment's bytes breaks it.
    _embedded, status = validation(issued.pdf)
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.modification_level.name == "NONE"
    stream = spec["/EF"]["/F"].get_object()
    raw = stream._data  # the compressed bytes as stored in the file
    data = bytearray(issued.pdf)
    at = data.index(raw)
    data[at + len(raw) // 2] ^= 0x01
    assert not signing.check_signature(bytes(data)).intact


def test_verify_upload_reports_the_signer_and_time(client, issued):
    page = upload(client, issued.pdf).get_data(as_text=True)
    assert "Digital signature" in page
    assert "valid" in page.lower()
    assert "Intervention Development Program Director" in page


def test_verify_upload_says_when_the_signature_is_missing(client, issued):
    # The same pages re-saved without the signature: not a certificate the program issued.
    writer = PdfWriter(clone_from=io.BytesIO(issued.pdf))
    if "/AcroForm" in writer._root_object:
        del writer._root_object["/AcroForm"]
    out = io.BytesIO()
    writer.write(out)
    response = upload(client, out.getvalue())
    page = response.get_data(as_text=True)
    assert "no digital signature" in page.lower() or "not signed" in page.lower()


def test_verify_upload_says_when_the_signature_is_broken(client, issued):
    data = bytearray(issued.pdf)
    # Change one byte inside the signed content (the page stream area), keeping the length.
    at = data.index(b"stream", 2000) + 20
    data[at] = data[at] ^ 0x01
    page = upload(client, bytes(data)).get_data(as_text=True)
    assert "broken" in page.lower()


def test_production_refuses_to_start_without_a_signing_key(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("INTERVENTION_AUDIT_KEY", "a" * 64)
    monkeypatch.delenv("INTERVENTION_SIGNING_KEY", raising=False)
    monkeypatch.delenv("INTERVENTION_SIGNING_CERT", raising=False)
    with pytest.raises(ConfigError, match="INTERVENTION_SIGNING_KEY"):
        load_config(str(tmp_path))
    paths = signing.make_dev_ca(tmp_path)
    monkeypatch.setenv("INTERVENTION_SIGNING_KEY", str(paths["key"]))
    monkeypatch.setenv("INTERVENTION_SIGNING_CERT", str(paths["cert"]))
    monkeypatch.setenv("INTERVENTION_SIGNING_CA_CHAIN", str(paths["ca"]))
    config = load_config(str(tmp_path))
    assert config["SIGNING_KEY"] == str(paths["key"])
    assert config["SIGNING_CREATE"] is False


def test_signing_init_makes_a_development_ca_and_signing_certificate(runner, app, tmp_path):
    from cryptography import x509

    result = runner.invoke(args=["signing", "init", "--folder", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate((tmp_path / "signing" / signing.DEV_CERT).read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "signing" / signing.DEV_CA).read_bytes())
    assert "Development" in cert.subject.rfc4514_string()
    assert "Development" in ca.subject.rfc4514_string()
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert cert.issuer == ca.subject
    assert oct((tmp_path / "signing" / signing.DEV_KEY).stat().st_mode & 0o777) == "0o600"


def test_verify_upload_says_when_someone_else_signed_it(client, tmp_path):
    # A well-formed signature, but from a key the program never held: not the program's.
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    other = signing.make_dev_ca(tmp_path)
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    blank = io.BytesIO()
    writer.write(blank)
    signer = signers.SimpleSigner.load(
        str(other["key"]), str(other["cert"]), ca_chain_files=(str(other["ca"]),)
    )
    signed = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(blank.getvalue())),
        signers.PdfSignatureMetadata(field_name="X", subfilter=fields.SigSeedSubFilter.PADES),
        signer=signer,
    ).getvalue()
    check = signing.check_signature(signed)
    assert check.present and check.intact and not check.trusted and not check.valid
    page = upload(client, signed).get_data(as_text=True)
    assert "not made with the program's key" in page.replace("&#39;", "'")
