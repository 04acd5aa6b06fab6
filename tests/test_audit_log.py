"""The audit log for program directors: filters, pagination, the chain status, the CSV export
(formula-safe, escaped) and the audit of looking at the log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import AuditEvent, Role
from intervention.services import audit

from .conftest import login
from .helpers import events, forge_event, signed_in, text_of


@pytest.fixture
def director(client, make_user):
    admin = make_user(Role.ADMIN, email="director@test.example")
    login(client, admin)
    return admin


def _events(**filters) -> list[AuditEvent]:
    return db.session.scalars(audit.events_query(audit.LogFilter(**filters))).all()


def test_the_log_shows_newest_first_with_chain_status(client, director):
    audit.record("test.first", director, director, note="one")
    audit.record("test.second", director, director, note="two")
    db.session.commit()
    html = text_of(client.get("/admin/audit"))
    assert "Chain intact" in html
    assert html.index("<code>test.second</code>") < html.index("<code>test.first</code>")
    assert "director@test.example" in html


def test_details_are_escaped(client, director):
    audit.record("test.xss", director, None, reason="<script>alert(1)</script>")
    db.session.commit()
    html = text_of(client.get("/admin/audit?action=test.xss"))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_filters_by_action_actor_object_and_date(client, director, make_user):
    other = make_user(Role.FACILITATOR, email="other-staff@test.example")
    audit.record("test.alpha", director, director)
    audit.record("test.beta", other, other)
    db.session.commit()
    assert {e.action for e in _events(action="test.alpha")} == {"test.alpha"}
    assert {e.actor_id for e in _events(actor="OTHER-STAFF")} == {other.id}
    assert all(e.object_type == "user" for e in _events(object_type="user"))
    today = datetime.now(UTC).date()
    assert _events(since=today + timedelta(days=1)) == []
    assert {"test.alpha", "test.beta"} <= {e.action for e in _events(since=today, until=today)}
    assert _events(until=today - timedelta(days=1), action="test.alpha") == []
    html = text_of(client.get("/admin/audit?action=test.beta&actor=other-staff"))
    assert "<code>test.beta</code>" in html and "<code>test.alpha</code>" not in html
    # A wildcard in the search is taken literally.
    assert _events(actor="%") == []


def test_a_bad_date_range_is_refused_plainly(client, director):
    response = client.get("/admin/audit?since=2026-05-02&until=2026-05-01")
    assert response.status_code == 200
    assert "The end date is before the start date." in text_of(response)


def test_pages_hold_fifty_events(client, director):
    for n in range(120):
        audit.record("test.page", director, None, n=n)
    db.session.commit()

    def shown(n: int) -> str:
        return f"&#34;n&#34;: {n}\n"  # details are pretty JSON, HTML-escaped

    first = text_of(client.get("/admin/audit?action=test.page"))
    assert "Page 1 of 3" in first
    assert shown(119) in first and shown(70) in first and shown(69) not in first
    second = text_of(client.get("/admin/audit?action=test.page&page=2"))
    assert shown(69) in second and shown(20) in second and shown(119) not in second
    assert "page=3" in second and "action=test.page" in second


def test_a_broken_chain_is_named_at_the_top(client, director):
    event = audit.record("test.victim", director, None)
    db.session.commit()
    db.session.execute(
        sa.text("UPDATE audit_events SET action = 'test.edited' WHERE id = :id"), {"id": event.id}
    )
    db.session.commit()
    html = text_of(client.get("/admin/audit"))
    assert "Chain broken" in html
    assert f"First broken event: #{event.id}" in html


def test_viewing_and_exporting_are_audited(client, director):
    client.get("/admin/audit?action=auth.login")
    view = events("audit.view")[-1]
    assert view.actor_id == director.id
    assert view.details["filters"] == {"action": "auth.login"}
    response = client.get("/admin/audit.csv?actor=director")
    response.get_data()
    export = events("audit.export")[-1]
    # Whether an actor was searched for, never the words: they may be a participant's email.
    assert export.actor_id == director.id
    assert export.details == {"filters": {"actor_searched": True}}


def test_csv_export_is_filtered_complete_and_formula_safe(client, director):
    audit.record("test.csv", director, director, reason='=HYPERLINK("http://x")', n=1)
    audit.record("test.csv", director, director, reason='plain, "quoted"\nline', n=2)
    audit.record("test.other", director, director)
    db.session.commit()
    response = client.get("/admin/audit.csv?action=test.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["action"] for r in rows] == ["test.csv", "test.csv"]  # newest first, filtered
    assert rows[0]["actor_email"] == "director@test.example"
    assert '"n": 2' in rows[0]["details"] and "line" in rows[0]["details"]
    assert rows[0]["hash"] and rows[0]["at_utc"].endswith("+00:00")
    # The details cell starts with "{", so it is safe; a cell that starts with "=" is quoted.
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@"))


def test_csv_cells_that_look_like_formulas_are_quoted(director, make_user):
    evil = make_user(Role.FACILITATOR, email="=cmd@test.example")
    audit.record("=test.formula", evil, evil)
    lines = "".join(audit.csv_lines(audit.events_query(audit.LogFilter(action="=test.formula"))))
    row = next(csv.DictReader(io.StringIO(lines.lstrip("\ufeff"))))
    assert row["action"] == "'=test.formula"
    assert row["actor_email"] == "'=cmd@test.example"


def test_csv_streams_in_batches(director):
    for n in range(7):
        audit.record("test.batch", director, None, n=n)
    chunks = list(audit.csv_lines(audit.events_query(audit.LogFilter(action="test.batch")), 3))
    assert len(chunks) == 1 + 3  # header, then batches of 3, 3 and 1
    rows = list(csv.reader(io.StringIO("".join(chunks).lstrip("\ufeff"))))
    assert len(rows) == 8


def test_non_admins_cannot_see_the_log(app, client, make_user, make_court):
    for role in (Role.PARTICIPANT, Role.FACILITATOR, Role.CLERK):
        user = make_user(role, court=make_court() if role is Role.CLERK else None)
        db.session.commit()
        browser = signed_in(app, user)
        assert browser.get("/admin/audit").status_code == 403
        assert browser.get("/admin/audit.csv").status_code == 403
    assert client.get("/admin/audit").status_code in (302, 401)


def test_a_row_inserted_in_the_middle_is_found(director):
    """The forger renumbers the later events to make room, then splices in an event hashed
    onto its predecessor: the event after it no longer links to it."""
    chain = [audit.record("test.chain", director, None, n=n) for n in range(5)]
    spot = chain[2].id
    for event in reversed(chain[2:]):
        db.session.execute(
            sa.text("UPDATE audit_events SET id = :new WHERE id = :old"),
            {"new": event.id + 1, "old": event.id},
        )
    forge_event(spot, chain[1].hash)
    ok, broken, _ = audit.verify_chain()
    assert not ok
    assert broken.id == spot + 1  # the genuine event that followed event 1
    assert broken.action == "test.chain" and broken.details == {"n": 2}


@pytest.mark.parametrize(
    "query",
    [
        "since=99999-99-99",
        "until=x&since=y",
        "page=-5",
        "page=99999999999999999999",
        "page=9223372036854775807",
        "tz=Mars/Base",
        "actor=" + "a" * 600,
        "object_type=<x>",
    ],
)
def test_odd_filters_never_break_the_page(client, director, query):
    assert client.get("/admin/audit?" + query).status_code == 200
    response = client.get("/admin/audit.csv?" + query)
    response.get_data()
    assert response.status_code == 200


def test_a_control_character_in_a_filter_is_refused_with_a_message(client, director):
    # Issue 13: a control character in any query argument is refused before the page runs.
    for url in ["/admin/audit?action=%00", "/admin/audit.csv?actor=a%00b"]:
        response = client.get(url)
        assert response.status_code == 400
        assert "This address contains a control character" in response.get_data(as_text=True)


# --- the helpers behind the page, exactly ---------------------------------------------------------


def test_a_csv_row_holds_every_column_of_the_event(director, make_user):
    actor = make_user(Role.FACILITATOR, email="fran@test.example")
    event = audit.record("test.row", actor, actor, reason="Zoë said so", count=2)
    lines = "".join(audit.csv_lines(audit.events_query(audit.LogFilter(action="test.row"))))
    assert lines.startswith("\ufeff") and lines.endswith("\r\n")
    [header, row] = list(csv.reader(io.StringIO(lines.lstrip("\ufeff"))))
    assert tuple(header) == audit.CSV_COLUMNS
    assert row == [
        str(event.id),
        event.at.astimezone(UTC).isoformat(timespec="seconds"),
        "fran@test.example",
        "test.row",
        "user",
        str(actor.id),
        event.ip_address or "",
        '{"count": 2, "reason": "Zoë said so"}',
        event.hash,
    ]


def test_a_system_event_without_actor_or_object_has_empty_cells(director):
    audit.record("test.system", None, None, on="2026-03-01")
    lines = "".join(audit.csv_lines(audit.events_query(audit.LogFilter(action="test.system"))))
    [_header, row] = list(csv.reader(io.StringIO(lines.lstrip("\ufeff"))))
    assert (row[2], row[4], row[5]) == ("", "", "")
    assert row[7] == '{"on": "2026-03-01"}'


def test_the_details_are_shown_sorted_and_indented(director):
    event = audit.record("test.details", director, None, zeta="Zoë", alpha=1)
    assert audit.details_json(event) == '{\n  "alpha": 1,\n  "zeta": "Zoë"\n}'


def test_a_filter_travels_to_the_pager_and_export_links_whole():
    wanted = audit.LogFilter(
        action="certificate.revoke",
        actor="dana",
        object_type="certificate",
        since=datetime(2026, 3, 1).date(),
        until=datetime(2026, 3, 31).date(),
    )
    assert wanted.as_args() == {
        "action": "certificate.revoke",
        "actor": "dana",
        "object_type": "certificate",
        "since": "2026-03-01",
        "until": "2026-03-31",
    }
    assert audit.LogFilter().as_args() == {}  # no empty arguments in the links
    assert audit.LogFilter(until=datetime(2026, 3, 31).date()).as_args() == {"until": "2026-03-31"}


def test_an_actor_search_takes_underscores_and_percents_literally(director, make_user):
    literal = make_user(Role.FACILITATOR, email="a_b%c\\d@test.example")
    lookalike = make_user(Role.FACILITATOR, email="axbyczd@test.example")
    for user in (literal, lookalike):
        audit.record("test.search", user, user)
    for needle in ("a_b", "b%c", "c\\d", "A_B%C\\D"):
        found = {e.actor_id for e in _events(action="test.search", actor=needle)}
        assert found == {literal.id}, needle


def test_the_object_types_offered_are_the_logged_ones_sorted(director):
    audit.record("test.kinds", director, None)  # no object: not a type to filter by
    audit.record("test.kinds", director, director)
    kinds = audit.object_types()
    assert kinds == sorted(set(kinds)) and "user" in kinds and "" not in kinds


def test_the_log_names_each_kind_of_record_as_it_always_has(make_cohort, make_user):
    """The code calls a cohort's session a Meeting; the log's word for it stays "session",
    so events before and after the rename are found together."""
    cohort = make_cohort()
    admin = make_user(Role.ADMIN)
    assert audit.record("session.check", admin, cohort.sessions[0]).object_type == "session"
    assert audit.record("cohort.check", admin, cohort).object_type == "cohort"
    assert audit.record("system.check", None).object_type == ""
