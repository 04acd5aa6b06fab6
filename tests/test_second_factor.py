"""Second factors for every staff account (issue 13, item 2): a staff account is signed in
only with its factor, or after setting one up; no link or reset skips it; one director cannot
take over another; recovery codes work once; passkeys (here with a software authenticator;
tests/browser/test_passkeys.py uses Chromium's) register, sign in and are removed, never the
last factor. Participants sign in as before."""

from __future__ import annotations

import hashlib
import re

import pyotp
import pytest
import sqlalchemy as sa

from intervention.auth import invitations, passkeys
from intervention.auth import views as auth_views
from intervention.config import ROOT
from intervention.demo import DEMO_PASSWORD, seed
from intervention.extensions import db
from intervention.models import Passkey, RecoveryCode, Role, User
from intervention.services import ServiceError, second_factor

from .authenticator import SoftPasskey, options_on
from .conftest import CSRF_RE, PASSWORD, csrf_token, send_code
from .helpers import events, post_form, signed_in, text_of

F, C, A = Role.FACILITATOR, Role.CLERK, Role.ADMIN
HOME = {F: "/facilitator/", C: "/court/", A: "/admin/"}
NEW_PASSWORD = "lantern orchard quietly"
SECRET_RE = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')
CODES_RE = re.compile(r"<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>")
# Every page a signed-in staff member could open, and one of each other audience's.
STAFF_PAGES = [
    "/facilitator/",
    "/facilitator/reviews",
    "/court/",
    "/admin/",
    "/admin/staff",
    "/admin/audit",
    "/cases/1",
    "/account",
    "/account/password",
    "/account/two-step",
    "/account/passkeys",
    "/account/recovery-codes",
    "/me/",
]


def password_step(client, user, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"email": user.email, "password": password, "csrf_token": token}
    )


def staff_user(make_user, make_court, role: Role, **kwargs):
    return make_user(role, court=make_court() if role is C else None, **kwargs)


def assert_signed_out(client) -> None:
    for url in STAFF_PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url


