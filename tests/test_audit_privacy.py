"""The audit log holds ids, never a participant's name, email or case number: retention removes
those from the record, and it could not remove them from an append-only log (issue 13)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import AttendanceStatus, AuditEvent, EnrollmentState, ReferralType, Role
from intervention.services import (
    attendance,
    cases,
    certificates,
    documents,
    enrollments,
    notices,
    privacy,
    retention,
)

from .conftest import csrf_token
from .helpers import complete_case, signed_in, text_of, today

S = AttendanceStatus
UNKNOWN_EMAIL = "nobody.here@mail.example"
# What must never be in an event: each man's name (and surname alone, as searches use it),
# email and case number, and an email nobody has.
THORNTON = ("Michael Thornton", "Thornton", "m.thornton@mail.example", "KC-26-777001")
QUINN = ("Peter Quinn", "Quinn", "p.quinn@mail.example", "KC-26-777002")


def test_no_event_of_a_whole_journey_holds_a_participants_name_email_or_case_number(
    app, make_user, make_court, make_cohort, make_enrollment
):
    court = make_court("King County District Court")
    facilitator = make_user(Role.FACILITATOR, name="Dana Whitfield")
    clerk = make_user(Role.CLERK, court=court, name="Rosa Delgado")
    admin = make_user(Role.ADMIN, name="Ada Director")

    # --- Michael Thornton: a whole course, a certificate, the clerk and the public -----------
    name, _surname, email, case = THORNTON
    michael = make_user(Role.PARTICIPANT, name=name, email=email)
    done = make_enrollment(
        participant=michael,
        cohort=make_cohort(facilitator=facilitator),
        court=court,
        case_number=case,
    )
    complete_case(done)
    cert = certificates.issue(done, facilitator)
    db.session.commit()

    public = app.test_client()
    for tried in (email, UNKNOWN_EMAIL):  # a wrong password for him, then an unknown email
        response = public.post(
            "/login",
            data={"email": tried, "password": "wrong", "csrf_token": csrf_token(public, "/login")},
        )
        assert "do not match" in text_of(response)
    me = signed_in(app, michael)
    assert me.get("/me/").status_code == 200
    privacy.record_export(michael, "json")

    court_client = signed_in(app, clerk)
    for q in (case, "thornton"):
        assert name in text_of(court_client.get("/court/", query_string={"q": q}))
    assert case in text_of(court_client.get("/court/cases.csv", query_string={"q": "Thornton"}))
    assert name in text_of(court_client.get(f"/court/cases/{done.id}"))
    assert court_client.get(f"/court/api/cases/{case}").status_code == 200
    assert court_client.get(f"/court/certificates/{cert.id}.pdf").status_code == 200
    assert public.get(f"/verify/{cert.verification_code}").status_code == 200

    # --- Peter Quinn: enrolled by the director, absent, noticed, made up, terminated ---------
    name, _surname, email, case = QUINN
    ours = make_cohort(facilitator=facilitator, start=today() - timedelta(days=13))
    theirs = make_cohort(facilitator=facilitator, start=today() - timedelta(days=10))
    peter = enrollments.new_participant(full_name=name, email=email, actor=admin)
    quinn = enrollments.enroll(
        participant=peter,
        cohort=ours,
        court=court,
        case_number=case,
        referral_type=ReferralType.PRE_FILING,
        referral_date=ours.start_date - timedelta(days=10),
        completion_deadline=None,
        starts_on=ours.start_date,
        overrides={"max_absences": 0},
        note=f"Order of Oct 2: {name}, {case}, twelve weeks.",
        actor=admin,
        date_of_birth=date(1984, 3, 9),
    )
    first, second = ours.sessions[0], ours.sessions[1]
    attendance.mark(first, quinn, S.ABSENT, 0, facilitator, note=f"{name} did not call")
    attendance.mark(second, quinn, S.LATE, 90, facilitator)
    attendance.mark(
        second, quinn, S.PRESENT, 120, facilitator, reason=f"{name} ({case}) was on time"
    )
    [notice] = notices.draft_for(quinn, facilitator)
    notices.mark_sent(notice, today(), "E-filing", facilitator)
    attendance.record_makeup(theirs.sessions[0], quinn, facilitator, 110, note=f"{name} came")
    report = documents.progress_report(quinn, facilitator)
    documents.record_download(report, clerk)
    retention.set_hold(quinn, True, "Civil suit pending.", admin)
    cases.change_status(
        quinn, EnrollmentState.TERMINATED, admin, f"{name} stopped coming; see {case}."
    )
    db.session.commit()

    # --- the director reads the log, looking for each man ------------------------------------
    director = signed_in(app, admin)
    for search in (THORNTON[2], QUINN[2]):
        assert director.get("/admin/audit", query_string={"actor": search}).status_code == 200
        assert director.get("/admin/audit.csv", query_string={"actor": search}).status_code == 200

    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    written = {e.action for e in events}
    assert {
        "auth.login_failed",
        "auth.login",
        "user.create",
        "enrollment.create",
        "enrollment.transition",
        "enrollment.legal_hold",
        "attendance.mark",
        "attendance.change",
        "attendance.makeup",
        "notice.draft",
        "notice.sent",
        "document.generate",
        "document.download",
        "certificate.issue",
        "certificate.download",
        "certificate.verify",
        "case.view",
        "cases.export",
        "participant.data_export",
        "audit.view",
        "audit.export",
    } <= written
    never = [*THORNTON, *QUINN, UNKNOWN_EMAIL]
    found = [
        f"{event.action}: {text!r} in {details}"
        for event in events
        for details in [json.dumps(event.details, ensure_ascii=False)]
        for text in never
        if re.search(re.escape(text), details, re.I)
    ]
    assert not found, "\n".join(found)
    # Ids stand where the words were: the record's own rows, which retention can scrub.
    [created] = [e for e in events if e.action == "enrollment.create" and e.object_id == quinn.id]
    assert created.details["participant_id"] == peter.id
    # The director's log still leads to the case: its events link to the case page.
    log = text_of(director.get("/admin/audit", query_string={"object_type": "enrollment"}))
    assert f'<a href="/cases/{quinn.id}">enrollment #{quinn.id}</a>' in log
    failed = [e for e in events if e.action == "auth.login_failed"]
    assert [(e.object_type, e.object_id) for e in failed] == [("user", michael.id), ("", None)]
