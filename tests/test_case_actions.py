"""The case page and its actions: the state machine with a named person and a reason for every
change, the timeline, certificate re-issue superseding the old one, and who may do any of it."""

from __future__ import annotations

from io import BytesIO

import pytest
from flask import render_template
from pypdf import PdfReader

from intervention.extensions import db
from intervention.models import (
    CertificateStatus,
    DocumentKind,
    Enrollment,
    EnrollmentState,
    ReferralType,
    Role,
)
from intervention.services import ServiceError, cases, documents, enrollments
from intervention.services import certificates as certificate_service

from .conftest import csrf_token
from .helpers import drafted_notice, events, post_form, signed_in, text_of

ES = EnrollmentState


@pytest.fixture
def referred(make_user, make_court, make_cohort):
    """A case referred by the court and not yet activated."""
    cohort = make_cohort()
    enrollment = Enrollment(
        participant=make_user(Role.PARTICIPANT),
        cohort=cohort,
        court=make_court(),
        case_number="KC-26-500100",
        referral_type=ReferralType.DEFERRED_PROSECUTION,
        referral_date=cohort.start_date,
        starts_on=cohort.start_date,
        overrides={},
        state=ES.REFERRED,
    )
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


# --- the state machine --------------------------------------------------------------------------


def test_staff_actions_follow_the_allowed_transitions(referred, make_enrollment, make_user):
    assert cases.staff_actions(referred) == {
        ES.ACTIVE: "Activate",
        ES.RETURNED_TO_COURT: "Return to court",
        ES.WITHDRAWN: "Withdraw",
    }
    active = make_enrollment()
    assert cases.staff_actions(active) == {
        ES.TERMINATED: "Terminate",
        ES.RETURNED_TO_COURT: "Return to court",
        ES.WITHDRAWN: "Withdraw",
    }
    cases.change_status(active, ES.WITHDRAWN, make_user(Role.ADMIN), "Moved away.")
    assert cases.staff_actions(active) == {}


def test_a_referred_case_is_activated(referred, make_user):
    facilitator = make_user(Role.FACILITATOR)
    _, report = cases.change_status(referred, ES.ACTIVE, facilitator, "Intake done.")
    assert report is None
    assert referred.state is ES.ACTIVE
    [t] = referred.transitions
    assert (t.from_state, t.to_state, t.actor, t.reason) == (
        ES.REFERRED,
        ES.ACTIVE,
        facilitator,
        "Intake done.",
    )


@pytest.mark.parametrize("to_state", [ES.TERMINATED, ES.RETURNED_TO_COURT, ES.WITHDRAWN])
def test_an_active_case_is_closed_with_actor_and_reason(make_enrollment, make_user, to_state):
    enrollment = make_enrollment()
    admin = make_user(Role.ADMIN)
    _, report = cases.change_status(enrollment, to_state, admin, "  Court order of May 2.  ")
    assert enrollment.state is to_state
    last = enrollment.transitions[-1]
    assert (last.from_state, last.to_state, last.actor, last.reason) == (
        ES.ACTIVE,
        to_state,
        admin,
        "Court order of May 2.",
    )
    event = events("enrollment.transition")[-1]
    assert event.actor_id == admin.id
    # The reason is kept on the transition, which retention can scrub; the event points to it.
    assert event.details == {"from": "active", "to": to_state.value, "transition_id": last.id}
    # Only a termination comes with a report.
    kinds = [d.kind for d in documents.documents_for(enrollment)]
    if to_state is ES.TERMINATED:
        assert report is not None and kinds == [DocumentKind.TERMINATION_REPORT]
        assert report.reason == "Court order of May 2."
    else:
        assert report is None and kinds == []


@pytest.mark.parametrize(
    ("start", "to_state", "message"),
    [
        (ES.ACTIVE, ES.COMPLETED, "completed only by issuing its certificate"),
        (ES.ACTIVE, ES.ACTIVE, "cannot become active"),
        (ES.WITHDRAWN, ES.ACTIVE, "withdrawn cannot become active"),
        (ES.TERMINATED, ES.RETURNED_TO_COURT, "terminated cannot become returned to court"),
        (ES.RETURNED_TO_COURT, ES.TERMINATED, "cannot become terminated"),
    ],
)
def test_forbidden_changes_are_refused(make_enrollment, make_user, start, to_state, message):
    enrollment = make_enrollment()
    admin = make_user(Role.ADMIN)
    if start is not ES.ACTIVE:
        enrollments.transition(enrollment, start, admin, "Closed.")
    before = len(enrollment.transitions)
    with pytest.raises(ServiceError, match=message):
        cases.change_status(enrollment, to_state, admin, "Because.")
    assert enrollment.state is start
    assert len(enrollment.transitions) == before


