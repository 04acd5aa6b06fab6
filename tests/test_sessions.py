"""Server-side sessions: the cookie holds only a random id, and the record behind it ends at
once when he signs out, changes his password, stays idle, is disabled by the director, or
signs out everywhere, so a copy of the cookie opens nothing afterwards. Client addresses come
only through ProxyFix; the account page lists where he is signed in."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib

import pytest
import sqlalchemy as sa
from werkzeug.middleware.proxy_fix import ProxyFix

from intervention.auth import sessions as session_store
from intervention.extensions import db
from intervention.models import BrowserSession, Role
from intervention.services import staff_accounts

from .conftest import PASSWORD, csrf_token, login
from .helpers import events, post_form, signed_in, text_of
from .querycount import counting

COOKIE = "session"
NEW_PASSWORD = "lantern orchard quietly"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def saved_cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def replayed(app, value: str, **environ):
    """Another browser holding a copy of the cookie (as a thief would)."""
    thief = app.test_client()
    thief.environ_base.update(environ)
    thief.set_cookie(COOKIE, value)
    return thief


def signed_out(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def rows(user=None) -> list[BrowserSession]:
    query = sa.select(BrowserSession)
    if user is not None:
        query = query.where(BrowserSession.user_id == user.id)
    return list(db.session.scalars(query))


# --- a copied cookie after each way of ending a session --------------------------------------


def test_a_cookie_saved_before_signing_out_opens_nothing_after(app, make_user):
    man = make_user(Role.PARTICIPANT)
    client = signed_in(app, man)
    copy = saved_cookie(client)
    assert replayed(app, copy).get("/account").status_code == 200  # a copy works meanwhile

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert signed_out(response)
    assert signed_out(replayed(app, copy).get("/account"))
    assert signed_out(client.get("/account"))
    assert not rows(man)


def test_a_password_change_ends_copies_of_this_session_and_every_other(app, make_user):
    user = make_user(Role.FACILITATOR)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    copies = [saved_cookie(laptop), saved_cookie(phone)]

    response = post_form(
        laptop,
        "/account/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.headers["Location"] == "/account"
    assert laptop.get("/facilitator/").status_code == 200  # renewed under a new id
    assert saved_cookie(laptop) not in copies
    for copy in copies:
        assert signed_out(replayed(app, copy).get("/facilitator/"))


def test_signing_out_everywhere_ends_every_session_and_its_copies(app, make_user):
    user = make_user(Role.PARTICIPANT)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    copies = [saved_cookie(laptop), saved_cookie(phone)]

    response = post_form(laptop, "/account/sessions/end-all", {}, page="/account")
    assert signed_out(response)
    assert "You are signed out everywhere." in text_of(laptop.get("/login"))
    for client in (laptop, phone):
        assert signed_out(client.get("/account"))
    for copy in copies:
        assert signed_out(replayed(app, copy).get("/account"))
    assert not rows(user)
    assert events("auth.sessions_ended")


def test_an_idle_session_is_ended_for_its_copies_too(app, make_user, clock):
    user = make_user(Role.FACILITATOR)
    client = signed_in(app, user)
    copy = saved_cookie(client)
    clock[0] += 31 * 60
    response = replayed(app, copy).get("/facilitator/")
    assert signed_out(response)
    # The record is gone, so the owner's own browser is signed out too (without the message,
    # which went to whoever came back first).
    assert signed_out(client.get("/facilitator/"))
    assert not rows(user)


def test_a_disabled_account_is_signed_out_at_once(app, make_user):
    director, clerk = make_user(Role.ADMIN), make_user(Role.FACILITATOR)
    client = signed_in(app, clerk)
    copy = saved_cookie(client)
    staff_accounts.set_active(clerk, False, director)
    db.session.commit()
    assert signed_out(replayed(app, copy).get("/facilitator/"))
    assert signed_out(client.get("/facilitator/"))


# --- X-Forwarded-For is not the client's address unless a proxy is configured ---------------


def test_x_forwarded_for_neither_keeps_nor_wipes_a_session_without_a_proxy(app, make_user):
    assert app.config["PROXY_HOPS"] == 0
    man = make_user(Role.PARTICIPANT)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    login(client, man)
    copy = saved_cookie(client)

    # A request naming another address in the header does not wipe the real session...
    forged = {"X-Forwarded-For": "203.0.113.66"}
    assert client.get("/account", headers=forged).status_code == 200
    assert client.get("/account").status_code == 200
    # ...and the record keeps the address the connection came from.
    assert {row.ip_address for row in rows(man)} == {"198.51.100.7"}

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    # After signing out, naming the original address does not bring the session back.
    thief = replayed(app, copy, REMOTE_ADDR="203.0.113.66")
    assert signed_out(thief.get("/account", headers={"X-Forwarded-For": "198.51.100.7"}))


def test_behind_a_configured_proxy_the_address_comes_through_proxyfix(app, make_user, monkeypatch):
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1, x_proto=1))
    man = make_user(Role.PARTICIPANT)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"email": man.email, "password": PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert {row.ip_address for row in rows(man)} == {"198.51.100.7"}


def test_nothing_reads_x_forwarded_for_itself(app):
    from pathlib import Path

    from intervention.extensions import login_manager

    # Flask-Login's binding hashed the header as the client sent it.
    assert login_manager.session_protection is None
    reading = re.compile(
        r"""headers(\.get\(|\[)\s*["']x-forwarded-for|HTTP_X_FORWARDED_FOR|access_route""",
        re.IGNORECASE,
    )
    package = Path(session_store.__file__).resolve().parent.parent
    readers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if reading.search(path.read_text())
    ]
    assert readers == []


# --- what the cookie carries ----------------------------------------------------------------


def decoded_parts(value: str) -> str:
    """Everything a signed Flask cookie would reveal: each dot-separated part, base64-decoded
    (and inflated when compressed)."""
    text = value
    for part in value.lstrip(".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            continue
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        text += raw.decode("latin-1")
    return text


def test_the_cookie_holds_no_two_step_secret_only_a_random_id(app, make_user):
    # A new staff account sets up its app at first sign-in: the key waits on the server.
    staff = make_user(Role.FACILITATOR, second_factor=False)
    client = app.test_client()
    response = post_form(client, "/login", {"email": staff.email, "password": PASSWORD})
    assert response.headers["Location"] == "/login/enrol"
    page = text_of(client.get("/login/enrol"))
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    value = saved_cookie(client)
    assert secret not in decoded_parts(value)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    # The database keeps only a hash of the id.
    digest = hashlib.sha256(value.encode()).hexdigest()
    record = db.session.scalar(sa.select(BrowserSession).where(BrowserSession.id_hash == digest))
    assert record is not None and secret in session_store.serializer.loads(record.data).values()
    assert not db.session.scalar(sa.select(BrowserSession).where(BrowserSession.id_hash == value))


def test_a_pending_sign_in_and_an_invitation_link_stay_on_the_server(app, make_user):
    import pyotp

    staff = make_user(Role.FACILITATOR)
    staff.totp_secret, staff.totp_enabled = pyotp.random_base32(), True
    db.session.commit()
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"email": staff.email, "password": PASSWORD, "csrf_token": token})
    assert client.get("/login/code").status_code == 200  # the pending sign-in is kept...
    assert "pending" not in decoded_parts(saved_cookie(client))  # ...but not in the cookie

    director, man = make_user(Role.ADMIN), make_user(Role.PARTICIPANT)
    admin = signed_in(app, director)
    response = post_form(admin, f"/admin/participants/{man.id}/invitation", {}, page="/admin/")
    assert response.headers["Location"] == "/admin/invitation"
    assert "invitation" not in decoded_parts(saved_cookie(admin))
    link = re.search(r"/welcome/([\w.-]+)", text_of(admin.get("/admin/invitation"))).group(1)
    assert link not in decoded_parts(saved_cookie(admin))


