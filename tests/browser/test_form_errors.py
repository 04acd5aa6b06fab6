"""Errors are announced: a refused form marks the field aria-invalid and points it at the
message with aria-describedby, so a screen reader reads the message with the field; and the
page with the errors passes axe-core like the others."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .support import PARTICIPANT, AxeAudit, untouched_prompt


def assert_announced(page: Page, field: str) -> None:
    """The field is marked invalid, and its description (the elements its aria-describedby
    names) holds the error message shown beside it."""
    control = page.locator(field)
    expect(control).to_have_attribute("aria-invalid", "true")
    message = page.locator(".has-error").filter(has=control).locator(".error").first
    expect(message).to_be_visible()
    ids = (control.get_attribute("aria-describedby") or "").split()
    described = " ".join(
        page.locator(f"[id='{i}']").inner_text() for i in ids if page.locator(f"[id='{i}']").count()
    )
    assert message.inner_text() in described, (
        f"{field}: the error {message.inner_text()!r} is not in its description "
        f"(aria-describedby={ids}: {described!r})"
    )


def test_refused_forms_announce_their_errors(live_server, new_context):
    audit = AxeAudit()
    page = new_context().new_page()
    page.goto(live_server + "/verify")
    page.locator("main button[type=submit]").click()
    assert_announced(page, "#code")
    audit.check(page, "verify (nothing entered)")

    page = new_context(PARTICIPANT).new_page()
    page.goto(untouched_prompt(page, live_server))
    page.locator("#text").fill("Too short.")
    page.get_by_role("button", name="Submit for review").click()
    assert_announced(page, "#text")
    audit.check(page, "reflection (too short)")
    audit.assert_clean()