def test_a_change_needs_a_reason_and_a_staff_member(make_enrollment, make_user):
    enrollment = make_enrollment()
    with pytest.raises(ServiceError, match="Give a reason"):
        cases.change_status(enrollment, ES.WITHDRAWN, make_user(Role.ADMIN), "   ")
    for user in (make_user(Role.PARTICIPANT), make_user(Role.CLERK, court=enrollment.court)):
        with pytest.raises(ServiceError, match="Only a facilitator or the program director"):
            cases.change_status(enrollment, ES.WITHDRAWN, user, "Moved.")
    assert enrollment.state is ES.ACTIVE
    assert len(enrollment.transitions) == 1


# --- the case page ------------------------------------------------------------------------------


def test_the_case_page_shows_status_unmet_and_timeline(app, make_enrollment):
    enrollment = make_enrollment(case_number="KC-26-500300")
    facilitator = enrollment.cohort.facilitators[0]
    db.session.commit()
    page = text_of(signed_in(app, facilitator).get(f"/cases/{enrollment.id}"))
    assert "KC-26-500300" in page
    assert "Not complete yet" in page
    assert "3 more sessions to attend (0 of 3 credited)." in page
    assert "Completion still possible:</strong> yes" in page
    assert "Intake done." in page  # the activation, on the timeline
    admin_name = enrollment.transitions[0].actor.full_name
    assert f"by {admin_name} (Program director). Intake done." in page
    for option in ("Terminate", "Return to court", "Withdraw"):
        assert f">{option}</option>" in page
    assert ">Completed</option>" not in page


def test_terminating_on_the_case_page(app, make_enrollment):
    enrollment = make_enrollment(case_number="KC-26-500400")
    facilitator = enrollment.cohort.facilitators[0]
    db.session.commit()
    client = signed_in(app, facilitator)
    page = f"/cases/{enrollment.id}"

    # No reason: nothing changes.
    response = post_form(
        client, f"/cases/{enrollment.id}/status", {"to_state": "terminated"}, page=page
    )
    assert response.status_code == 302
    assert "Status not changed: Give the reason." in text_of(client.get(page))
    # A state the page does not offer: refused.
    post_form(
        client,
        f"/cases/{enrollment.id}/status",
        {"to_state": "completed", "reason": "Done."},
        page=page,
    )
    assert "Status not changed: Not a valid choice" in text_of(client.get(page))
    db.session.expire_all()
    assert enrollment.state is ES.ACTIVE

    response = post_form(
        client,
        f"/cases/{enrollment.id}/status",
        {"to_state": "terminated", "reason": "Rearrested on March 3."},
        page=page,
    )
    assert response.status_code == 302
    shown = text_of(client.get(page))
    assert "Case KC-26-500400 is now terminated." in shown
    assert "Termination report TR-KC-26-500400-1 generated." in shown
    assert f"by {facilitator.full_name} (Facilitator). Rearrested on March 3." in shown
    db.session.expire_all()
    assert enrollment.state is ES.TERMINATED
    [report] = documents.documents_for(enrollment)
    assert f"/cases/documents/{report.id}.pdf" in shown
    assert "its status can no longer change" in shown


# --- certificates: re-issue and revocation ------------------------------------------------------


