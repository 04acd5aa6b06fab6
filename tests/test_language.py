"""The language picker: a visitor's choice kept in a cookie, a signed-in person's on his account
(where it beats his browser), only same-site pages to return to, and the public pages, sign-in
and error pages in Spanish."""

from __future__ import annotations

import pytest

from intervention.extensions import db
from intervention.models import Role

from .conftest import csrf_token, login
from .helpers import signed_in, text_of


def pick(client, language: str, next_page: str = "/verify", token_page: str = "/verify"):
    """Send the footer's language form, as a browser would from `token_page`."""
    return client.post(
        "/language",
        data={
            "csrf_token": csrf_token(client, token_page),
            "language": language,
            "next": next_page,
        },
    )


def test_every_page_offers_the_languages_by_their_own_names(client):
    page = text_of(client.get("/verify"))
    assert '<label for="footer-language">Language</label>' in page
    assert '<option value="es" lang="es">Español</option>' in page
    assert '<option value="en" lang="en" selected>English</option>' in page
    assert '<input type="hidden" name="next" value="/verify">' in page


def test_a_visitor_who_picks_spanish_gets_the_next_page_in_spanish(client):
    response = pick(client, "es")
    assert response.status_code == 302
    assert response.headers["Location"] == "/verify"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=es;")
    assert "Max-Age=31536000" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie

    page = text_of(client.get("/verify", headers={"Accept-Language": "en"}))
    assert '<html lang="es">' in page
    assert "Verificar un certificado" in page
    assert "Su idioma quedó guardado." in page
    assert '<option value="es" lang="es" selected>Español</option>' in page

    pick(client, "en", token_page="/verify")
    assert '<html lang="en">' in text_of(client.get("/verify"))


def test_the_cookie_is_secure_where_the_session_cookie_is(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        response = pick(client, "es")
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_signed_in_choice_is_saved_on_the_account_and_beats_the_browser(app, client, make_user):
    user = make_user(Role.PARTICIPANT)
    db.session.commit()
    login(client, user)
    response = pick(client, "es", next_page="/account", token_page="/account")
    assert response.headers["Location"] == "/account"
    db.session.refresh(user)
    assert user.locale == "es"

    # Another device, a browser asking for English and no cookie: his account decides.
    other = signed_in(app, user)
    page = text_of(other.get("/account", headers={"Accept-Language": "en-US,en"}))
    assert '<html lang="es">' in page
    assert "<h1>Su cuenta</h1>" in page
    assert '<option lang="es" selected value="es">Español</option>' in page


def test_follow_my_browser_forgets_the_choice(client, make_user):
    user = make_user(Role.FACILITATOR)
    user.locale = "es"
    db.session.commit()
    login(client, user)
    response = pick(client, "", next_page="/account", token_page="/account")
    assert response.headers["Location"] == "/account"
    assert response.headers["Set-Cookie"].startswith("lang=;")  # the cookie is removed
    db.session.refresh(user)
    assert user.locale is None
    page = text_of(client.get("/account", headers={"Accept-Language": "en"}))
    assert '<html lang="en">' in page
    assert "Your language is saved." in page
    assert '<option selected value="">Follow my browser</option>' in page


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "evil", ""]
)
def test_a_foreign_next_page_is_refused(client, target):
    response = pick(client, "es", next_page=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_an_unknown_language_is_refused(client):
    response = pick(client, "xx")
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers or "lang=" not in response.headers["Set-Cookie"]
    assert '<html lang="en">' in text_of(client.get("/verify"))


def test_the_picker_needs_its_csrf_token(client):
    client.get("/verify")
    response = client.post("/language", data={"language": "es", "next": "/verify"})
    assert response.status_code == 400
    assert "Your form expired" in text_of(response)


def test_the_verify_result_does_not_repeat_its_code_for_the_picker(client):
    page = text_of(client.get("/verify/ABCD-EFGH-JKLM-NPQR"))
    assert "ABCD-EFGH-JKLM-NPQR" not in page
    assert '<input type="hidden" name="next" value="/verify">' in page


# --- pages in Spanish ------------------------------------------------------------------------


@pytest.fixture
def spanish(client):
    client.set_cookie("lang", "es")
    return client


def test_sign_in_in_spanish(spanish, make_user):
    page = text_of(spanish.get("/login"))
    assert '<html lang="es">' in page
    assert "<h1>Iniciar sesión</h1>" in page
    assert ">Correo electrónico</label>" in page
    assert ">Contraseña</label>" in page

    user = make_user(Role.PARTICIPANT)
    db.session.commit()
    response = spanish.post(
        "/login",
        data={
            "email": user.email,
            "password": "not it",
            "csrf_token": csrf_token(spanish, "/login"),
        },
    )
    assert "Ese correo electrónico y esa contraseña no corresponden a una cuenta activa." in (
        text_of(response)
    )


def test_a_missing_page_in_spanish(spanish):
    response = spanish.get("/no-such-page")
    assert response.status_code == 404
    page = text_of(response)
    assert "<h1>Página no encontrada</h1>" in page
    assert "No hay ninguna página en esta dirección, o no le corresponde verla." in page
    assert "Ir a su página de inicio" in page


def test_the_verify_pages_in_spanish(spanish):
    page = text_of(spanish.get("/verify"))
    assert "<h1>Verificar un certificado</h1>" in page
    assert ">Código de verificación</label>" in page

    response = spanish.get("/verify/0000-0000-0000-0000")
    assert response.status_code == 404
    page = text_of(response)
    assert "<h1>Ningún certificado tiene este código</h1>" in page
    assert "Verificar otro certificado" in page


def test_pages_tell_caches_they_depend_on_the_language(client):
    vary = client.get("/verify").headers["Vary"]
    assert "Accept-Language" in vary
    assert "Cookie" in vary