# --- cost: reading a session is one statement, and unchanged sessions are not written ----------


def test_an_anonymous_visitor_gets_one_record_and_pages_after_that_only_read_it(app):
    visitor = app.test_client()
    before = len(rows())
    visitor.get("/login")  # the form's CSRF token is kept in the session
    assert len(rows()) == before + 1
    db.session.commit()
    with counting(db.engine) as log:
        visitor.get("/login")
    writes = [s for s in log.statements if not s.startswith("SELECT")]
    assert writes == [], log
    assert len(rows()) == before + 1


def test_a_page_without_a_session_writes_nothing(app):
    before = len(rows())
    assert app.test_client().get("/healthz").status_code == 200
    assert len(rows()) == before


def test_last_seen_is_written_at_most_once_a_minute(app, make_user, clock):
    user = make_user(Role.PARTICIPANT)
    client = signed_in(app, user)
    client.get("/account")  # its forms put a new CSRF token in the session: written now
    (row,) = rows(user)
    first = row.last_seen_at
    clock[0] += 30
    client.get("/account")
    db.session.refresh(row)
    assert row.last_seen_at == first
    clock[0] += 31
    client.get("/account")
    db.session.refresh(row)
    assert (row.last_seen_at - first).total_seconds() == 61


def test_expired_records_are_purged(app, make_user, clock, runner, monkeypatch):
    monkeypatch.setattr(session_store, "PURGE_CHANCE", 0)  # purged below, not by chance
    user = make_user(Role.PARTICIPANT)
    old, fresh = app.test_client(), app.test_client()
    login(old, user)
    old.get("/login")
    clock[0] += 2 * 24 * 60 * 60
    login(fresh, user)
    db.session.commit()
    assert len(rows(user)) == 2
    assert session_store.purge_expired() >= 1
    db.session.commit()
    assert len(rows(user)) == 1
    result = runner.invoke(args=["sessions", "purge"])
    assert result.exit_code == 0 and "expired session(s) removed" in result.output


