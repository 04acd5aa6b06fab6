"""Attendance as CSV: the cohort export, a man's record, formula-safe cells, and the import of a
paper roster, checked line by line and applied all or nothing, including the round trip."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from intervention import csv_safety
from intervention.extensions import db
from intervention.models import AttendanceStatus, AuditEvent, EnrollmentState, Role
from intervention.services import attendance as attendance_service
from intervention.services import enrollments, rosters
from intervention.services.rosters import RosterImportError

from .helpers import answer, events, mark, post_form, prompts_by_key, signed_in, text_of

S = AttendanceStatus
NO_GAP_RULE = {"max_gap_days": None}
HEADER = "case_number,status,minutes,note,reason"


def parse(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def cohort_of_three(make_cohort, make_enrollment, make_user):
    cohort = make_cohort()
    men = [
        make_enrollment(
            cohort=cohort,
            participant=make_user(name=name),
            case_number=case,
            overrides=NO_GAP_RULE,
        )
        for name, case in [
            ("Adam Alder", "KC-26-000001"),
            ("Ben Birch", "KC-26-000002"),
            ("Carl Cedar", "KC-26-000003"),
        ]
    ]
    db.session.commit()
    return cohort, men


def upload(session, text: str, actor):
    return rosters.import_roster(session, text.encode("utf-8"), actor)


def errors_of(session, text: str, actor) -> list[str]:
    with pytest.raises(RosterImportError) as refused:
        upload(session, text, actor)
    return refused.value.errors


# --- exports ----------------------------------------------------------------------------------


def test_the_cohort_export_has_one_row_per_man_and_session(app, cohort_of_three):
    cohort, (adam, ben, _carl) = cohort_of_three
    mark(adam, 1, S.PRESENT, note="On time")
    mark(ben, 1, S.LATE, 95)
    mark(ben, 1, S.PRESENT, 120, reason="Clock was wrong.")
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    response = client.get(f"/facilitator/cohorts/{cohort.id}/attendance.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="attendance-cohort-starting-')
    assert disposition.endswith('.csv"')
    rows = parse(response.get_data(as_text=True))
    assert rows[0] == [
        "case_number",
        "participant",
        "session_number",
        "date",
        "status",
        "minutes",
        "note",
        "recorded_by",
        "recorded_at",
    ]
    assert len(rows) == 1 + 3 * 3
    day1 = cohort.sessions[0].local_date.isoformat()
    first = rows[1]
    assert first[:8] == [
        "KC-26-000001",
        "Adam Alder",
        "1",
        day1,
        "present",
        "120",
        "On time",
        cohort.facilitators[0].full_name,
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[78]:00", first[8])  # local time
    assert rows[4][:6] == ["KC-26-000002", "Ben Birch", "1", day1, "present", "120"]
    assert rows[2][4:] == ["", "", "", "", ""]  # session 2: not marked
    assert len(events("attendance.export")) == 1


def test_cells_that_a_spreadsheet_would_run_are_quoted(app, cohort_of_three, make_user):
    cohort, (adam, ben, carl) = cohort_of_three
    adam.participant.full_name = '=HYPERLINK("http://evil.example")'
    mark(adam, 1, S.PRESENT, note="+1 555 0100")
    mark(ben, 1, S.PRESENT, note="-minus")
    mark(carl, 1, S.PRESENT, note="@SUM(A1)")
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    rows = parse(client.get(f"/facilitator/cohorts/{cohort.id}/attendance.csv").get_data(True))
    cells = [cell for row in rows for cell in row]
    assert '\'=HYPERLINK("http://evil.example")' in cells
    assert {"'+1 555 0100", "'-minus", "'@SUM(A1)"} <= set(cells)
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert csv_safety.safe_cell("\tTAB") == "'\tTAB"
    assert csv_safety.safe_cell(120) == "120"


# Full-width forms of = + - @: a spreadsheet that folds character width reads them as the
# ASCII ones and runs the cell as a formula.
FULL_WIDTH = ("\uff1d", "\uff0b", "\uff0d", "\uff20")


@pytest.mark.parametrize("start", FULL_WIDTH)
def test_full_width_formula_characters_are_quoted_like_the_ascii_ones(start):
    cell = start + 'HYPERLINK("http://evil.example")'
    assert csv_safety.safe_cell(cell) == "'" + cell
    assert csv_safety.unquote("'" + cell) == cell  # an exported note comes back unchanged


def test_every_csv_export_quotes_full_width_formulas(app, cohort_of_three, make_user, make_court):
    """The facilitator's cohort and session CSVs, the clerk's cases CSV and the audit CSV."""
    from intervention.services import audit

    cohort, (adam, ben, _carl) = cohort_of_three
    adam.participant.full_name = '\uff1dHYPERLINK("http://evil.example")'
    adam.case_number = "\uff0b1 555 0100"
    mark(adam, 1, S.PRESENT, note="\uff20SUM(A1)")
    mark(ben, 1, S.PRESENT, note="\uff0dminus")
    clerk = make_user(Role.CLERK, court=adam.court)
    admin = make_user(Role.ADMIN)
    audit.record("\uff1dtest.formula", admin, admin)
    db.session.commit()

    facilitator = signed_in(app, cohort.facilitators[0])
    exports = [
        facilitator.get(f"/facilitator/cohorts/{cohort.id}/attendance.csv"),
        facilitator.get(f"/facilitator/sessions/{cohort.sessions[0].id}/roster.csv"),
        facilitator.get(f"/facilitator/enrollments/{adam.id}/record.csv"),
        signed_in(app, clerk).get("/court/cases.csv"),
        signed_in(app, admin).get("/admin/audit.csv"),
    ]
    cells = set()
    for response in exports:
        assert response.status_code == 200
        cells |= {cell for row in parse(response.get_data(as_text=True)) for cell in row}
    assert not [c for c in cells if c.startswith(FULL_WIDTH)]
    quoted = {"'" + adam.participant.full_name, "'" + adam.case_number, "'\uff20SUM(A1)"}
    assert quoted | {"'\uff0dminus", "'\uff1dtest.formula"} <= cells


def test_his_record_has_attendance_history_and_summary_but_no_reflection_words(
    app, make_cohort, make_enrollment
):
    enrollment = make_enrollment(case_number="KC-26-777777", overrides=NO_GAP_RULE)
    other = make_cohort(facilitator=enrollment.cohort.facilitators[0])  # he may record it
    mark(enrollment, 1, S.PRESENT)
    mark(enrollment, 2, S.ABSENT)
    mark(enrollment, 3, S.LATE, 90)
    mark(enrollment, 3, S.PRESENT, 120, reason="Signed in on time after all.")
    attendance_service.record_makeup(other.sessions[1], enrollment, other.facilitators[0], 100)
    from intervention.services import reflections

    prompt = prompts_by_key(enrollment)["what-happened"]
    reflection = reflections.reflection_for(enrollment, prompt)
    reflections.submit(reflection, answer("Qqprivatewords", 80), 0, enrollment.participant)
    db.session.commit()

    client = signed_in(app, enrollment.cohort.facilitators[0])
    response = client.get(f"/facilitator/enrollments/{enrollment.id}/record.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="record-kc-26-777777.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert "Qqprivatewords" not in text and "I thought about my choices" not in text
    rows = parse(text)
    summary = {row[0]: row[1] for row in rows[2 : rows.index([])] if len(row) == 2}
    assert summary["case_number"] == "KC-26-777777"
    assert summary["sessions_credited"] == "3"
    assert summary["hours_credited"] == "5.7"
    assert summary["absences"] == "1"
    assert summary["reflections_accepted"] == "0"
    assert summary["complete"] == "no"
    attendance = rows[rows.index(["Attendance"]) + 2 : rows.index(["History"]) - 1]
    assert [r[2] for r in attendance] == ["present", "made_up", "present"]
    assert attendance[1][9].startswith(other.name)
    history = rows[rows.index(["History"]) + 2 :]
    assert [(h[0], h[5], h[7], h[9]) for h in history] == [
        ("1", "", "present", ""),
        ("2", "", "absent", ""),
        ("2", "absent", "made_up", history[2][9]),
        ("2", "", "present", f"Make-up for session 2 of {enrollment.cohort.name}"),
        ("3", "", "late", ""),
        ("3", "late", "present", "Signed in on time after all."),
    ]
    assert history[2][9].startswith(f"Made up at {other.name} on ")
    assert history[3][1] == other.name


# --- import -----------------------------------------------------------------------------------


def test_round_trip_export_edit_import(app, cohort_of_three):
    cohort, (adam, ben, carl) = cohort_of_three
    session = cohort.sessions[0]
    mark(adam, 1, S.ABSENT)
    db.session.commit()
    client = signed_in(app, cohort.facilitators[0])
    roster_csv = f"/facilitator/sessions/{session.id}/roster.csv"
    response = client.get(roster_csv)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "session-1" in response.headers["Content-Disposition"]
    rows = parse(response.get_data(as_text=True))
    assert rows[0] == ["case_number", "participant", "status", "minutes", "note", "reason"]
    assert rows[1] == ["KC-26-000001", "Adam Alder", "absent", "0", "", ""]
    assert rows[2] == ["KC-26-000002", "Ben Birch", "", "", "", ""]

    # The paper roster says: Adam came after all, Ben was late, Carl left early.
    rows[1][2:] = ["present", "", "Signed the sheet", "Paper roster found."]
    rows[2][2:4] = ["late", "100"]
    rows[3][2:5] = ["left early", "60", "=cmd|' /C calc'!A0"]
    edited = io.StringIO()
    csv.writer(edited).writerows(rows)
    page_url = f"/facilitator/sessions/{session.id}/import"
    response = post_form(
        client,
        page_url,
        {"file": (io.BytesIO(("\ufeff" + edited.getvalue()).encode()), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, text_of(response)
    assert "Roster imported for session 1: 3 row(s), 3 change(s)." in text_of(
        client.get(response.headers["Location"])
    )
    db.session.expire_all()
    got = {
        e.case_number: (e.attendance[0].status, e.attendance[0].minutes_credited)
        for e in (adam, ben, carl)
    }
    assert got == {
        "KC-26-000001": (S.PRESENT, 120),
        "KC-26-000002": (S.LATE, 100),
        "KC-26-000003": (S.LEFT_EARLY, 60),
    }
    assert adam.attendance[0].history[-1].reason == "Paper roster found."
    assert carl.attendance[0].note == "=cmd|' /C calc'!A0"  # stored as written, quoted on export
    again = parse(client.get(roster_csv).get_data(as_text=True))
    assert again[3][4] == "'=cmd|' /C calc'!A0"
    # Importing what was exported changes nothing (the quote is taken off again).
    result = upload(
        session,
        "\n".join(",".join(f'"{c}"' for c in r) for r in again),
        adam.cohort.facilitators[0],
    )
    assert (result.rows, result.changed) == (3, 0)
    db.session.expire_all()
    assert carl.attendance[0].note == "=cmd|' /C calc'!A0"
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("attendance.import") == 2


def test_every_bad_line_is_reported_by_number_and_nothing_is_applied(
    cohort_of_three, make_enrollment
):
    cohort, (adam, ben, carl) = cohort_of_three
    session = cohort.sessions[0]
    outsider = make_enrollment(case_number="KC-26-999999")
    late_joiner = make_enrollment(
        cohort=cohort, case_number="KC-26-000004", starts_on=cohort.sessions[1].local_date
    )
    mark(ben, 1, S.ABSENT)
    facilitator = cohort.facilitators[0]
    text = "\n".join(
        [
            HEADER,
            "KC-26-000001,present,,,",  # line 2: fine
            "KC-26-000002,present,,,",  # line 3: a change without a reason
            "KC-26-999999,present,,,",  # line 4: another cohort's case
            "KC-26-000004,present,,,",  # line 5: not enrolled yet on that date
            "KC-26-000003,sleeping,,,",  # line 6: no such status
            "KC-26-000003,present,121,,",  # line 7: too many minutes (and a repeat)
            ",present,,,",  # line 8: no case
            "KC-26-000001,made up,,,",  # line 9: made up is not imported
            "KC-26-000003,late,ten,,",  # line 10: minutes not a number
        ]
    )
    errors = errors_of(session, text, facilitator)
    assert errors == [
        "line 3: Ben Birch is marked absent (0 min); give a reason for the change.",
        f"line 4: case KC-26-999999 is not in {cohort.name}.",
        f"line 5: {late_joiner.participant.full_name} (KC-26-000004) was not enrolled yet on "
        f"{session.local_date.isoformat()}.",
        "line 6: status 'sleeping' is not one of present, late, left_early, excused, absent.",
        "line 7: case KC-26-000003 is already on line 6.",
        "line 7: minutes must be between 0 and 120.",
        "line 8: the case number is empty.",
        "line 9: case KC-26-000001 is already on line 2.",
        "line 9: made up is recorded with the make-up form, not by import.",
        "line 10: case KC-26-000003 is already on line 6.",
        "line 10: minutes 'ten' is not a whole number from 0 to 120.",
    ]
    db.session.expire_all()
    assert adam.attendance == [] and carl.attendance == []  # line 2 was valid, but not applied
    assert outsider.attendance == [] and late_joiner.attendance == []


def test_line_numbers_count_quoted_line_breaks(cohort_of_three):
    cohort, _men = cohort_of_three
    text = HEADER + '\nKC-26-000001,present,,"two\nline note",\nKC-26-000002,bogus,,,\n'
    assert errors_of(cohort.sessions[0], text, cohort.facilitators[0]) == [
        "line 4: status 'bogus' is not one of present, late, left_early, excused, absent."
    ]


def test_a_bad_header_is_refused_with_the_expected_columns(cohort_of_three):
    cohort, _men = cohort_of_three
    session, who = cohort.sessions[0], cohort.facilitators[0]
    assert errors_of(session, "case,status\nKC-26-000001,present\n", who) == [
        "line 1: missing column(s) case_number; unknown column(s) case. The first line must "
        "be: case_number,status,minutes,note,reason."
    ]
    assert errors_of(session, "", who) == ["line 1: the file is empty."]
    assert errors_of(session, HEADER + "\n\n", who) == [
        "line 2: the file has no rows under its header."
    ]


def test_encoding_size_and_row_limits(cohort_of_three):
    cohort, (adam, _b, _c) = cohort_of_three
    session, who = cohort.sessions[0], cohort.facilitators[0]
    latin1 = (HEADER + "\nKC-26-000001,present,,Café,\n").encode("latin-1")
    with pytest.raises(RosterImportError) as refused:
        rosters.import_roster(session, latin1, who)
    assert refused.value.errors == [
        "line 2: the file is not UTF-8 text; save it as 'CSV UTF-8' and try again."
    ]
    with pytest.raises(RosterImportError, match="larger than 1 MB"):
        rosters.import_roster(session, b"x" * (rosters.MAX_IMPORT_BYTES + 1), who)
    many = HEADER + "\n" + "\n".join(f"KC-26-{i:06d},present,,," for i in range(501))
    assert errors_of(session, many, who)[-1] == "line 502: more than 500 rows; split the file."
    # A BOM and Windows line ends are fine; a blank status leaves the mark alone.
    data = ("\ufeff" + HEADER + "\r\nKC-26-000001,Present,,Café,\r\nKC-26-000002,,,,\r\n").encode()
    result = rosters.import_roster(session, data, who)
    assert (result.rows, result.changed) == (1, 1)
    assert adam.attendance[0].note == "Café"


def test_the_import_page_lists_every_error_and_saves_nothing(app, cohort_of_three):
    cohort, (adam, _b, _c) = cohort_of_three
    session = cohort.sessions[0]
    client = signed_in(app, cohort.facilitators[0])
    url = f"/facilitator/sessions/{session.id}/import"
    page = text_of(client.get(url))
    assert "case_number,status,minutes,note,reason" in page
    body = f"{HEADER}\nKC-26-000001,present,,,\nKC-26-000002,nope,,,\nKC-26-000009,present,,,\n"
    response = post_form(
        client,
        url,
        {"file": (io.BytesIO(body.encode()), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was imported." in page
    assert "line 3: status &#39;nope&#39; is not one of" in page
    assert f"line 4: case KC-26-000009 is not in {cohort.name}." in page
    db.session.expire_all()
    assert adam.attendance == []


def test_a_closed_case_or_a_future_session_cannot_be_imported(
    cohort_of_three, make_cohort, make_enrollment, make_user
):
    cohort, (adam, _b, _c) = cohort_of_three
    enrollments.transition(adam, EnrollmentState.WITHDRAWN, make_user(Role.ADMIN), "Moved.")
    errors = errors_of(
        cohort.sessions[0], f"{HEADER}\nKC-26-000001,present,,,\n", cohort.facilitators[0]
    )
    assert errors == ["line 2: case KC-26-000001 is withdrawn; it is closed."]
    from datetime import UTC, datetime, timedelta

    future = make_cohort(start=datetime.now(UTC).date() + timedelta(days=5))
    make_enrollment(cohort=future, case_number="KC-26-000050")
    errors = errors_of(
        future.sessions[0], f"{HEADER}\nKC-26-000050,present,,,\n", future.facilitators[0]
    )
    assert errors[0].startswith("Session 1 has not happened yet")


def test_rows_of_the_cohort_export_for_another_session_are_refused(cohort_of_three):
    cohort, (adam, _b, _c) = cohort_of_three
    text = (
        "case_number,participant,session_number,date,status,minutes,note,recorded_by,recorded_at\n"
        "KC-26-000001,Adam Alder,1,2026-01-01,present,120,,,\n"
        "KC-26-000002,Ben Birch,2,2026-01-08,present,120,,,\n"
    )
    assert errors_of(cohort.sessions[0], text, cohort.facilitators[0]) == [
        "line 3: the row is for session 2, not session 1."
    ]
