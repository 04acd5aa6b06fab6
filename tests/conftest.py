"""Fixtures: the app on a migrated database, a transaction rolled back after each test,
builders for the domain, the program's staff (admin, facilitator, the director's client), a
certificate issued, and switches a test turns on (rate limits, the session clock). Plain
helpers the test files share are in helpers.py."""

from __future__ import annotations

import functools
import os
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade
from sqlalchemy.orm import sessionmaker

from intervention import create_app
from intervention.auth import views as auth_views
from intervention.extensions import db, limiter
from intervention.models import (
    Cohort,
    Court,
    CurriculumVersion,
    Enrollment,
    EnrollmentState,
    Meeting,
    Program,
    ReferralType,
    Role,
    User,
)
from intervention.services import enrollments as enrollment_service

ROOT = Path(__file__).resolve().parent.parent
# A small, frozen copy of a program, so tests do not move when the shipped course is edited.
FIXTURE_CURRICULA = ROOT / "tests" / "fixtures" / "curricula"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    os.environ.setdefault("INTERVENTION_INSTANCE", str(instance))
    url = os.environ.get("INTERVENTION_DATABASE_URL") or f"sqlite:///{instance / 'test.sqlite3'}"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "test-secret",
            "DEMO_MODE": False,
            "PUBLIC_BASE_URL": "https://intervention.example",
            "CURRICULA_PATH": str(FIXTURE_CURRICULA),
        }
    )
    _fresh_globals_per_request(app)
    with app.app_context():
        _reset_schema()
        upgrade()  # the real migrations, on SQLite and PostgreSQL alike
        from intervention.curriculum.sync import sync_curricula

        sync_curricula(FIXTURE_CURRICULA)
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        _reset_schema()
        db.engine.dispose()


def _fresh_globals_per_request(app) -> None:
    """Each test holds one app context for its whole run, so requests share `g`; a browser's
    requests never do. Without this, the signed-in user and CSRF token cached in `g` by one
    client's request would leak into the next request of another client."""

    def clear_globals():
        g.__dict__.clear()

    app.before_request_funcs.setdefault(None, []).insert(0, clear_globals)


def _reset_schema() -> None:
    db.metadata.drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(autouse=True)