def set_up_app(client) -> tuple[str, list[str]]:
    """The enrolment step with an authenticator app; returns its key and the recovery codes."""
    page = text_of(client.get("/login/enrol"))
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    response = post_form(client, "/login/enrol", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = CODES_RE.findall(text_of(response))
    assert len(codes) == second_factor.RECOVERY_CODE_COUNT
    return secret, codes


def passkey_post(client, page: str, action: str, answer, **fields):
    """Open the page (which begins the ceremony), let the authenticator answer its options,
    and send the form as static/js/passkeys.js does."""
    html = text_of(client.get(page))
    token = next(g for g in CSRF_RE.search(html).groups() if g)
    data = {**fields, "credential": answer(options_on(html)), "csrf_token": token}
    return client.post(action, data=data)


# --- every staff account has a factor before it is signed in -----------------------------------


@pytest.mark.parametrize("role", [F, C, A], ids=lambda r: r.value)
def test_staff_without_a_factor_reach_no_page_until_they_set_one_up(
    app, make_user, make_court, role
):
    user = staff_user(make_user, make_court, role, second_factor=False)
    client = app.test_client()
    response = password_step(client, user)
    assert response.headers["Location"] == "/login/enrol"
    assert_signed_out(client)
    assert client.get("/login/code").headers["Location"] == "/login/enrol"
    assert user.last_login_at is None and not events("auth.login")

    page = text_of(client.get("/login/enrol"))
    assert "Set up your second factor" in page and "<svg" in page
    response = post_form(client, "/login/enrol", {"code": "000000"})
    assert "That code is not right." in text_of(response)
    assert not user.totp_enabled
    assert_signed_out(client)

    secret, codes = set_up_app(client)
    assert user.totp_enabled and user.totp_secret == secret
    assert client.get(HOME[role]).status_code == 200
    assert [e.object_id for e in events("auth.login")] == [user.id]
    assert events("auth.recovery_codes_made")[0].details == {"count": 10}

    # From now on the password leads to the code step, never to setting up another factor.
    other = app.test_client()
    assert password_step(other, user).headers["Location"] == "/login/code"
    assert other.get("/login/enrol").headers["Location"] == "/login/code"
    assert_signed_out(other)


def test_a_password_alone_cannot_add_a_factor_to_an_account_that_has_one(app, make_user):
    user = make_user(F)
    secret = user.totp_secret
    client = app.test_client()
    password_step(client, user)
    attacker = pyotp.random_base32()
    token = csrf_token(client, "/login/code")
    response = client.post(
        "/login/enrol", data={"code": pyotp.TOTP(attacker).now(), "csrf_token": token}
    )
    assert response.headers["Location"] == "/login/code"
    response = client.post(
        "/login/enrol/passkey",
        data={"name": "Mine now", "credential": "{}", "csrf_token": token},
    )
    assert response.headers["Location"] == "/login/code"
    assert user.totp_secret == secret and not second_factor.passkeys_of(user)
    assert_signed_out(client)


def test_participants_sign_in_with_a_password_alone(app, make_user):
    man = make_user(Role.PARTICIPANT)
    client = app.test_client()
    assert password_step(client, man).headers["Location"] == "/me/"
    assert client.get("/me/").status_code == 200
    for url in ["/account/passkeys", "/account/recovery-codes", "/account/two-step"]:
        assert client.get(url).status_code == 403, url
    with pytest.raises(ServiceError):
        second_factor.new_recovery_codes(man)


def test_a_staff_session_without_a_factor_is_ended(app, make_user):
    """A session opened before factors were required (the migration also ends them)."""
    user = make_user(F)
    client = signed_in(app, user)
    user.totp_enabled = False
    db.session.flush()
    response = client.get("/facilitator/")
    assert response.headers["Location"] == "/login"
    assert "needs a second factor now" in text_of(client.get("/login"))
    assert_signed_out(client)


def test_the_enrolment_step_ends_after_fifteen_minutes(app, make_user, monkeypatch):
    user = make_user(F, second_factor=False)
    now = [1_900_000_000.0]
    monkeypatch.setattr(auth_views, "_clock", lambda: now[0])
    client = app.test_client()
    password_step(client, user)
    now[0] += 14 * 60
    assert client.get("/login/enrol").status_code == 200
    now[0] += 2 * 60
    assert client.get("/login/enrol").headers["Location"] == "/login"
    assert "That took too long." in text_of(client.get("/login"))


# --- links and resets --------------------------------------------------------------------------


def test_an_invitation_link_sets_the_password_and_then_asks_for_the_factor(app, make_user):
    user = make_user(F)
    client = app.test_client()
    link = "/welcome/" + invitations.make_token(user)
    response = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/code"
    assert user.check_password(NEW_PASSWORD)
    assert "Now the second step of signing in." in text_of(client.get("/login/code"))
    assert_signed_out(client)
    assert client.get(link).status_code == 404  # used
    response = send_code(client, user)
    assert response.headers["Location"] == "/facilitator/"
    assert client.get("/facilitator/").status_code == 200


def test_an_invitation_to_a_new_staff_account_leads_to_setting_up_a_factor(app, make_user):
    newcomer = make_user(A, second_factor=False)
    client = app.test_client()
    link = "/welcome/" + invitations.make_token(newcomer)
    response = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/enrol"
    assert_signed_out(client)
    set_up_app(client)
    assert client.get("/admin/").status_code == 200


def test_a_director_cannot_take_over_another_directors_account(app, make_user):
    ada, bea = make_user(A, name="Ada Director"), make_user(A, name="Bea Director")
    bea_secret = bea.totp_secret
    client = signed_in(app, ada)
    page = f"/admin/staff/{bea.id}"
    response = post_form(client, f"{page}/invitation", {}, page=page)
    link = re.search(r"/welcome/[\w.\-]+", text_of(client.get(response.headers["Location"])))
    reset = events("account.access_reset")[-1]
    assert (reset.actor_id, reset.object_id) == (ada.id, bea.id)
    assert reset.details == {"role": "admin", "second_factors_kept": 1}
    assert events("invitation.create")[-1].object_id == bea.id

    # Ada uses the link herself: Bea's password changes (recorded), but nobody is signed in.
    response = post_form(client, link.group(0), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/code"
    assert_signed_out(client)
    response = post_form(client, "/login/code", {"code": pyotp.TOTP(ada.totp_secret).now()})
    assert "That code is not right." in text_of(response)
    assert client.get("/login/enrol").headers["Location"] == "/login/code"
    assert_signed_out(client)
    # The reset kept Bea's factor; she alone finishes the sign-in with it.
    assert bea.totp_enabled and bea.totp_secret == bea_secret
    theirs = signed_in(app, bea, NEW_PASSWORD)
    assert theirs.get("/admin/").status_code == 200


def test_every_new_link_for_a_staff_account_is_recorded(app, make_user):
    director, facilitator = make_user(A), make_user(F, second_factor=False)
    client = signed_in(app, director)
    page = f"/admin/staff/{facilitator.id}"
    assert post_form(client, f"{page}/invitation", {}, page=page).status_code == 302
    reset = events("account.access_reset")[-1]
    assert reset.object_id == facilitator.id
    assert reset.details["second_factors_kept"] == 0
    assert "Not set up yet" in text_of(client.get(page))


# --- recovery codes ----------------------------------------------------------------------------


def test_recovery_codes_are_shown_once_stored_hashed_and_work_once(app, make_user):
    user = make_user(F, second_factor=False)
    client = app.test_client()
    password_step(client, user)
    _secret, codes = set_up_app(client)
    assert len(set(codes)) == 10
    stored = db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id))
    stored = list(stored)
    assert len(stored) == 10
    plain = {c.replace("-", "") for c in codes}
    assert {r.code_hash for r in stored} == {hashlib.sha256(c.encode()).hexdigest() for c in plain}
    assert not plain & {r.code_hash for r in stored}

    # Typed in capitals with spaces, as from paper: it signs in, and says how many are left.
    first = app.test_client()
    password_step(first, user)
    typed = codes[0].upper().replace("-", " ")
    response = post_form(first, "/login/code", {"code": typed})
    assert response.headers["Location"] == "/facilitator/"
    assert "You have 9 left." in text_of(first.get("/account"))
    assert events("auth.recovery_code_used")[-1].details == {"left": 9}
    assert "9 left" in text_of(first.get("/account"))
    assert "You have 9 unused codes." in text_of(first.get("/account/recovery-codes"))

    second = app.test_client()
    password_step(second, user)
    response = post_form(second, "/login/code", {"code": codes[0]})
    assert "That recovery code is not right, or it was used already." in text_of(response)
    assert events("auth.recovery_code_failed")
    assert_signed_out(second)

    # New codes: the old ones stop working.
    response = post_form(first, "/account/recovery-codes", {})
    new_codes = CODES_RE.findall(text_of(response))
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Your old codes no longer work." in text_of(response)
    response = post_form(second, "/login/code", {"code": codes[1]})
    assert "not right, or it was used already" in text_of(response)
    response = post_form(second, "/login/code", {"code": new_codes[0]})
    assert response.headers["Location"] == "/facilitator/"
    assert [e.details for e in events("auth.recovery_codes_made")] == [{"count": 10}] * 2


