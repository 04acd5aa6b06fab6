"""The admin's pages stay bounded when the program holds thousands of men and cohorts: the
overview shows the newest rows with counts, long lists are paged, the enrollment form finds a
participant by search instead of listing every account, and pages check the audit chain's
newest events (the CLI checks all of it)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import Role
from intervention.services import audit

from .conftest import login
from .helpers import text_of


def _director(client, make_user):
    admin = make_user(Role.ADMIN, email="director@example.org")
    db.session.commit()
    login(client, admin)
    return client


def test_new_enrollment_offers_only_the_participants_a_search_found(
    client, make_user, make_cohort, make_court
):
    make_cohort(start=date.today() + timedelta(days=7))
    make_court()
    carl = make_user(name="Carl Carter", email="carl@example.org")
    make_user(name="Dan Dunn", email="dan@example.org")
    director = _director(client, make_user)
    blank = text_of(director.get("/admin/enrollments/new"))
    assert "Carl Carter" not in blank and "Dan Dunn" not in blank
    found = text_of(director.get("/admin/enrollments/new?find=cart"))
    assert f'<option value="{carl.id}">Carl Carter (carl@example.org)</option>' in found
    assert "Dan Dunn" not in found
    assert "1 found" in found
    by_email = text_of(director.get("/admin/enrollments/new?find=DAN@EXAMPLE"))
    assert "Dan Dunn" in by_email and "Carl Carter" not in by_email
    linked = text_of(director.get(f"/admin/enrollments/new?participant={carl.id}"))
    assert f'<option selected value="{carl.id}">Carl Carter' in linked


def test_a_search_with_sql_wildcards_matches_them_literally(
    client, make_user, make_cohort, make_court
):
    make_cohort(start=date.today() + timedelta(days=7))
    make_court()
    make_user(name="Carl Carter", email="carl@example.org")
    director = _director(client, make_user)
    assert "Carl Carter" not in text_of(director.get("/admin/enrollments/new?find=%25"))
    assert "Carl Carter" not in text_of(director.get("/admin/enrollments/new?find=_"))


def test_cohort_list_is_paged_newest_first(client, make_user, make_cohort):
    cohorts = [make_cohort(start=date(2025, 1, 6) + timedelta(weeks=n)) for n in range(23)]
    director = _director(client, make_user)
    first = text_of(director.get("/admin/cohorts"))
    assert "Page 1 of 2" in first
    assert cohorts[-1].name in first and cohorts[0].name not in first
    second = text_of(director.get("/admin/cohorts?page=2"))
    assert cohorts[0].name in second and "Newer cohorts" in second


def test_overview_counts_instead_of_listing_everything(client, make_user, make_cohort):
    cohorts = [make_cohort(start=date(2025, 1, 6) + timedelta(weeks=n)) for n in range(12)]
    director = _director(client, make_user)
    page = text_of(director.get("/admin/"))
    assert cohorts[-1].name in page
    assert cohorts[0].name not in page and cohorts[1].name not in page
    total = db.session.scalar(sa.text("SELECT count(*) FROM cohorts"))
    assert f"All {total} cohorts" in page
    assert re.search(r"\d+ facilitator\(s\)", page)


def test_a_page_checks_the_newest_events_and_finds_a_break_among_them(make_user):
    actor = make_user(Role.ADMIN)
    events = [audit.record("test.event", actor, actor, n=n) for n in range(6)]
    ok, _broken, count = audit.verify_chain(last=3)
    assert ok and count == 3
    db.session.execute(
        sa.text("UPDATE audit_events SET action = 'test.quiet' WHERE id = :id"),
        {"id": events[-2].id},
    )
    db.session.expire_all()
    ok, broken, _count = audit.verify_chain(last=3)
    assert not ok and broken.id == events[-2].id
    # An edit older than the window is left to the full walk.
    db.session.execute(
        sa.text("UPDATE audit_events SET action = 'test.event' WHERE id = :id"),
        {"id": events[-2].id},
    )
    db.session.execute(
        sa.text("UPDATE audit_events SET action = 'test.quiet' WHERE id = :id"),
        {"id": events[0].id},
    )
    db.session.expire_all()
    assert audit.verify_chain(last=3).ok is True
    ok, broken, _count = audit.verify_chain()
    assert not ok and broken.id == events[0].id
