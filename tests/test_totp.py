"""Codes from an authenticator app (TOTP), one of the second factors of staff accounts: set
up at the first sign-in with a confirmed code, the code step at sign-in (wrong code, time
limit, throttle, each code once), and turning it off, which needs a code and another factor.
The rules for every factor are in test_second_factor.py."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from intervention.auth import views as auth_views
from intervention.models import Role
from intervention.services import ServiceError
from intervention.services import accounts as account_service

from .authenticator import SoftPasskey
from .conftest import PASSWORD, csrf_token
from .helpers import events, post_form, signed_in, text_of
from .test_second_factor import passkey_post

SECRET_RE = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')


def sign_in(client, user, password: str = PASSWORD):
    return client.post(
        "/login",
        data={
            "email": user.email,
            "password": password,
            "csrf_token": csrf_token(client, "/login"),
        },
    )


def enrol(client) -> str:
    """At the first sign-in: read the key, confirm it with a code; returns the secret."""
    page = text_of(client.get("/login/enrol"))
    assert "<svg" in page  # the QR code, inline
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    response = post_form(client, "/login/enrol", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    return secret


@pytest.fixture
def staff(make_user):
    return make_user(Role.FACILITATOR, second_factor=False)


def test_set_up_needs_a_right_code_and_then_sign_in_asks_for_one(app, staff):
    client = app.test_client()
    assert sign_in(client, staff).headers["Location"] == "/login/enrol"
    page = text_of(client.get("/login/enrol"))
    secret = SECRET_RE.search(page).group(1).replace(" ", "")

    response = post_form(client, "/login/enrol", {"code": "000000"})
    assert "That code is not right." in text_of(response)
    assert not staff.totp_enabled
    # The key stays the same while he tries again.
    assert secret.replace(" ", "") in text_of(client.get("/login/enrol")).replace(" ", "")
    post_form(client, "/login/enrol", {"code": pyotp.TOTP(secret).now()})
    assert staff.totp_enabled and staff.totp_secret == secret
    assert events("auth.totp_enabled")
    assert 'href="/account/two-step"' in text_of(client.get("/account"))

    # Signing in now takes the password and then a code; the password alone signs no one in.
    other = app.test_client()
    response = sign_in(other, staff)
    assert response.headers["Location"] == "/login/code"
    assert other.get("/facilitator/").headers["Location"].startswith("/login")
    response = post_form(other, "/login/code", {"code": "123456"})
    assert "That code is not right." in text_of(response)
    assert events("auth.totp_failed")
    # The code that set the app up cannot sign in too; the next one can.
    used = pyotp.TOTP(secret).now()
    assert "That code is not right." in text_of(post_form(other, "/login/code", {"code": used}))
    following = pyotp.TOTP(secret).at(time.time(), counter_offset=1)
    response = post_form(other, "/login/code", {"code": following})
    assert response.headers["Location"] == "/facilitator/"
    assert other.get("/facilitator/").status_code == 200


def test_the_code_step_ends_after_five_minutes(app, make_user, monkeypatch):
    user = make_user(Role.FACILITATOR)
    now = [1_900_000_000.0]
    monkeypatch.setattr(auth_views, "_clock", lambda: now[0])
    other = app.test_client()
    sign_in(other, user)
    token = csrf_token(other, "/login/code")
    now[0] += 5 * 60 + 1
    response = other.post(
        "/login/code", data={"code": pyotp.TOTP(user.totp_secret).now(), "csrf_token": token}
    )
    assert response.headers["Location"] == "/login"
    assert "That took too long. Sign in again." in text_of(other.get("/login"))
    assert other.get("/login/code").headers["Location"] == "/login"


def test_wrong_codes_are_throttled(app, make_user, rate_limits):
    user = make_user(Role.FACILITATOR)
    other = app.test_client()
    sign_in(other, user)
    for _ in range(5):
        post_form(other, "/login/code", {"code": "000000"})
    response = post_form(other, "/login/code", {"code": "000000"})
    assert response.status_code == 429
    assert "Too many attempts." in text_of(response)


def test_a_right_code_costs_no_extra_attempt(app, make_user, rate_limits):
    """The code step completes the attempt the password step counted: nine people signing in
    from one office address are nine attempts of the ten allowed, not eighteen."""
    for _ in range(9):
        signed_in(app, make_user(Role.FACILITATOR))
    sign_in(app.test_client(), make_user(Role.FACILITATOR))  # the tenth
    response = sign_in(app.test_client(), make_user(Role.FACILITATOR))
    assert response.status_code == 429


def test_turning_it_off_needs_a_code_and_another_factor(app, make_user):
    user = make_user(Role.FACILITATOR)
    client = signed_in(app, user)
    secret = user.totp_secret
    page = text_of(client.get("/account/two-step"))
    assert "only second factor" in page and "Turn off" not in page
    response = post_form(client, "/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert "This is your only second factor." in text_of(response)
    assert user.totp_enabled

    passkey_post(client, "/account/passkeys", "/account/passkeys", SoftPasskey().create, name="K")
    response = post_form(client, "/account/two-step", {"code": "000000"})
    assert "That code is not right." in text_of(response)
    assert user.totp_enabled
    post_form(client, "/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert not user.totp_enabled and user.totp_secret is None
    assert events("auth.totp_disabled")

    # And on again, from the account page, with a new key.
    page = text_of(client.get("/account/two-step"))
    new_secret = SECRET_RE.search(page).group(1).replace(" ", "")
    response = post_form(client, "/account/two-step", {"code": pyotp.TOTP(new_secret).now()})
    assert response.headers["Location"] == "/account"
    assert user.totp_enabled and user.totp_secret == new_secret


def test_participants_cannot_enable_codes(make_user):
    man = make_user(Role.PARTICIPANT)
    secret = account_service.new_totp_secret()
    with pytest.raises(ServiceError):
        account_service.enable_totp(man, secret, pyotp.TOTP(secret).now())


def test_codes_accept_spaces_and_refuse_junk(staff):
    secret = account_service.new_totp_secret()
    code = pyotp.TOTP(secret).now()
    account_service.enable_totp(staff, secret, code[:3] + " " + code[3:])
    assert not account_service.check_totp(staff, "abcdef")
    assert not account_service.check_totp(staff, "")


def test_a_code_signs_in_only_once(app, make_user):
    user = make_user(Role.FACILITATOR)
    code = pyotp.TOTP(user.totp_secret).now()
    first, second = app.test_client(), app.test_client()
    sign_in(first, user)
    sign_in(second, user)
    assert post_form(first, "/login/code", {"code": code}).status_code == 302
    response = post_form(second, "/login/code", {"code": code})
    assert "That code is not right." in text_of(response)
