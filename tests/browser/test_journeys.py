"""The three journeys of the README in a real browser, each checked with axe-core on every page
it visits: the participant (read, write, autosave, submit, feedback, revise), the facilitator
(attendance, review, certificate), the clerk (search, download, verify by upload and by code),
and the public verify page opened from the address printed under the certificate's QR code."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from .support import (
    CLERK,
    DONE_CASE,
    FACILITATOR,
    PARTICIPANT,
    AxeAudit,
    answer_of,
    sign_in,
    untouched_prompt,
)

DESKTOP = {"width": 1280, "height": 900}
FEEDBACK = "You say what happened, but not what you decided. Please add when you chose."


def return_with_feedback(page: Page, base: str, prompt_text: str) -> None:
    """The facilitator finds James Carter's answer to this prompt and returns it."""
    page.goto(base + "/facilitator/reviews")
    item = page.locator("main li").filter(has_text="James Carter").filter(has_text=prompt_text[:40])
    item.get_by_role("link", name=re.compile("^Review")).click()
    page.get_by_label("Returned for revision").check()
    page.locator("#comment").fill(FEEDBACK)
    page.get_by_role("button", name="Save review").click()
    expect(page.locator(".flash-success")).to_contain_text("Review saved")


def test_participant_reads_writes_submits_and_revises(live_server, new_context):
    audit = AxeAudit()
    page = new_context().new_page()
    page.goto(live_server + "/login")
    audit.check(page)
    sign_in(page, live_server, PARTICIPANT)
    audit.check(page)

    # He reads this week's module.
    page.get_by_role("link", name="Read this week's module").click()
    expect(page).to_have_url(re.compile(r"/me/modules/\d+$"))
    expect(page.locator("main .prose").first).to_be_visible()
    audit.check(page)

    # He writes; the page saves his draft by itself.
    url = untouched_prompt(page, live_server)
    audit.check(page)
    prompt_text = page.locator(".prompt-text").inner_text()
    editor = page.locator("#text")
    editor.fill(answer_of(page))
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Draft saved \d"))
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Your answer was sent for review.")).to_be_visible()
    audit.check(page, "reflection (submitted)")

    # His facilitator returns it with a comment.
    staff = new_context(FACILITATOR, DESKTOP).new_page()
    return_with_feedback(staff, live_server, prompt_text)

    # He reads the feedback, revises and sends it again.
    page.goto(url)
    expect(page.locator(".callout").filter(has_text="Feedback from")).to_contain_text(FEEDBACK)
    audit.check(page, "reflection (returned)")
    editor.press("Control+End")
    editor.press_sequentially(" I decided in the car.")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Your answer was sent for review.")).to_be_visible()
    expect(page.locator("article.attempt h3").first).to_contain_text("Attempt 2")
    audit.assert_clean()


def test_facilitator_takes_attendance_reviews_and_issues_a_certificate(live_server, new_context):
    audit = AxeAudit()
    page = new_context(FACILITATOR, DESKTOP).new_page()
    page.goto(live_server + "/facilitator/")
    audit.check(page)

    # Attendance: Kwame Osei was marked late at session 1; the sign-in sheet says present.
    page.get_by_role("link", name="Fall 2026, Thursday evening").first.click()
    audit.check(page, "cohort grid")
    page.locator("main a[href$='/attendance']").first.click()
    expect(page.locator("main h1")).to_contain_text("Attendance: session 1")
    audit.check(page)
    row = page.locator("fieldset.roster-row").filter(has_text="Kwame Osei")
    row.get_by_label("Status").select_option("present")
    row.locator("input[name$='reason']").fill("He was on time; the paper sheet was misread.")
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator(".flash-success")).to_contain_text("Attendance saved for session 1")

    # Review: James Carter's answer for session 2 is waiting; it is accepted.
    page.goto(live_server + "/facilitator/reviews")
    audit.check(page)
    item = (
        page.locator("main li")
        .filter(has_text="James Carter")
        .filter(has_text="Think about the person you paid")
    )
    item.get_by_role("link", name=re.compile("^Review")).click()
    audit.check(page)
    page.get_by_label("Accepted").check()
    page.locator("#comment").fill("Thank you. You name what she may have lived through.")
    page.get_by_role("button", name="Save review").click()
    expect(page.locator(".flash-success")).to_contain_text("Review saved: accepted")

    # Certificate: Steven Park finished the summer cohort and has none yet.
    page.goto(live_server + "/facilitator/")
    page.get_by_role("link", name="Summer 2026, Tuesday evening").first.click()
    page.get_by_role("link", name="Steven Park").first.click()
    expect(page.get_by_role("button", name="Issue completion certificate")).to_be_visible()
    audit.check(page, "enrollment (complete)")
    page.get_by_role("button", name="Issue completion certificate").click()
    expect(page.locator(".flash-success")).to_contain_text("issued")
    expect(page.get_by_role("heading", name=re.compile("^Certificate "))).to_be_visible()
    audit.check(page, "enrollment (certificate issued)")
    audit.assert_clean()


def download_certificate(page: Page) -> tuple[bytes, str]:
    """Clicks the certificate link of the open case page: the file and its X-Content-SHA256."""
    link = page.get_by_role("link", name=re.compile("^Certificate of completion")).first
    with page.expect_download() as download_info:
        link.click()
    data = open(download_info.value.path(), "rb").read()
    url = urljoin(page.url, link.get_attribute("href"))
    header = page.request.get(url).headers["x-content-sha256"]
    return data, header


