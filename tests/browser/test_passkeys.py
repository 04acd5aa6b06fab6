"""Passkeys in Chromium, with a virtual authenticator from the DevTools protocol (the kind a
phone or a laptop's fingerprint reader is: CTAP2, internal, resident keys, user verification):
a new staff member invited by the director sets one up at his first sign-in, gets his recovery
codes, signs out, and signs in again with the password and the passkey."""

from __future__ import annotations

from playwright.sync_api import expect

from .support import ADMIN, AxeAudit

DESKTOP = {"width": 1280, "height": 900}
NEW_PASSWORD = "quiet harbour lantern 27"
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def test_a_passkey_is_set_up_at_the_first_sign_in_and_then_signs_in(live_server, new_context):
    audit = AxeAudit()
    # Passkeys belong to a site name: an IP address cannot be one, so the newcomer's browser
    # uses the same server as "localhost" (in development the site is the host asked for).
    site = live_server.replace("127.0.0.1", "localhost")

    director = new_context(ADMIN, DESKTOP).new_page()
    director.goto(live_server + "/admin/staff/new")
    director.fill("#full_name", "Pat Passkey")
    director.fill("#email", "pat.passkey@demo.test")
    director.select_option("#role", "facilitator")
    director.get_by_role("button", name="Create account and link").click()
    link = director.locator("#invitation-link").input_value()
    path = link[link.index("/welcome/") :]

    context = new_context(viewport=DESKTOP)
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    authenticator = {"authenticatorId": added["authenticatorId"]}

    # The invitation sets his password; it does not sign him in.
    page.goto(site + path)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.get_by_role("button", name="Save password and go on").click()
    expect(page).to_have_url(site + "/login/enrol")
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    audit.check(page)
    page.fill("#name", "Test laptop")
    page.get_by_role("button", name="Set up a passkey").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator(".recovery-codes code").count() == 10
    audit.check(page)
    assert len(devtools.send("WebAuthn.getCredentials", authenticator)["credentials"]) == 1
    page.get_by_role("link", name="I have kept them: go on").click()
    expect(page).to_have_url(site + "/facilitator/")

    page.goto(site + "/account/passkeys")
    expect(page.locator(".passkey-list")).to_contain_text("Test laptop")
    audit.check(page)
    page.locator("form[action$='/logout'] button").click()

    # Signing in again: the password, then the passkey.
    page.goto(site + "/login")
    page.fill("#email", "pat.passkey@demo.test")
    page.fill("#password", NEW_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(site + "/login/code")
    audit.check(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(site + "/facilitator/")
    expect(page.locator("form[action$='/logout'] button")).to_be_visible()
    credential = devtools.send("WebAuthn.getCredentials", authenticator)["credentials"][0]
    assert credential["signCount"] >= 1
    audit.assert_clean()
