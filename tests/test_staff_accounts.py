"""Staff accounts: invited by a program director, signed in by the link, disabled and enabled,
role changes with a court for clerks, the last director kept, every change audited."""

from __future__ import annotations

import re

import pyotp
import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import Role, User
from intervention.services import ServiceError
from intervention.services import staff_accounts as accounts

from .conftest import PASSWORD, csrf_token, login
from .helpers import events, post_form, signed_in, text_of


@pytest.fixture
def director(client, make_user):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    return admin


def test_the_list_shows_staff_not_participants(client, director, make_user, make_court):
    court = make_court("Staff List Court")
    make_user(Role.CLERK, court=court, name="Clara Clerk")
    man = make_user(Role.PARTICIPANT, name="Paul Participant")
    db.session.commit()
    html = text_of(client.get("/admin/staff"))
    assert "Clara Clerk" in html and "Staff List Court" in html and "App" in html
    assert man.full_name not in html


def test_an_invited_clerk_sets_a_password_and_signs_in(client, director, make_court):
    court = make_court("Invite Court")
    db.session.commit()
    response = post_form(
        client,
        "/admin/staff/new",
        {
            "full_name": "Nina <b>New</b>",
            "email": "Nina.New@Test.Example",
            "role": "clerk",
            "court_id": court.id,
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "nina.new@test.example"))
    assert user.role is Role.CLERK and user.court_id == court.id and user.active
    assert not user.check_password(PASSWORD)
    created = events("account.create")[-1]
    assert created.object_id == user.id and created.actor_id == director.id
    assert created.details["after"]["role"] == "clerk"
    page = client.get(response.headers["Location"])
    html = text_of(page)
    assert "Nina &lt;b&gt;New&lt;/b&gt;" in html
    link = re.search(r"https?://[^\s<\"]+/welcome/[\w.\-]+", html).group(0)
    # Shown once.
    assert "/welcome/" not in text_of(client.get("/admin/invitation", follow_redirects=True))
    client = client.application.test_client()  # the new clerk's own browser
    path = link[link.index("/welcome/") :]
    new_password = "a long and unusual passphrase 42"
    token = csrf_token(client, path)
    done = client.post(
        path,
        data={"password": new_password, "confirm": new_password, "csrf_token": token},
    )
    # No link signs staff in: the new clerk sets up a second factor first.
    assert done.headers["Location"] == "/login/enrol", text_of(done)
    assert client.get("/court/").headers["Location"].startswith("/login")
    page = text_of(client.get("/login/enrol"))
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    code = pyotp.TOTP(secret.replace(" ", "")).now()
    assert post_form(client, "/login/enrol", {"code": code}).status_code == 200
    assert client.get("/court/").status_code == 200
    client = client.application.test_client()
    login(client, user, new_password)
    assert client.get("/court/").status_code == 200
    # The link works once.
    assert client.get(path).status_code == 404


def test_a_clerk_needs_a_court_and_emails_are_unique(client, director):
    response = post_form(
        client,
        "/admin/staff/new",
        {"full_name": "No Court", "email": "nocourt@test.example", "role": "clerk"},
    )
    assert response.status_code == 200
    assert "A clerk needs a court." in text_of(response)
    with pytest.raises(ServiceError, match="already exists"):
        accounts.invite_staff(
            full_name="Twin",
            email=director.email.upper(),
            role=Role.FACILITATOR,
            court=None,
            actor=director,
        )
    with pytest.raises(ServiceError):
        accounts.invite_staff(
            full_name="Man",
            email="man@test.example",
            role=Role.PARTICIPANT,
            court=None,
            actor=director,
        )