def test_the_last_recovery_codes_say_to_make_new_ones(app, make_user):
    user = make_user(F)
    codes = second_factor.new_recovery_codes(user)
    for code in codes[:7]:
        assert second_factor.use_recovery_code(user, code) is not None
    client = app.test_client()
    password_step(client, user)
    post_form(client, "/login/code", {"code": codes[7]})
    assert "Only 2 are left: make new ones" in text_of(client.get("/account"))
    assert second_factor.use_recovery_code(user, codes[7]) is None
    assert second_factor.use_recovery_code(user, "not a code") is None


def test_a_recovery_code_of_another_account_does_not_work(app, make_user):
    mine, theirs = make_user(F), make_user(F)
    codes = second_factor.new_recovery_codes(theirs)
    client = app.test_client()
    password_step(client, mine)
    response = post_form(client, "/login/code", {"code": codes[0]})
    assert "not right" in text_of(response)
    assert second_factor.recovery_codes_left(theirs) == 10


def test_wrong_recovery_codes_and_passkeys_are_throttled(app, make_user, rate_limits):
    user = make_user(F)
    client = app.test_client()
    password_step(client, user)
    for _ in range(5):
        post_form(client, "/login/code", {"code": "aaaa-bbbb-cccc-dddd"})
    response = post_form(client, "/login/code", {"code": "aaaa-bbbb-cccc-dddd"})
    assert response.status_code == 429
    assert "Too many attempts." in text_of(response)
    response = post_form(client, "/login/passkey", {"credential": "{}"}, page="/login/code")
    assert "Too many attempts." in text_of(client.get(response.headers["Location"]))