def _db(app):
    """Each test runs inside one outer transaction that is rolled back afterwards;
    the app's own commits become savepoints within it."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = sa.orm.scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=original.registry.scopefunc,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _audit_checkpoints(app, _db, tmp_path_factory):
    """Checkpoints live in files, which the rollback after a test does not undo: each test
    gets its own folder, holding one checkpoint of the log as the test finds it."""
    from intervention.services import audit

    app.config["AUDIT_CHECKPOINTS"] = str(tmp_path_factory.mktemp("audit-checkpoints"))
    audit.checkpoint()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- builders ---------------------------------------------------------------------------


@pytest.fixture
def curricula_copy(tmp_path) -> Path:
    """A copy of the fixture curricula to edit: the program keeps its folder name, so syncing
    the copy stores versions of the same Program the cohorts are on."""
    import shutil

    root = tmp_path / "curricula"
    shutil.copytree(FIXTURE_CURRICULA, root)
    return root


@pytest.fixture
def program():
    return db.session.scalar(sa.select(Program).where(Program.slug == "accountability-and-change"))


@functools.cache
def _password_hash() -> str:
    """One real scrypt hash of PASSWORD for every test user: each hash takes ~0.1 s."""
    user = User()
    user.set_password(PASSWORD)
    return user.password_hash


@pytest.fixture
def make_user():
    counter = iter(range(1, 10_000))

    def make(
        role: Role = Role.PARTICIPANT,
        *,
        court: Court | None = None,
        name: str | None = None,
        email: str | None = None,
        second_factor: bool = True,
    ) -> User:
        """A user with PASSWORD; staff come with an authenticator app set up (every staff
        account needs a second factor) unless second_factor=False."""
        n = next(counter)
        user = User(
            email=email or f"{role.value}{n}@test.example",
            full_name=name or f"{role.value.capitalize()} {n}",
            role=role,
            court=court,
        )
        user.password_hash = _password_hash()
        if role.is_staff and second_factor:
            user.totp_secret, user.totp_enabled = pyotp.random_base32(), True
        db.session.add(user)
        db.session.flush()
        return user

    return make


@pytest.fixture
def make_court():
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, timezone: str = "America/Los_Angeles") -> Court:
        court = Court(
            name=name or f"Test Court {next(counter)}",
            jurisdiction="Test County",
            timezone=timezone,
        )
        db.session.add(court)
        db.session.flush()
        return court

    return make


@pytest.fixture
def make_cohort(program, make_user):
    def make(
        *,
        facilitator: User | None = None,
        start: date | None = None,
        timezone: str = "America/Los_Angeles",
        version: CurriculumVersion | None = None,
    ) -> Cohort:
        """A cohort with one weekly session per module of `version` (default: the test
        program's latest), starting `start` (default: held sessions all in the past, 8 weeks
        ago)."""
        from zoneinfo import ZoneInfo

        version = version or program.latest_version
        start = start or (datetime.now(UTC).date() - timedelta(weeks=8))
        cohort = Cohort(
            name=f"Cohort starting {start}",
            version=version,
            start_date=start,
            weekday=start.weekday(),
            start_time=time(18, 30),
            timezone=timezone,
            location="Room 1",
            facilitators=[facilitator or make_user(Role.FACILITATOR)],
        )
        db.session.add(cohort)
        for i, module in enumerate(version.modules):
            local = datetime.combine(
                start + timedelta(weeks=i), time(18, 30), tzinfo=ZoneInfo(timezone)
            )
            db.session.add(
                Meeting(cohort=cohort, module=module, scheduled_at=local.astimezone(UTC))
            )
        db.session.flush()
        return cohort

    return make


@pytest.fixture
def make_enrollment(make_user, make_court, make_cohort):
    counter = iter(range(1, 10_000))

    def make(
        *,
        participant: User | None = None,
        cohort: Cohort | None = None,
        court: Court | None = None,
        case_number: str | None = None,
        starts_on: date | None = None,
        overrides: dict | None = None,
    ) -> Enrollment:
        cohort = cohort or make_cohort()
        admin = make_user(Role.ADMIN)
        enrollment = Enrollment(
            participant=participant or make_user(Role.PARTICIPANT),
            cohort=cohort,
            court=court or make_court(),
            case_number=case_number or f"TC-26-{next(counter):05d}",
            referral_type=ReferralType.PRE_FILING,
            referral_date=cohort.start_date - timedelta(days=10),
            completion_deadline=None,
            starts_on=starts_on or cohort.start_date,
            overrides=overrides or {},
        )
        db.session.add(enrollment)
        db.session.flush()
        enrollment_service.transition(enrollment, EnrollmentState.ACTIVE, admin, "Intake done.")
        return enrollment

    return make


# --- the program's staff -----------------------------------------------------------------


@pytest.fixture
def admin(make_user):
    """The program director, Dana Director: an admin account."""
    return make_user(Role.ADMIN, name="Dana Director")


@pytest.fixture
def facilitator(make_user):
    return make_user(Role.FACILITATOR, name="Frank Facilitator")


@pytest.fixture
def director(app, admin):
    """A client of its own signed in as the director (`admin`), her account committed first."""
    from .helpers import signed_in

    db.session.commit()
    return signed_in(app, admin)


@pytest.fixture
def issued(admin, make_court, make_enrollment, make_user):
    """A real certificate, rendered, signed, stored and recorded by the service, for a completed
    case: Daniel Carter's, KC-26-104417, from Kings County District Court. The program has its
    director (`admin`), who attests it."""
    from intervention.services import certificates as certificate_service

    from .helpers import complete_case

    enrollment = make_enrollment(
        court=make_court("Kings County District Court"),
        case_number="KC-26-104417",
        participant=make_user(name="Daniel Carter"),
    )
    cert = certificate_service.issue(enrollment, complete_case(enrollment))
    db.session.commit()
    return cert


# --- signing in, with CSRF on -------------------------------------------------------------

CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token(client, url: str) -> str:
    """Fetch a page as a person would and read the CSRF token from its form."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client, user: User, password: str = PASSWORD):
    """Sign in as a person would: the password, then for staff a code from their app."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    if response.headers["Location"] == "/login/code":
        response = send_code(client, user)
        assert response.status_code == 302, response.get_data(as_text=True)
    return response


def send_code(client, user: User, code: str | None = None):
    """The code step with the current code of his app. A code signs in once (about 90 s),
    and tests sign the same account in many times: the mark of its use is forgotten first."""
    code = code or pyotp.TOTP(user.totp_secret).now()
    limiter.storage.clear(auth_views._used_code_key(user, code))
    token = csrf_token(client, "/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": token})


@pytest.fixture
def clock(monkeypatch):
    """The session store's clock, stopped: a test moves it on by adding seconds to clock[0]."""
    from intervention.auth import sessions as session_store

    now = [1_900_000_000.0]
    monkeypatch.setattr(session_store, "_clock", lambda: now[0])
    return now


@pytest.fixture
def rate_limits(app, monkeypatch):
    """Rate limits on for one test (the test config turns them off), their counts cleared
    before and after."""
    monkeypatch.setitem(app.config, "RATE_LIMITS", True)
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def login_as(client):
    def sign_in(user: User):
        login(client, user)
        return client

    return sign_in