def test_disable_and_enable(client, director, make_user):
    facilitator = make_user(Role.FACILITATOR)
    db.session.commit()
    page = f"/admin/staff/{facilitator.id}"
    assert post_form(client, f"{page}/disable", {}, page=page).status_code == 302
    db.session.refresh(facilitator)
    assert not facilitator.active
    event = events("account.disable")[-1]
    assert event.details["before"]["active"] is True and event.details["after"]["active"] is False
    other = client.application.test_client()
    token = csrf_token(other, "/login")
    refused = other.post(
        "/login", data={"email": facilitator.email, "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code != 302
    assert post_form(client, f"{page}/enable", {}, page=page).status_code == 302
    db.session.refresh(facilitator)
    assert facilitator.active
    assert events("account.enable")[-1].object_id == facilitator.id
    login(other, facilitator)


def test_disabling_yourself_is_refused(client, director):
    page = f"/admin/staff/{director.id}"
    response = post_form(client, f"{page}/disable", {}, page=page, follow_redirects=True)
    assert "You cannot disable your own account." in text_of(response)
    db.session.refresh(director)
    assert director.active


def test_role_change_needs_a_court_for_clerks_and_is_audited(
    client, director, make_user, make_court
):
    court = make_court("Role Court")
    facilitator = make_user(Role.FACILITATOR)
    db.session.commit()
    page = f"/admin/staff/{facilitator.id}"
    response = post_form(client, page, {"role": "clerk", "court_id": 0})
    assert "A clerk needs a court." in text_of(response)
    response = post_form(client, page, {"role": "clerk", "court_id": court.id})
    assert response.status_code == 302
    db.session.refresh(facilitator)
    assert facilitator.role is Role.CLERK and facilitator.court_id == court.id
    event = events("account.role_change")[-1]
    assert event.details["before"]["role"] == "facilitator"
    assert event.details["after"] == {
        "role": "clerk",
        "court_id": court.id,
        "active": True,
    }
    accounts.change_role(facilitator, Role.ADMIN, court, director)
    assert facilitator.court_id is None  # only clerks have a court


def test_the_last_active_admin_is_kept(director, make_user):
    with pytest.raises(ServiceError, match="last active program director"):
        accounts.change_role(director, Role.FACILITATOR, None, director)
    second = make_user(Role.ADMIN)
    with pytest.raises(ServiceError, match="last active program director"):
        accounts.set_active(second, False, director)
        accounts.change_role(director, Role.FACILITATOR, None, director)
    # With two active directors, one may step down.
    accounts.set_active(second, True, director)
    accounts.change_role(director, Role.FACILITATOR, None, second)
    assert director.role is Role.FACILITATOR


def test_the_last_admin_cannot_be_disabled(director, make_user):
    other = make_user(Role.ADMIN)
    accounts.change_role(other, Role.FACILITATOR, None, director)
    with pytest.raises(ServiceError):
        accounts.set_active(director, False, other)


def test_participants_are_not_staff_accounts(client, director, make_user):
    man = make_user(Role.PARTICIPANT)
    db.session.commit()
    assert client.get(f"/admin/staff/{man.id}").status_code == 404
    assert client.get("/admin/staff/999999").status_code == 404


@pytest.mark.parametrize("role", [Role.PARTICIPANT, Role.FACILITATOR, Role.CLERK])
def test_non_admins_are_refused(client, make_user, make_court, role):
    target = make_user(Role.FACILITATOR)
    user = make_user(role, court=make_court() if role is Role.CLERK else None)
    db.session.commit()
    login(client, user)
    for url in ["/admin/staff", "/admin/staff/new", f"/admin/staff/{target.id}"]:
        assert client.get(url).status_code == 403
    for url in ["disable", "enable", "invitation"]:
        assert client.post(f"/admin/staff/{target.id}/{url}").status_code in (400, 403)


def test_disabling_signs_out_open_sessions(app, director, make_user):
    facilitator = make_user(Role.FACILITATOR)
    db.session.commit()
    theirs = signed_in(app, facilitator)
    assert theirs.get("/facilitator/").status_code == 200
    accounts.set_active(facilitator, False, director)
    db.session.commit()
    response = theirs.get("/facilitator/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "data",
    [
        {"role": "zz"},
        {"role": "clerk", "court_id": "abc"},
        {"role": "admin", "court_id": "99999999999999999999"},
        {"role": "participant"},
    ],
)
def test_odd_role_forms_are_refused_plainly(client, director, make_user, data):
    facilitator = make_user(Role.FACILITATOR)
    db.session.commit()
    assert post_form(client, f"/admin/staff/{facilitator.id}", data).status_code == 200
    new = {**data, "full_name": "X", "email": "x@test.example"}
    assert post_form(client, "/admin/staff/new", new).status_code == 200
    db.session.refresh(facilitator)
    assert facilitator.role is Role.FACILITATOR
