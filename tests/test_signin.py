"""Sign-in and sessions: the password policy, changing a password (which signs out every
other session), sign-in throttles per address and per account, and the idle timeout."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from intervention.auth import invitations
from intervention.auth import views as auth_views
from intervention.extensions import db, limiter
from intervention.models import AuditEvent, Role
from intervention.services import ServiceError
from intervention.services import accounts as account_service

from .conftest import PASSWORD, csrf_token, login
from .helpers import post_form, text_of

NEW_PASSWORD = "lantern orchard quietly"


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# --- the password policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pass", "Use at least 12 characters."),
        ("password1234", "That password is too common."),
        ("Password1234!", "That password is too common."),
        ("qwertyuiop123", "That password is too common."),
        ("aaaaaaaaaaaaaa", "That password is too common."),
        ("x" * 201, "Use at most 200 characters."),
        ("my name is Fiona Facilitator", "Do not use your name or email"),
        ("fiona.f@court.example!", "Do not use your name or email"),
    ],
)
def test_staff_passwords_that_are_refused(make_user, password, problem):
    user = make_user(Role.FACILITATOR, name="Fiona Facilitator", email="fiona.f@court.example")
    assert problem in account_service.password_problem(password, user)


def test_participants_need_ten_characters_and_staff_twelve(make_user):
    man, staff = make_user(Role.PARTICIPANT), make_user(Role.ADMIN)
    assert account_service.password_problem("river lamp", man) is None
    assert account_service.password_problem("river lamp", staff) == "Use at least 12 characters."
    assert account_service.password_problem(NEW_PASSWORD, staff) is None


def test_the_invitation_page_applies_the_policy(client, make_user):
    man = make_user(Role.PARTICIPANT)
    link = "/welcome/" + invitations.make_token(man)
    response = post_form(client, link, {"password": "password123", "confirm": "password123"})
    assert "That password is too common." in text_of(response)
    assert not events("auth.password_set")


# --- changing a password ---------------------------------------------------------------------


def test_changing_the_password_signs_out_every_other_session(app, make_user):
    user = make_user(Role.FACILITATOR)
    phone, laptop = app.test_client(), app.test_client()
    login(phone, user)
    login(laptop, user)
    version = user.session_version

    response = post_form(
        laptop,
        "/account/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert user.session_version == version + 1
    assert user.password_changed_at is not None
    assert user.check_password(NEW_PASSWORD)
    assert [e.object_id for e in events("auth.password_set")] == [user.id]

    # This session was renewed and goes on; the other one is signed out.
    assert laptop.get("/facilitator/").status_code == 200
    response = phone.get("/facilitator/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "Your password was changed" in text_of(phone.get("/login"))
    login(phone, user, password=NEW_PASSWORD)


def test_change_password_needs_the_current_one_and_a_good_new_one(client, make_user):
    user = make_user(Role.PARTICIPANT, name="Sam Smith")
    login(client, user)
    response = post_form(
        client,
        "/account/password",
        {"current": "not it at all", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert "Your current password is not right." in text_of(response)
    assert events("auth.password_change_failed")
    for new, message in [
        ("short", "Use at least 10 characters."),
        ("iloveyou123", "That password is too common."),
        (PASSWORD, "Choose a new password"),
    ]:
        response = post_form(
            client, "/account/password", {"current": PASSWORD, "password": new, "confirm": new}
        )
        assert message in text_of(response)
    response = post_form(
        client,
        "/account/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": "something else here"},
    )
    assert "The two passwords are not the same." in text_of(response)
    assert user.check_password(PASSWORD)


def test_change_password_service_raises_for_a_wrong_current_password(make_user):
    user = make_user(Role.ADMIN)
    with pytest.raises(ServiceError):
        account_service.change_password(user, "wrong", NEW_PASSWORD)


def test_the_account_page_links_to_the_security_pages(client, make_user):
    staff = make_user(Role.ADMIN)
    login(client, staff)
    page = text_of(client.get("/account"))
    assert 'href="/account/password"' in page and 'href="/account/two-step"' in page
    assert 'href="/account"' in text_of(client.get("/admin/"))


def test_participants_see_no_two_step_link(client, make_user):
    login(client, make_user(Role.PARTICIPANT))
    page = text_of(client.get("/account"))
    assert 'href="/account/password"' in page and "/account/two-step" not in page
    assert client.get("/account/two-step").status_code == 403


# --- throttling ------------------------------------------------------------------------------


@pytest.fixture
def rate_limits(app):
    saved = app.config["RATE_LIMITS"]
    app.config["RATE_LIMITS"] = True
    limiter.reset()
    yield
    app.config["RATE_LIMITS"] = saved
    limiter.reset()


def try_password(client, email: str, password: str):
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
    )


def test_five_failures_lock_the_account_for_every_address(app, make_user, rate_limits):
    user = make_user(Role.ADMIN)
    for n in range(5):
        other_address = {"REMOTE_ADDR": f"10.0.0.{n}"}
        client = app.test_client()
        client.environ_base.update(other_address)
        assert "do not match" in text_of(try_password(client, user.email.upper(), "wrong"))
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    response = try_password(fresh, user.email, PASSWORD)  # even the right password waits
    assert response.status_code == 429
    assert "Too many attempts. Try again in 15 minutes." in text_of(response)
    assert events("auth.login_throttled")
    # Another account is not affected.
    other = make_user(Role.ADMIN)
    assert try_password(fresh, other.email, PASSWORD).status_code == 302


def test_ten_attempts_from_one_address_then_it_waits(client, make_user, rate_limits):
    users = [make_user(Role.PARTICIPANT) for _ in range(11)]
    for user in users[:10]:
        assert try_password(client, user.email, "wrong guess").status_code == 200
    response = try_password(client, users[10].email, PASSWORD)
    assert response.status_code == 429
    assert "Too many attempts. Try again in" in text_of(response)


def test_limits_are_off_in_tests_unless_turned_on(client, make_user):
    user = make_user(Role.ADMIN)
    for _ in range(12):
        try_password(client, user.email, "wrong")
    login(client, user)


# --- idle timeout ----------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    now = [1_900_000_000.0]
    monkeypatch.setattr(auth_views, "_clock", lambda: now[0])
    return now


@pytest.mark.parametrize(
    ("role", "home", "minutes"),
    [(Role.FACILITATOR, "/facilitator/", 30), (Role.PARTICIPANT, "/me/", 60)],
)
def test_an_idle_session_is_signed_out(client, make_user, clock, role, home, minutes):
    login(client, make_user(role))
    clock[0] += minutes * 60 - 5
    assert client.get(home).status_code == 200  # activity moves the clock on
    clock[0] += minutes * 60 - 5
    assert client.get(home).status_code == 200
    clock[0] += minutes * 60 + 5
    response = client.get(home)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert f"signed out after {minutes} minutes without activity" in text_of(client.get("/login"))


def test_autosave_after_the_idle_timeout_answers_json_401(client, make_enrollment, clock):
    enrollment = make_enrollment()
    login(client, enrollment.participant)
    prompt = enrollment.cohort.version.modules[0].prompts[0]
    page = f"/me/reflections/{prompt.id}"
    token = csrf_token(client, page)
    clock[0] += 61 * 60
    response = client.post(
        f"{page}/draft",
        data={"text": "Some words", "revision": "0", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "signed_out"
