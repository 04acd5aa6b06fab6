"""A participant's own data: the readable page and the JSON file; admins' legal holds."""

from __future__ import annotations

import json

import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import AttendanceStatus, AuditEvent, ReviewOutcome, Role
from intervention.services import attendance as attendance_service
from intervention.services import reflections as reflection_service

from .conftest import login
from .helpers import answer, events, post_form, prompts_by_key, stored_certificate, text_of


def _case_with_history(make_enrollment, make_user):
    enrollment = make_enrollment(case_number="KC-26-MYDATA1")
    facilitator = enrollment.cohort.facilitators[0]
    session = enrollment.cohort.sessions[0]
    attendance_service.mark(session, enrollment, AttendanceStatus.ABSENT, 0, facilitator)
    attendance_service.mark(
        session, enrollment, AttendanceStatus.PRESENT, 120, facilitator, reason="Sign-in sheet."
    )
    prompt = prompts_by_key(enrollment)["what-happened"]
    reflection = reflection_service.reflection_for(enrollment, prompt)
    first = reflection_service.submit(
        reflection, answer("Firsttry", 80), reflection.draft_revision, enrollment.participant
    )
    reflection_service.review(first, ReviewOutcome.RETURNED, "Tell more, Mycomment.", facilitator)
    reflection_service.submit(
        reflection, answer("Secondtry", 90), reflection.draft_revision, enrollment.participant
    )
    stored_certificate(enrollment, make_user(Role.ADMIN), "MYDATA0000000001")
    db.session.commit()
    return enrollment


def test_json_export_holds_everything_and_is_audited(client, make_enrollment, make_user):
    enrollment = _case_with_history(make_enrollment, make_user)
    other = make_enrollment(case_number="KC-26-OTHERMAN")
    login(client, enrollment.participant)

    response = client.get("/me/data.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == enrollment.participant.email
    [case] = data["enrollments"]
    assert case["case_number"] == "KC-26-MYDATA1"
    assert case["court"] == enrollment.court.name
    [mark] = [a for a in case["attendance"] if a["session"] == 1]
    assert mark["status"] == "present"
    assert [c["to_status"] for c in mark["history"]] == ["absent", "present"]
    [reflection] = case["reflections"]
    texts = [a["text"].split()[0] for a in reflection["attempts"]]
    assert texts == ["Firsttry", "Secondtry"]
    assert reflection["attempts"][0]["review"]["comment"] == "Tell more, Mycomment."
    assert case["certificates"][0]["verification_code"] == "MYDATA0000000001"
    assert len(case["schedule"]) == len(enrollment.cohort.sessions)
    assert "KC-26-OTHERMAN" not in response.get_data(as_text=True)
    assert other.participant.email not in response.get_data(as_text=True)
    exports = events("participant.data_export")
    assert [e.details["format"] for e in exports] == ["json"]


def test_readable_page_shows_his_records(client, make_enrollment, make_user):
    enrollment = _case_with_history(make_enrollment, make_user)
    login(client, enrollment.participant)

    page = text_of(client.get("/me/data"))

    for expected in (
        "KC-26-MYDATA1",
        "Firsttry",
        "Secondtry",
        "Tell more, Mycomment.",
        "Sign-in sheet.",
        "MYDATA0000000001",
        enrollment.participant.email,
    ):
        assert expected in page
    assert 'href="/me/data.json"' in page


def test_staff_cannot_fetch_a_participant_export(client, make_enrollment, make_user):
    make_enrollment()
    db.session.commit()
    for role in (Role.FACILITATOR, Role.ADMIN):
        client.post("/logout", data={})
        staff = make_user(role)
        db.session.commit()
        client = client.application.test_client()
        login(client, staff)
        assert client.get("/me/data.json").status_code in (302, 403, 404)


def test_admin_places_and_lifts_a_legal_hold(client, make_enrollment, make_user):
    enrollment = make_enrollment(case_number="KC-26-HOLD01")
    admin = make_user(Role.ADMIN)
    db.session.commit()
    login(client, admin)
    url = f"/admin/cases/{enrollment.id}/hold"

    refused = post_form(client, url, {"action": "place", "reason": "  "})
    assert refused.status_code == 422
    assert "reason" in text_of(refused)
    assert not enrollment.legal_hold

    placed = post_form(client, url, {"action": "place", "reason": "Civil suit pending."})
    assert placed.status_code == 302
    db.session.refresh(enrollment)
    assert enrollment.legal_hold and enrollment.legal_hold_reason == "Civil suit pending."
    listing = text_of(client.get("/admin/holds"))
    assert "KC-26-HOLD01" in listing and "Civil suit pending." in listing
    assert "KC-26-HOLD01" in text_of(client.get("/admin/holds?q=HOLD01"))

    lifted = post_form(client, url, {"action": "lift", "reason": ""})
    assert lifted.status_code == 302
    db.session.refresh(enrollment)
    assert not enrollment.legal_hold
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action.like("enrollment.legal_hold%"))
    ).all()
    assert actions == ["enrollment.legal_hold", "enrollment.legal_hold_lifted"]
    assert client.get("/admin/cases/999999/hold").status_code == 404
