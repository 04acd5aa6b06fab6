"""The W3C Nu HTML checker (vnu.jar, run on Java) over the HTML the server sends for the main
page of each role: zero errors. `make html-checker` installs it (make test does so first).

The pages are fetched as sent (the response body, not the DOM after scripts ran), saved to one
folder, and checked in one run of the checker, since starting Java takes a few seconds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from .support import ADMIN, CLERK, DONE_CASE, FACILITATOR, PARTICIPANT

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = Path(
    os.environ.get("VNU_JAR", ROOT / ".cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar")
)


def checker() -> list[str]:
    """The command that runs the checker, or a skip (a failure under CI) saying what is missing."""
    java = shutil.which("java")
    if java is None:
        reason = "java is not installed: the Nu HTML checker runs on Java 17 (make html-checker)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; under CI a missing checker is a failure, not a skip")
        pytest.skip(reason)
    if not VNU_JAR.is_file():
        pytest.fail(f"{VNU_JAR} is missing: run `make html-checker` (make test runs it first)")
    return [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json"]


def save(page: Page, url: str, folder: Path, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    assert urlsplit(page.url).path == urlsplit(url).path, f"{url} redirected to {page.url}"
    (folder / f"{name}.html").write_text(response.text(), encoding="utf-8")


def first_link(page: Page, selector: str) -> str:
    return page.locator(selector).first.evaluate("a => a.href")


def collect_pages(new_context, base: str, folder: Path) -> None:
    """Saves sign-in, participant, facilitator, clerk, admin, account and public pages as sent."""
    page = new_context().new_page()
    save(page, base + "/login", folder, "sign-in")
    save(page, base + "/verify", folder, "verify")

    page = new_context(PARTICIPANT).new_page()
    save(page, base + "/me/", folder, "participant-home")
    save(page, first_link(page, "main a[href^='/me/modules/']"), folder, "module")
    page.goto(base + "/me/reflections")
    save(page, first_link(page, "#due a[href^='/me/reflections/']"), folder, "reflection")

    page = new_context(FACILITATOR).new_page()
    page.goto(base + "/facilitator/")
    save(page, first_link(page, "main a[href^='/facilitator/cohorts/']"), folder, "cohort-grid")
    page.goto(base + "/facilitator/reviews")  # waiting: the page with the review form
    save(page, first_link(page, "main a[href^='/facilitator/reviews/']"), folder, "review")

    page = new_context(CLERK).new_page()
    save(page, base + f"/court/?q={DONE_CASE}", folder, "case-list")
    save(page, first_link(page, "main table a[href^='/court/cases/']"), folder, "case")
    code = page.locator("main li code").first.inner_text().strip()

    page = new_context(ADMIN).new_page()
    save(page, base + "/admin/", folder, "admin-dashboard")
    save(page, base + "/admin/provider", folder, "provider")  # letterhead and logo
    save(page, base + "/admin/courts/new", folder, "court-form")
    save(page, base + "/admin/enrollments/new", folder, "enrollment-form")
    save(page, base + "/account", folder, "account")  # with the list of his sessions
    save(page, base + "/account/passkeys", folder, "passkeys")
    save(page, base + "/account/two-step", folder, "authenticator-app")
    save(new_context().new_page(), base + "/verify/" + code, folder, "verify-result")


def test_main_pages_have_no_html_errors(live_server, new_context, tmp_path):
    command = checker()
    collect_pages(new_context, live_server, tmp_path)
    files = sorted(tmp_path.glob("*.html"))
    run = subprocess.run(
        [*command, *map(str, files)], capture_output=True, text=True, timeout=120, check=False
    )
    # The checker writes its JSON report to stderr.
    messages = json.loads(run.stderr or '{"messages": []}')["messages"]
    errors = [m for m in messages if m.get("type") in ("error", "non-document-error")]
    lines = [
        f"{Path(urlsplit(m.get('url', '')).path).stem}:{m.get('lastLine', '?')}: {m['message']}"
        f"\n    {' '.join((m.get('extract') or '').split())[:160]}"
        for m in errors
    ]
    summary = f"Nu HTML checker: {len(errors)} error(s) in {len(files)} pages:\n"
    assert not errors, summary + "\n".join(lines)
    assert run.returncode == 0, run.stderr