# --- the account page: where he is signed in -------------------------------------------------


def test_the_account_page_lists_his_sessions_and_signs_one_out(app, make_user):
    user = make_user(Role.PARTICIPANT)
    laptop, phone = app.test_client(), app.test_client()
    laptop.environ_base.update(HTTP_USER_AGENT=FIREFOX_WINDOWS, REMOTE_ADDR="198.51.100.7")
    phone.environ_base.update(HTTP_USER_AGENT=SAFARI_IPHONE, REMOTE_ADDR="203.0.113.9")
    login(laptop, user)
    login(phone, user)
    other = make_user(Role.PARTICIPANT)
    login(app.test_client(), other)  # someone else's session is not his to see

    page = text_of(laptop.get("/account"))
    assert "Firefox on Windows" in page and "Safari on iPhone" in page
    assert "198.51.100.7" in page and "203.0.113.9" in page
    assert "This device" in page
    assert page.count('name="session_id"') == 1  # a button for the phone; this one signs out

    (phone_row,) = [row for row in rows(user) if row.ip_address == "203.0.113.9"]
    (others_row,) = rows(other)
    # Another man's session id is refused like one that has already ended.
    response = post_form(laptop, "/account/sessions/end", {"session_id": str(others_row.id)})
    assert response.headers["Location"] == "/account"
    assert "That session has already ended." in text_of(laptop.get("/account"))
    assert rows(other)

    response = post_form(laptop, "/account/sessions/end", {"session_id": str(phone_row.id)})
    assert response.headers["Location"] == "/account"
    assert "Safari on iPhone is signed out." in text_of(laptop.get("/account"))
    assert signed_out(phone.get("/account"))
    assert laptop.get("/account").status_code == 200


def test_signing_out_all_other_sessions_keeps_this_one(app, make_user):
    user = make_user(Role.FACILITATOR)
    clients = [app.test_client() for _ in range(3)]
    for client in clients:
        login(client, user)
    response = post_form(clients[0], "/account/sessions/end-others", {}, page="/account")
    assert response.headers["Location"] == "/account"
    assert "Every other session is signed out." in text_of(clients[0].get("/account"))
    assert clients[0].get("/facilitator/").status_code == 200
    for client in clients[1:]:
        assert signed_out(client.get("/facilitator/"))
    assert len(rows(user)) == 1


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Mac",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-S911B) SamsungBrowser/24.0",
            "Samsung Internet on Android",
        ),
        ("curl/8.5.0", "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_devices_are_named_plainly(app, agent, device):
    with app.test_request_context():
        assert session_store.device_name(agent) == device


def test_a_control_character_in_the_user_agent_is_not_stored(client, make_user):
    """The record keeps the browser's name for the account page; PostgreSQL refuses a NUL in
    text, so a hostile User-Agent must not turn a sign-in into an error."""
    user = make_user()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0\x00\x07 (X11; Linux x86_64)"
    login(client, user)
    assert client.get("/me/").status_code == 200
    stored = db.session.scalars(
        sa.select(BrowserSession.user_agent).where(BrowserSession.user_id == user.id)
    ).all()
    assert stored == ["Mozilla/5.0 (X11; Linux x86_64)"]
