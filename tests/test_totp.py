"""Two-step sign-in for staff: enrolment with a confirmed code, the code step at sign-in
(wrong code, time limit, throttle), turning it off, and accounts an admin requires it for."""

from __future__ import annotations

import re

import pyotp
import pytest
import sqlalchemy as sa

from intervention.auth import views as auth_views
from intervention.extensions import db, limiter
from intervention.models import AuditEvent, Role
from intervention.services import ServiceError
from intervention.services import accounts as account_service

from .conftest import PASSWORD, csrf_token
from .helpers import post_form, text_of

SECRET_RE = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


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
    """Open the two-step page, read the key, confirm with a code; returns the secret."""
    page = text_of(client.get("/account/two-step"))
    assert "<svg" in page  # the QR code, inline
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    response = post_form(client, "/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    return secret


@pytest.fixture
def staff(make_user):
    return make_user(Role.FACILITATOR)


def test_enrolment_needs_a_right_code_and_then_sign_in_asks_for_one(app, staff):
    client = app.test_client()
    assert sign_in(client, staff).status_code == 302
    page = text_of(client.get("/account/two-step"))
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    assert 'href="/account/two-step"' in text_of(client.get("/account"))

    response = post_form(client, "/account/two-step", {"code": "000000"})
    assert "That code is not right." in text_of(response)
    assert not staff.totp_enabled
    # The key stays the same while he tries again.
    assert secret.replace(" ", "") in text_of(client.get("/account/two-step")).replace(" ", "")
    post_form(client, "/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert staff.totp_enabled and staff.totp_secret == secret
    assert "auth.totp_enabled" in actions()

    # Signing in now takes the password and then a code; the password alone signs no one in.
    other = app.test_client()
    response = sign_in(other, staff)
    assert response.headers["Location"] == "/login/code"
    assert other.get("/facilitator/").headers["Location"].startswith("/login")
    response = post_form(other, "/login/code", {"code": "123456"})
    assert "That code is not right." in text_of(response)
    assert "auth.totp_failed" in actions()
    response = post_form(other, "/login/code", {"code": pyotp.TOTP(secret).now()})
    assert response.headers["Location"] == "/facilitator/"
    assert other.get("/facilitator/").status_code == 200


def test_the_code_step_ends_after_five_minutes(app, staff, monkeypatch):
    client = app.test_client()
    sign_in(client, staff)
    secret = enrol(client)
    now = [1_900_000_000.0]
    monkeypatch.setattr(auth_views, "_clock", lambda: now[0])
    other = app.test_client()
    sign_in(other, staff)
    token = csrf_token(other, "/login/code")
    now[0] += 5 * 60 + 1
    response = other.post(
        "/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert response.headers["Location"] == "/login"
    assert "That took too long. Sign in again." in text_of(other.get("/login"))
    assert other.get("/login/code").headers["Location"] == "/login"


def test_wrong_codes_are_throttled(app, staff):
    client = app.test_client()
    sign_in(client, staff)
    enrol(client)
    app.config["RATE_LIMITS"] = True
    limiter.reset()
    try:
        other = app.test_client()
        sign_in(other, staff)
        for _ in range(5):
            post_form(other, "/login/code", {"code": "000000"})
        response = post_form(other, "/login/code", {"code": "000000"})
        assert response.status_code == 429
        assert "Too many attempts." in text_of(response)
    finally:
        app.config["RATE_LIMITS"] = False
        limiter.reset()


def test_turning_it_off_needs_a_code(app, staff):
    client = app.test_client()
    sign_in(client, staff)
    secret = enrol(client)
    response = post_form(client, "/account/two-step", {"code": "000000"})
    assert "That code is not right." in text_of(response)
    assert staff.totp_enabled
    post_form(client, "/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert not staff.totp_enabled and staff.totp_secret is None
    assert "auth.totp_disabled" in actions()


def test_a_required_account_is_sent_to_enrol_and_cannot_turn_it_off(app, staff):
    staff.totp_required = True
    db.session.flush()
    client = app.test_client()
    sign_in(client, staff)
    response = client.get("/facilitator/")
    assert response.headers["Location"] == "/account/two-step"
    assert "needs two-step sign-in" in text_of(client.get("/account/two-step"))
    assert client.get("/account").status_code == 200  # the way there stays open
    secret = enrol(client)
    assert client.get("/facilitator/").status_code == 200
    response = post_form(client, "/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert "cannot be turned off" in text_of(response)
    assert staff.totp_enabled


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


def test_a_code_signs_in_only_once(app, staff):
    client = app.test_client()
    sign_in(client, staff)
    secret = enrol(client)
    code = pyotp.TOTP(secret).now()
    first, second = app.test_client(), app.test_client()
    sign_in(first, staff)
    sign_in(second, staff)
    assert post_form(first, "/login/code", {"code": code}).status_code == 302
    response = post_form(second, "/login/code", {"code": code})
    assert "That code is not right." in text_of(response)