def test_reissue_supersedes_the_old_certificate(issued, make_user):
    old = issued
    enrollment = old.enrollment
    admin = make_user(Role.ADMIN)
    transitions = len(enrollment.transitions)

    new = certificate_service.reissue(old, admin, "  Middle initial was missing.  ")

    assert new.number != old.number
    assert new.verification_code != old.verification_code
    assert new.sha256 != old.sha256 and new.pdf.startswith(b"%PDF")
    assert new.status is CertificateStatus.VALID
    assert new.issued_by is admin
    assert old.status is CertificateStatus.SUPERSEDED
    assert old.status_reason == "Middle initial was missing."
    assert old.superseded_by is new
    assert old.status_changed_at == new.issued_at
    assert enrollment.valid_certificate is new
    assert enrollment.state is ES.COMPLETED
    assert len(enrollment.transitions) == transitions  # completed once, not again
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(BytesIO(new.pdf)).pages
    )
    assert f"replaces No. {old.number}" in text
    assert enrollment.case_number in text
    assert certificate_service.format_code(new.verification_code) in text

    # The log says who corrected what, and why, on both certificates.
    [issue_new] = [e for e in events("certificate.issue") if e.object_id == new.id]
    assert issue_new.actor_id == admin.id
    assert issue_new.details["replaces"] == old.number
    assert issue_new.details["reason"] == "Middle initial was missing."
    [supersede] = events("certificate.supersede")
    assert supersede.actor_id == admin.id
    assert (supersede.object_id, supersede.details["by"]) == (old.id, new.number)
    assert supersede.details["number"] == old.number
    assert supersede.details["reason"] == "Middle initial was missing."


def test_reissue_keeps_the_completion_date(issued, make_user):
    # The engine's day the last requirement was met, not either certificate's issue date.
    new = certificate_service.reissue(issued, make_user(Role.ADMIN), "Typo.")
    assert new.completed_on == issued.completed_on is not None


def test_reissue_is_refused_without_reason_twice_or_by_others(issued, make_user):
    facilitator = issued.enrollment.cohort.facilitators[0]
    for blank in (" ", "", None):
        with pytest.raises(ServiceError, match="Give the reason"):
            certificate_service.reissue(issued, facilitator, blank)
    for user in (make_user(Role.PARTICIPANT), make_user(Role.CLERK, court=issued.enrollment.court)):
        with pytest.raises(ServiceError, match="Only a facilitator or the program director"):
            certificate_service.reissue(issued, user, "Typo.")
    new = certificate_service.reissue(issued, facilitator, "Typo.")
    # A second click on the old one: it is no longer valid.
    with pytest.raises(ServiceError) as refused:
        certificate_service.reissue(issued, facilitator, "Typo.")
    assert str(refused.value) == (
        f"Certificate {issued.number} is superseded; only a valid certificate can be re-issued."
    )
    director = make_user(Role.ADMIN)
    certificate_service.revoke(new, director, "Issued in error.")
    [revoked] = [e for e in events("certificate.revoke") if e.object_id == new.id]
    assert revoked.actor_id == director.id
    assert revoked.details == {"number": new.number, "reason": "Issued in error."}
    with pytest.raises(ServiceError, match=f"Certificate {new.number} is already revoked"):
        certificate_service.revoke(new, director, "Twice.")
    with pytest.raises(ServiceError, match="is revoked"):
        certificate_service.reissue(new, facilitator, "Typo.")
    assert len(issued.enrollment.certificates) == 2


def test_reissue_needs_the_engine_to_still_say_complete(issued):
    enrollment = issued.enrollment
    facilitator = enrollment.cohort.facilitators[0]
    # Whatever changed since (here a court order for more sessions), a certificate is issued
    # only for what the records support now.
    enrollment.overrides = {"sessions_required": 5}
    db.session.flush()
    with pytest.raises(ServiceError, match="not complete yet"):
        certificate_service.reissue(issued, facilitator, "Name spelling.")
    assert issued.status is CertificateStatus.VALID
    assert len(enrollment.certificates) == 1