# --- passkeys ----------------------------------------------------------------------------------


def test_a_passkey_set_up_at_the_first_sign_in_then_signs_in(app, make_user, make_court):
    user = make_user(C, court=make_court(), second_factor=False)
    key = SoftPasskey()
    client = app.test_client()
    password_step(client, user)

    response = passkey_post(client, "/login/enrol", "/login/enrol/passkey", key.create, name="   ")
    assert "Give the passkey a name" in text_of(client.get(response.headers["Location"]))
    assert_signed_out(client)

    response = passkey_post(
        client, "/login/enrol", "/login/enrol/passkey", key.create, name="Work laptop"
    )
    assert response.status_code == 200
    assert len(CODES_RE.findall(text_of(response))) == 10
    assert client.get("/court/").status_code == 200
    passkey = second_factor.passkeys_of(user)[0]
    assert (passkey.name, passkey.credential_id, passkey.transports) == (
        "Work laptop",
        key.credential_id,
        "internal",
    )
    assert len(user.passkey_user_handle) == 32 and not user.totp_enabled

    other = app.test_client()
    assert password_step(other, user).headers["Location"] == "/login/code"
    page = text_of(other.get("/login/code"))
    assert 'data-passkey="sign-in"' in page and "Open your authenticator app" not in page
    response = passkey_post(other, "/login/code", "/login/passkey", key.get)
    assert response.headers["Location"] == "/court/"
    assert other.get("/court/").status_code == 200
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert events("auth.passkey_used")[-1].details == {"passkey": passkey.id}


def test_a_passkey_answer_counts_once_and_only_for_its_own_site_and_account(
    app, make_user, make_court
):
    user = make_user(F)
    key = SoftPasskey()
    client = signed_in(app, user)
    passkey_post(client, "/account/passkeys", "/account/passkeys", key.create, name="Phone")

    # An answer replayed in another sign-in: its challenge was for the first one.
    first, second = app.test_client(), app.test_client()
    password_step(first, user)
    html = text_of(first.get("/login/code"))
    answer = key.get(options_on(html))
    token = next(g for g in CSRF_RE.search(html).groups() if g)
    response = first.post("/login/passkey", data={"credential": answer, "csrf_token": token})
    assert response.headers["Location"] == "/facilitator/"
    password_step(second, user)
    second.get("/login/code")
    response = post_form(second, "/login/passkey", {"credential": answer}, page="/login/code")
    assert response.headers["Location"] == "/login/code"
    assert "That passkey did not sign you in." in text_of(second.get("/login/code"))
    assert events("auth.passkey_failed")
    assert_signed_out(second)

    # The same key, but the page it signed for was another site's.
    key.origin = "https://intervention.example.evil.test"
    response = passkey_post(second, "/login/code", "/login/passkey", key.get)
    assert response.headers["Location"] == "/login/code"
    key.origin = "https://intervention.example"

    # A key registered to another account.
    stranger = make_user(F)
    other_key = SoftPasskey()
    theirs = signed_in(app, stranger)
    passkey_post(theirs, "/account/passkeys", "/account/passkeys", other_key.create, name="Key")
    response = passkey_post(second, "/login/code", "/login/passkey", other_key.get)
    assert response.headers["Location"] == "/login/code"
    assert_signed_out(second)

    # A counter that went backwards: a cloned authenticator.
    key.sign_count = 0
    response = passkey_post(second, "/login/code", "/login/passkey", key.get)
    assert response.headers["Location"] == "/login/code"
    assert_signed_out(second)


