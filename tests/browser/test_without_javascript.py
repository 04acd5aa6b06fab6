"""Every essential action works with JavaScript turned off: plain forms and links only."""

from __future__ import annotations

from playwright.sync_api import expect

from .support import (
    CLERK,
    DONE_CASE,
    FACILITATOR,
    PARTICIPANT,
    answer_of,
    sign_in,
    untouched_prompt,
)


def test_essential_actions_without_javascript(live_server, new_context):
    # The participant signs in, saves a draft with the button, then submits it.
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, live_server, PARTICIPANT)
    page.goto(untouched_prompt(page, live_server))
    page.locator("#text").fill(answer_of(page))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".flash-success")).to_have_text("Draft saved.")
    expect(page.locator("#text")).not_to_have_value("")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Your answer was sent for review.")).to_be_visible()

    # The facilitator marks attendance: David Miller came late to session 2.
    page = new_context(FACILITATOR, java_script_enabled=False).new_page()
    page.goto(live_server + "/facilitator/")
    page.get_by_role("link", name="Fall 2026, Thursday evening").first.click()
    page.locator("main a[href$='/attendance']").nth(1).click()
    expect(page.locator("main h1")).to_contain_text("Attendance: session 2")
    row = page.locator("fieldset.roster-row").filter(has_text="David Miller")
    row.get_by_label("Status").select_option("late")
    row.locator("input[name$='minutes']").fill("100")
    row.locator("input[name$='reason']").fill("He came in at 7:00; the sheet missed it.")
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator(".flash-success")).to_contain_text("Attendance saved for session 2")

    # The clerk checks a certificate's code.
    page = new_context(CLERK, java_script_enabled=False).new_page()
    page.goto(live_server + f"/court/?q={DONE_CASE}")
    page.get_by_role("link", name=DONE_CASE).click()
    code = page.locator("main li code").first.inner_text().strip()
    page.goto(live_server + "/verify")
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".verdict")).to_have_text("Valid")
