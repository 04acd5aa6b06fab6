"""Demo data, the health check, error pages and the sign-in page's demo accounts."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from intervention.demo import DEMO_PASSWORD, DemoRefused, seed
from intervention.extensions import db
from intervention.models import Certificate, CertificateStatus, Court, Role, User
from intervention.services import completion

from .helpers import signed_in, text_of

DEMO_ACCOUNTS = {
    "admin@demo.test": Role.ADMIN,
    "facilitator@demo.test": Role.FACILITATOR,
    "clerk@demo.test": Role.CLERK,
    "participant@demo.test": Role.PARTICIPANT,
    "participant2@demo.test": Role.PARTICIPANT,
}


def demo_user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


# --- seed-demo ----------------------------------------------------------------------------------


def test_seed_demo_refuses_a_database_that_has_accounts(runner, make_user):
    make_user(Role.ADMIN)
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "Refused: the database already has accounts or courts" in result.output
    assert "Traceback" not in result.output
    assert demo_user("admin@demo.test") is None


def test_seed_demo_if_empty_leaves_a_database_with_courts_alone(runner, make_court):
    make_court()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert "Demo data not added: the database already has accounts or courts" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Court.id))) == 1


@pytest.fixture
def demo():
    """The demo data, added inside this test's transaction (the test database starts with
    curricula only)."""
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    summary = seed()
    db.session.commit()
    return summary


def test_seed_adds_the_demo_accounts_of_the_design(demo):
    assert "Sign in as participant@demo.test" in demo
    for email, role in DEMO_ACCOUNTS.items():
        user = demo_user(email)
        assert user is not None, email
        assert user.role is role
        assert user.check_password(DEMO_PASSWORD)
    assert demo_user("clerk@demo.test").court.name == "King County District Court"
    with pytest.raises(DemoRefused):
        seed()  # never twice


def test_demo_has_a_valid_certificate_for_the_finished_man(client, demo):
    done = demo_user("participant2@demo.test")
    [cert] = db.session.scalars(sa.select(Certificate)).all()
    assert cert.enrollment.participant is done
    assert cert.status is CertificateStatus.VALID
    assert cert.sha256 == hashlib.sha256(cert.pdf).hexdigest()
    result = completion.evaluate(cert.enrollment)
    assert result.complete
    # He finished in the summer (his last answer was reviewed days after the last session),
    # and the certificate says so, not the day the demo was seeded.
    last_session = cert.enrollment.cohort.sessions[-1].scheduled_at.date()
    assert last_session < cert.completed_on <= last_session + timedelta(days=4)
    assert cert.completed_on == result.completed_on
    assert cert.completed_on < cert.issued_at.date()

    page = text_of(client.get(f"/verify/{cert.verification_code}"))
    assert "This certificate is valid" in page
    assert "Robert Nguyen" in page


def test_demo_accounts_sign_in_and_see_a_course_partway_through(app, demo):
    facilitator = signed_in(app, demo_user("facilitator@demo.test"), password=DEMO_PASSWORD)
    queue = text_of(facilitator.get("/facilitator/reviews"))
    assert "1 waiting" in queue
    assert "James Carter" in queue
    cohorts = text_of(facilitator.get("/facilitator/"))
    assert "Summer 2026, Tuesday evening" in cohorts and "Fall 2026, Thursday evening" in cohorts

    participant = signed_in(app, demo_user("participant@demo.test"), password=DEMO_PASSWORD)
    home = text_of(participant.get("/me/"))
    assert "KC-26-118204" in home
    assert "Waiting for review" in home

    clerk = signed_in(app, demo_user("clerk@demo.test"), password=DEMO_PASSWORD)
    cases = text_of(clerk.get("/court/"))
    assert "KC-26-104417" in cases and "KC-26-118204" in cases
    assert "SMC-26-55812" not in cases  # the municipal court's case is not his


# --- pages every visitor can reach ----------------------------------------------------------------


def test_healthz_reports_the_app_and_database_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_database_that_is_down(client, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "OperationalError"}


def _uses_the_layout(html: str) -> None:
    assert re.search(r'<link rel="stylesheet" href="/static/css/app\.css', html)
    assert 'href="/verify"' in html  # the footer link every page carries
    assert "</html>" in html


def test_an_unknown_address_shows_the_404_page_in_the_layout(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = text_of(response)
    assert "Page not found" in html
    assert "There is no page at this address, or it is not yours to see." in html
    _uses_the_layout(html)


def test_a_wrong_method_shows_the_405_page_in_the_layout(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "This page cannot be used that way." in text_of(response)
    _uses_the_layout(text_of(response))


def test_the_stylesheet_is_served(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"


def test_front_page_offers_sign_in_and_verification(client):
    html = text_of(client.get("/"))
    assert 'href="/login"' in html
    assert 'href="/verify"' in html


def test_login_lists_demo_accounts_only_in_demo_mode(app, client, monkeypatch):
    assert app.config["DEMO_MODE"] is False
    page = text_of(client.get("/login"))
    assert "Demo accounts" not in page
    assert "demo.test" not in page
    assert DEMO_PASSWORD not in page

    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    page = text_of(client.get("/login"))
    assert "Demo accounts" in page
    assert DEMO_PASSWORD in page
    for email in DEMO_ACCOUNTS:
        assert f"<code>{email}</code>" in page


def test_demo_documents_come_from_a_realistic_provider_about_identified_men(demo):
    from io import BytesIO

    from pypdf import PdfReader

    from intervention.models import Enrollment, Provider

    provider = db.session.scalar(sa.select(Provider))
    assert provider.legal_name and provider.license_number and provider.director_name
    assert provider.logo_type == "image/svg+xml"
    cases = db.session.scalars(sa.select(Enrollment)).all()
    assert all(e.date_of_birth and e.court_person_number for e in cases)
    [cert] = db.session.scalars(sa.select(Certificate)).all()
    pages = PdfReader(BytesIO(cert.pdf)).pages
    text = " ".join(pages[0].extract_text().split())
    assert provider.legal_name in text and "Date of birth" in text and "Copies to:" in text
    # The letterhead does not push a ten-session certificate onto a second page.
    assert len(pages) == 1