def test_reissue_on_the_case_page_and_the_public_verify_page(app, client, issued):
    enrollment = issued.enrollment
    facilitator = enrollment.cohort.facilitators[0]
    old_code = certificate_service.format_code(issued.verification_code)
    db.session.commit()
    staff = signed_in(app, facilitator)
    page = f"/cases/{enrollment.id}"
    shown = text_of(staff.get(page))
    assert "Re-issue with a correction" in shown
    assert "/admin/certificates/" not in shown  # revocation is the director's

    response = post_form(staff, f"/cases/certificates/{issued.id}/reissue", {}, page=page)
    assert response.status_code == 302
    assert "Certificate not re-issued: Give the reason for the correction." in text_of(
        staff.get(page)
    )
    response = post_form(
        staff,
        f"/cases/certificates/{issued.id}/reissue",
        {"reason": "Court asked for the full middle name."},
        page=page,
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{enrollment.id}#certificates")
    db.session.expire_all()
    new = enrollment.valid_certificate
    assert new is not None and new.id != issued.id
    shown = text_of(staff.get(page))
    assert f"Certificate {new.number} issued; {issued.number} is superseded by it." in shown
    assert "Reason: Court asked for the full middle name." in shown

    public = text_of(client.get(f"/verify/{old_code}"))
    assert "Superseded" in public
    assert new.number in public
    new_code = new.verification_code
    assert (
        f"/verify/{new_code}" in public
        or f"/verify/{certificate_service.format_code(new_code)}" in public
    )
    assert "Valid" in text_of(client.get(f"/verify/{certificate_service.format_code(new_code)}"))


def test_revocation_stays_with_the_director(app, issued, make_user):
    facilitator = issued.enrollment.cohort.facilitators[0]
    admin = make_user(Role.ADMIN)
    db.session.commit()
    staff = signed_in(app, facilitator)
    assert staff.get(f"/admin/certificates/{issued.id}").status_code == 403
    director = signed_in(app, admin)
    shown = text_of(director.get(f"/cases/{issued.enrollment.id}"))
    assert f'href="/admin/certificates/{issued.id}">Revoke (director)' in shown


# --- who may use the case pages -----------------------------------------------------------------


def case_urls(enrollment, cert_id, doc_id, notice_id) -> list[tuple[str, str]]:
    e = enrollment.id
    return [
        ("GET", f"/cases/{e}"),
        ("GET", f"/cases/documents/{doc_id}.pdf"),
        ("POST", f"/cases/{e}/status"),
        ("POST", f"/cases/{e}/progress-report"),
        ("POST", f"/cases/notices/{notice_id}/pdf"),
        ("POST", f"/cases/certificates/{cert_id}/reissue"),
    ]


@pytest.fixture
def case_world(issued, make_user):
    enrollment = issued.enrollment
    report = documents.progress_report(enrollment, enrollment.cohort.facilitators[0])
    notice = drafted_notice(enrollment)
    db.session.commit()
    return enrollment, issued.id, report.id, notice.id


def test_another_facilitator_gets_404_on_every_case_route(app, case_world, make_user):
    enrollment, cert_id, doc_id, notice_id = case_world
    stranger = signed_in(app, make_user(Role.FACILITATOR))
    token = csrf_token(stranger, "/facilitator/")
    for method, url in case_urls(enrollment, cert_id, doc_id, notice_id):
        if method == "GET":
            response = stranger.get(url)
        else:
            response = stranger.post(url, data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 404, url
        assert b"%PDF" not in response.get_data()
    db.session.expire_all()
    assert enrollment.state is ES.COMPLETED
    assert len(documents.documents_for(enrollment)) == 2
    assert len(enrollment.certificates) == 1


@pytest.mark.parametrize("role", [Role.CLERK, Role.PARTICIPANT])
def test_clerks_and_participants_are_refused_the_case_routes(app, case_world, make_user, role):
    enrollment, cert_id, doc_id, notice_id = case_world
    user = (
        enrollment.participant
        if role is Role.PARTICIPANT
        else make_user(Role.CLERK, court=enrollment.court)
    )
    client = signed_in(app, user)
    token = csrf_token(client, "/court/" if role is Role.CLERK else "/me/")
    for method, url in case_urls(enrollment, cert_id, doc_id, notice_id):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 403, url


def test_the_director_reaches_every_case(app, case_world, make_user):
    enrollment, _cert_id, doc_id, _notice_id = case_world
    director = signed_in(app, make_user(Role.ADMIN))
    assert director.get(f"/cases/{enrollment.id}").status_code == 200
    assert director.get(f"/cases/documents/{doc_id}.pdf").status_code == 200


def test_case_links_partial_points_to_the_case_page(app, make_enrollment):
    enrollment = make_enrollment(case_number="KC-26-500500")
    with app.test_request_context():
        html = render_template("cases/_case_links.html", enrollment=enrollment)
    assert f'href="/cases/{enrollment.id}"' in html
    assert "Case: status, documents and actions" in html
    assert "KC-26-500500" in html
