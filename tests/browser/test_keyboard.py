"""Keyboard only: the sign-in form and the reflection form reached with Tab, filled in, and
sent with Enter, with a visible focus ring (outline or box-shadow on :focus-visible) on every
element the Tab key lands on along the way."""

from __future__ import annotations

from playwright.sync_api import expect

from .support import PARTICIPANT, PASSWORD, answer_of, tab_to, untouched_prompt


def test_sign_in_and_a_reflection_with_the_keyboard_only(live_server, new_context):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(live_server + "/login")
    page.evaluate("document.activeElement.blur()")  # Tab from the top of the page
    unseen = tab_to(page, "#email")
    page.keyboard.type(PARTICIPANT)
    unseen += tab_to(page, "#password")
    page.keyboard.type(PASSWORD)
    unseen += tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("form[action$='/logout'] button")).to_be_visible()

    page.goto(untouched_prompt(page, live_server))
    unseen += tab_to(page, "#text")
    page.keyboard.type(answer_of(page))
    unseen += tab_to(page, "button[name=save], input[name=save]")
    page.keyboard.press("Enter")
    expect(page.locator(".flash-success")).to_have_text("Draft saved.")
    expect(page.locator("#text")).not_to_have_value("")

    unseen += tab_to(page, "button[name=submit], input[name=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your answer was sent for review.")).to_be_visible()
    assert not unseen, "focused with no visible focus ring:\n" + "\n".join(unseen)