def test_passkeys_are_named_listed_and_removed_but_never_the_last_factor(app, make_user):
    user = make_user(A)
    client = signed_in(app, user)
    laptop, phone = SoftPasskey(), SoftPasskey()
    passkey_post(client, "/account/passkeys", "/account/passkeys", laptop.create, name="Laptop")
    response = passkey_post(
        client, "/account/passkeys", "/account/passkeys", phone.create, name="Phone"
    )
    assert response.headers["Location"] == "/account/passkeys"
    page = text_of(client.get("/account/passkeys"))
    assert "Laptop" in page and "Phone" in page and "not used yet" in page
    assert "2 passkeys" in text_of(client.get("/account"))
    # A name that would not store or show well is refused in words.
    bad = passkey_post(
        client, "/account/passkeys", "/account/passkeys", SoftPasskey().create, name="Key\x00"
    )
    assert "This contains a control character" in text_of(client.get(bad.headers["Location"]))
    # The same authenticator cannot be added twice.
    again = passkey_post(client, "/account/passkeys", "/account/passkeys", phone.create, name="x")
    assert "already in use" in text_of(client.get(again.headers["Location"]))
    assert len(second_factor.passkeys_of(user)) == 2

    # App codes off (a passkey remains), then one passkey removed, the last one kept.
    post_form(client, "/account/two-step", {"code": pyotp.TOTP(user.totp_secret).now()})
    assert not user.totp_enabled
    first, last = second_factor.passkeys_of(user)
    page = "/account/passkeys"
    response = post_form(client, f"/account/passkeys/{first.id}/remove", {}, page=page)
    assert response.headers["Location"] == "/account/passkeys"
    assert events("auth.passkey_removed")[-1].details == {"passkey": first.id}
    html = text_of(client.get(page))
    assert "only second factor" in html and f"/account/passkeys/{last.id}/remove" not in html
    response = post_form(client, f"/account/passkeys/{last.id}/remove", {}, page=page)
    assert "This is your only second factor." in text_of(client.get(response.headers["Location"]))
    assert second_factor.passkeys_of(user) == [last]


def test_nobody_removes_another_persons_passkey(app, make_user):
    owner, other = make_user(F), make_user(F)
    key = SoftPasskey()
    mine = signed_in(app, owner)
    passkey_post(mine, "/account/passkeys", "/account/passkeys", key.create, name="Mine")
    passkey = second_factor.passkeys_of(owner)[0]
    client = signed_in(app, other)
    # An id no column can hold is no address at all (404); any other is refused in words.
    huge = post_form(client, "/account/passkeys/99999999999/remove", {}, page="/account/passkeys")
    assert huge.status_code == 404
    for url in [f"/account/passkeys/{passkey.id}/remove", "/account/passkeys/2147483647/remove"]:
        response = post_form(client, url, {}, page="/account/passkeys")
        assert "That passkey is not on your account." in text_of(
            client.get(response.headers["Location"])
        )
    assert db.session.get(Passkey, passkey.id) is not None
    with pytest.raises(ServiceError):
        second_factor.remove_passkey(passkey, other)