def test_clerk_finds_a_case_downloads_and_verifies_the_certificate(
    live_server, new_context, tmp_path
):
    audit = AxeAudit()
    page = new_context(CLERK, DESKTOP, accept_downloads=True).new_page()
    page.goto(live_server + "/court/")
    audit.check(page)

    page.locator("#q").fill(DONE_CASE)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.case-table tbody tr")).to_have_count(1)
    audit.check(page, "case search")
    page.get_by_role("link", name=DONE_CASE).click()
    expect(page.locator("main h1")).to_contain_text(DONE_CASE)
    audit.check(page)

    data, header = download_certificate(page)
    shown = page.locator("code.hash").first.inner_text().strip()
    code = page.locator("main li code").first.inner_text().strip()
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == header == shown

    # Verify by uploading the file he received.
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(data)
    page.goto(live_server + "/verify")
    audit.check(page)
    page.locator("#pdf").set_input_files(pdf)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".verdict")).to_have_text("Valid")
    exact = page.get_by_text("The file you uploaded is exactly the certificate we issued.")
    expect(exact).to_be_visible()
    audit.check(page, "verify result (upload)")

    # Verify by typing the code printed on it.
    page.goto(live_server + "/verify")
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".verdict")).to_have_text("Valid")
    audit.check(page, "verify result (code)")
    audit.assert_clean()


def printed_verify_path(pdf: bytes) -> str:
    """The path of the verify address printed under the QR code of a certificate."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    found = re.search(r"https?://\S+?/verify/\s*([0-9A-Za-z-]{16,})", text)
    assert found, f"no verify address in the certificate's text:\n{text}"
    return f"/verify/{found.group(1)}"


def test_the_address_under_the_qr_code_shows_the_certificate_as_valid(live_server, new_context):
    audit = AxeAudit()
    clerk = new_context(CLERK, DESKTOP, accept_downloads=True).new_page()
    clerk.goto(live_server + f"/court/?q={DONE_CASE}")
    clerk.get_by_role("link", name=DONE_CASE).click()
    data, _ = download_certificate(clerk)

    # Anyone holding the paper: no account, a phone.
    page = new_context().new_page()
    page.goto(live_server + printed_verify_path(data))
    expect(page.locator(".verdict")).to_have_text("Valid")
    expect(page.locator("main h1")).to_have_text("This certificate is valid")
    assert urlsplit(page.url).path.startswith("/verify/")
    audit.check(page, "verify link (QR)")
    audit.assert_clean()


def pdf_words(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def assert_pdfsig_valid(data: bytes, tmp_path, name: str) -> None:
    """poppler's pdfsig, as a clerk's own PDF tools would check it (make system-deps installs
    it; the signing tests fail under CI without it)."""
    if shutil.which("pdfsig") is None:
        return
    path = tmp_path / name
    path.write_bytes(data)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Total document signed" in out, out


def test_clerk_downloads_court_documents_a_court_files_as_they_are(
    live_server, new_context, tmp_path
):
    """Issue 14's finish line: from the demo, a certificate and a progress report that show the
    provider's letterhead, his date of birth, the day he really finished, the director's
    attestation and a valid digital signature."""
    audit = AxeAudit()
    page = new_context(CLERK, DESKTOP, accept_downloads=True).new_page()
    page.goto(live_server + f"/court/?q={DONE_CASE}")
    page.get_by_role("link", name=DONE_CASE).click()
    expect(page.locator("main")).to_contain_text("Date of birth")
    audit.check(page, "case with identifiers")
    certificate, _ = download_certificate(page)
    text = pdf_words(certificate)
    assert "Northwest Accountability Programs" in text  # the provider's letterhead
    assert "State certification No." in text
    assert "Date of birth" in text and "Court person No." in text
    assert "Copies to:" in text
    completed = re.search(r"Completed (\w{3} \d{1,2}, \d{4}) · Issued (\w{3} \d{1,2}, \d{4})", text)
    assert completed, text
    assert completed.group(1) != completed.group(2)  # he finished in the summer, not today
    assert "Dana Whitfield, Program Director" in text  # the director attests, not the facilitator
    assert len(PdfReader(io.BytesIO(certificate)).pages) == 1
    assert_pdfsig_valid(certificate, tmp_path, "certificate.pdf")

    # The server checks the signature too, and says who signed.
    path = tmp_path / "upload.pdf"
    path.write_bytes(certificate)
    page.goto(live_server + "/verify")
    page.locator("#pdf").set_input_files(path)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".signature-check")).to_contain_text(
        "The digital signature is valid and was made with the program's key."
    )
    audit.check(page, "verify result (signature)")

    # The case partway through has a progress report the prosecutor asked for.
    page.goto(live_server + "/court/?q=KC-26-118204")
    page.get_by_role("link", name="KC-26-118204").click()
    link = page.get_by_role("link", name=re.compile("^Progress report")).first
    with page.expect_download() as download_info:
        link.click()
    report = open(download_info.value.path(), "rb").read()
    text = pdf_words(report)
    assert "Northwest Accountability Programs" in text and "Date of birth" in text
    assert "To: King County Prosecuting Attorney" in text  # pre-filing: to the prosecutor
    assert "Dana Whitfield, Program Director" in text
    assert len(PdfReader(io.BytesIO(report)).pages) == 1
    assert_pdfsig_valid(report, tmp_path, "progress-report.pdf")
    audit.assert_clean()
