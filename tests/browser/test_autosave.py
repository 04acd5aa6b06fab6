"""The reflection editor watched in a real browser against a running server: his draft saves
as he types, survives a reload, is not overwritten from a second tab, is kept on the device
while he is signed out and put back when he returns; a double click sends one attempt."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from intervention.services.reflections import count_words

PASSWORD = "demo-password"
SAVE_WAIT_MS = 15_000  # the editor saves 3 s after the last key press; slow machines


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(SAVE_WAIT_MS)
    yield context
    context.close()


def sign_in(page: Page, base: str, email: str = "participant@demo.test") -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def prompts_to_write(page: Page, base: str) -> list[str]:
    """Links to the answers he has not sent yet, oldest due first."""
    page.goto(base + "/me/reflections")
    links = page.locator("#due a[href^='/me/reflections/']")
    return [base + href for href in links.evaluate_all("links => links.map(a => a.pathname)")]


def type_slowly(page: Page, text: str) -> None:
    editor = page.locator("#text")
    editor.click()
    editor.press("Control+End")
    editor.press_sequentially(text, delay=25)


def test_his_draft_survives_a_reload_a_second_tab_and_a_sign_out(live_server, context):
    page = context.new_page()
    sign_in(page, live_server)
    url = prompts_to_write(page, live_server)[0]
    page.goto(url)
    editor, status, problem = (
        page.locator("#text"),
        page.locator("#save-status"),
        page.locator("#save-problem"),
    )
    expect(editor).to_have_value("")

    # He types; a few seconds later the page says the draft is saved.
    type_slowly(page, "I told myself nobody was hurt.")
    expect(page.locator("#word-count")).to_contain_text("6 words now.")
    expect(status).to_have_text(re.compile(r"^Draft saved \d{1,2}:\d\d [AP]M$"))

    # A reload shows the text from the server; the copy on the device was cleared.
    page.reload()
    expect(editor).to_have_value("I told myself nobody was hurt.")
    expect(page.locator("#restore-notice")).to_be_hidden()
    assert page.evaluate("Object.keys(localStorage).length") == 0

    # A second tab saves first; the first tab's next save is refused, its text kept.
    second = context.new_page()
    second.goto(url)
    type_slowly(second, " Written in the second tab.")
    second.get_by_role("button", name="Save draft").click()
    expect(second.locator(".flash-success")).to_have_text("Draft saved.")
    type_slowly(page, " Written in the first tab.")
    expect(problem).to_contain_text("changed in another window")
    expect(editor).to_have_value("I told myself nobody was hurt. Written in the first tab.")
    second.close()

    # Reloaded, the first tab shows the saved version and offers the text from this device.
    page.reload()
    expect(editor).to_have_value("I told myself nobody was hurt. Written in the second tab.")
    copy = page.locator("#device-copy")
    expect(copy).to_be_visible()
    expect(page.locator("#device-copy-text")).to_have_value(
        "I told myself nobody was hurt. Written in the first tab."
    )
    page.get_by_role("button", name="Use this text instead").click()
    expect(copy).to_be_hidden()
    expect(status).to_contain_text("Draft saved")

    # Signed out in another tab: the next save says so, and the text stays on the device.
    other = context.new_page()
    other.goto(live_server + "/me/")
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_text("You are signed out.")).to_be_visible()
    type_slowly(page, " Then I was arrested.")
    expect(problem).to_contain_text(
        "You were signed out. Your text is kept on this device. Sign in again to save it."
    )
    expect(status).to_have_text("Your newest changes are not saved.")
    typed = "I told myself nobody was hurt. Written in the first tab. Then I was arrested."
    expect(editor).to_have_value(typed)

    # Signed in again, he comes back to the page: his text is put back and saved.
    sign_in(other, live_server)
    other.close()
    page.goto(url)
    expect(page.locator("#restore-notice")).to_have_text(
        "We put back text you wrote on this device that was not saved yet."
    )
    expect(editor).to_have_value(typed)
    expect(page.locator("#word-count")).to_contain_text("15 words now.")
    expect(status).to_contain_text("Draft saved")
    page.reload()
    expect(editor).to_have_value(typed)  # now from the server


def test_a_double_click_on_submit_sends_one_attempt(live_server, new_context):
    page = new_context("participant@demo.test").new_page()
    url = prompts_to_write(page, live_server)[1]
    page.goto(url)
    minimum = int(page.locator("#reflection-form").get_attribute("data-min-words"))
    page.locator("#text").fill(" ".join(["honest"] * (minimum + 5)))
    expect(page.locator("#word-count")).to_contain_text("That is enough to submit.")

    page.get_by_role("button", name="Submit for review").dblclick()
    expect(page.get_by_text("Your answer was sent for review.")).to_be_visible()
    expect(page.locator("article.attempt")).to_have_count(1)
    expect(page.locator("article.attempt h3")).to_contain_text("Attempt 1")
    assert page.evaluate("Object.keys(localStorage).length") == 0


def test_the_page_counts_words_as_the_server_does(live_server, new_context):
    page = new_context("participant@demo.test").new_page()
    page.goto(prompts_to_write(page, live_server)[2])
    samples = [
        "I don't know",
        "a well-known stop-gap",
        "won’t   can't\n\nshouldn't",
        "one, two; three... four!",
        "— - ... !!",
        "snake_case",
        "café naïve 2024",
        "- a list\n- of *three* things",
    ]
    for text in samples:
        page.locator("#text").fill(text)
        words = count_words(text)
        expected = f"{words} word{'' if words == 1 else 's'} now."
        expect(page.locator("#word-count")).to_contain_text(expected)