def test_a_broken_passkey_answer_is_a_message_not_an_error(app, make_user):
    user = make_user(F, second_factor=False)
    client = app.test_client()
    password_step(client, user)
    for answer in ["not json", "{}", '{"id": 1}', "[]", '{"response": {"clientDataJSON": "%%"}}']:
        data = {"name": "Key", "credential": answer}
        response = post_form(client, "/login/enrol/passkey", data, page="/login/enrol")
        assert response.headers["Location"] == "/login/enrol", answer
        assert "could not be checked" in text_of(client.get("/login/enrol")), answer
    assert_signed_out(client)


def test_passkeys_belong_to_the_public_address_or_in_development_the_host_asked_for(app):
    with app.test_request_context("/", base_url="http://laptop.local:5000"):
        rp = passkeys.relying_party()
        assert (rp.id, rp.origin) == ("intervention.example", "https://intervention.example")
        app.config["ENV_NAME"] = "development"
        try:
            rp = passkeys.relying_party()
        finally:
            app.config["ENV_NAME"] = "testing"
        assert (rp.id, rp.origin) == ("laptop.local", "http://laptop.local:5000")


# --- what directors see ------------------------------------------------------------------------


def test_directors_see_each_accounts_factors(app, make_user):
    director = make_user(A)
    fresh = make_user(F, name="Fresh Face", second_factor=False)
    client = signed_in(app, director)
    second_factor.new_recovery_codes(director)
    page = text_of(client.get("/admin/staff"))
    assert "Second factor" in page and "Not set up yet" in page and "App" in page
    page = text_of(client.get(f"/admin/staff/{director.id}"))
    assert "Authenticator app" in page and "10 recovery codes left" in page
    assert "Not set up yet" in text_of(client.get(f"/admin/staff/{fresh.id}"))


def test_demo_staff_sign_in_with_the_totp_secret_the_readme_gives(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    secret = re.search(r"TOTP secret\s+`([A-Z2-7]+)`", readme).group(1)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    seed()
    db.session.commit()
    people = {u.email: u for u in db.session.scalars(sa.select(User))}
    for email in ["admin@demo.test", "facilitator@demo.test", "clerk@demo.test"]:
        assert people[email].totp_enabled and people[email].totp_secret == secret, email
    assert not people["participant@demo.test"].totp_enabled
    client = app.test_client()
    password_step(client, people["admin@demo.test"], DEMO_PASSWORD)
    response = post_form(client, "/login/code", {"code": pyotp.TOTP(secret).now()})
    assert response.headers["Location"] == "/admin/"


def test_the_operator_resets_a_lost_second_factor_from_the_command_line(app, runner, make_user):
    """Phone, passkeys and recovery codes all lost: only the server's operator can help."""
    user = make_user(F)
    client = signed_in(app, user)
    second_factor.new_recovery_codes(user)
    reason = "Lost phone and codes; ID checked in person by the director"
    result = runner.invoke(
        args=["accounts", "reset-second-factor", user.email.upper(), "--reason", reason]
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert not second_factor.has_second_factor(user) and user.totp_secret is None
    assert second_factor.recovery_codes_left(user) == 0
    event = events("auth.second_factor_reset")[-1]
    assert event.actor_id is None and event.details["reason"] == reason
    assert event.details["removed"] == {"app": True, "passkeys": 0}
    assert_signed_out(client)
    assert password_step(app.test_client(), user).headers["Location"] == "/login/enrol"

    for args in (
        [user.email, "--reason", " "],
        ["nobody@test.example", "--reason", "x"],
        [make_user(Role.PARTICIPANT).email, "--reason", "x"],
    ):
        result = runner.invoke(args=["accounts", "reset-second-factor", *args])
        assert result.exit_code != 0 and "Error" in result.output, args
