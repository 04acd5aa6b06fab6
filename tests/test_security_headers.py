"""Every response carries the browser protections: a strict CSP, no framing, no sniffing."""

from __future__ import annotations

import pytest

from intervention.extensions import db
from intervention.models import Role
from intervention.security import CONTENT_SECURITY_POLICY

from .helpers import signed_in

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def assert_protected(response, *, signed_in: bool) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in headers  # plain HTTP here
    if signed_in:
        assert "no-store" in headers["Cache-Control"]


def test_the_policy_is_the_one_documented():
    assert CONTENT_SECURITY_POLICY == CSP


@pytest.mark.parametrize("url", ["/", "/login", "/verify", "/healthz"])
def test_public_pages_and_json(client, url):
    response = client.get(url)
    assert response.status_code in (200, 302)
    assert_protected(response, signed_in=False)
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_a_missing_page_is_protected_too(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert_protected(response, signed_in=False)


def test_signed_in_pages_json_and_downloads(app, make_enrollment, make_user):
    enrollment = make_enrollment()
    clerk = make_user(Role.CLERK, court=enrollment.court)
    facilitator = enrollment.cohort.facilitators[0]
    db.session.commit()

    client = signed_in(app, enrollment.participant)
    page = client.get("/me/")
    assert page.status_code == 200
    assert_protected(page, signed_in=True)
    assert page.headers["Cache-Control"] == "no-store"

    client = signed_in(app, clerk)
    api = client.get(f"/court/api/cases/{enrollment.case_number}")
    assert api.status_code == 200 and api.mimetype == "application/json"
    assert_protected(api, signed_in=True)
    download = client.get("/court/cases.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert_protected(download, signed_in=True)

    client = signed_in(app, facilitator)
    roster = client.get(f"/facilitator/cohorts/{enrollment.cohort.id}/attendance.csv")
    assert roster.status_code == 200
    assert_protected(roster, signed_in=True)


def test_the_verification_page_keeps_its_stricter_referrer_policy(client):
    response = client.get("/verify/NOSUCHCODE")
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://example.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_behind_a_proxy_forwarded_https_counts_when_hops_are_set(app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    # The session app has no proxy configured: a forged header must not turn on HSTS.
    forged = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers
    assert not isinstance(app.wsgi_app, ProxyFix)


def test_proxy_hops_setting_installs_proxy_fix(monkeypatch, tmp_path):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from intervention import create_app

    monkeypatch.setenv("INTERVENTION_PROXY_HOPS", "1")
    monkeypatch.setenv("INTERVENTION_INSTANCE", str(tmp_path))
    proxied = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "SECRET_KEY": "x",
        }
    )
    assert isinstance(proxied.wsgi_app, ProxyFix)
    response = proxied.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
