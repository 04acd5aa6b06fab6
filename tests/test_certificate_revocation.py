"""Revocation is final (issue 13, items 1 and 7): nobody undoes it by issuing again; only the
director issues a new certificate, as a deliberate step that names the revoked one and gives a
reason; the man is told his certificate was revoked instead of being handed its PDF; and the
public verify page says when, never why."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.i18n import format_date
from intervention.models import (
    Certificate,
    CertificateStatus,
    EnrollmentState,
    Role,
    utcnow,
)
from intervention.services import ServiceError
from intervention.services import certificates as certificate_service

from .conftest import csrf_token
from .helpers import complete_case, events, post_form, signed_in, text_of

REVOKE_REASON = "Attendance sheet for session 3 was forged by Xqzrevokereason."
AGAIN_REASON = "Court clerk confirmed the real sheet, Xqzagainreason."
CORRECTION_REASON = "Middle name was missing, Xqzcorrectionreason."


@pytest.fixture
def director(admin):
    """The program director who revokes and issues again: conftest's `admin`, not a client."""
    return admin


@pytest.fixture
def revoked(make_enrollment, make_court, make_user, director):
    """A completed case whose only certificate the director revoked."""
    enrollment = make_enrollment(
        court=make_court("Kings County District Court"),
        case_number="KC-26-700100",
        participant=make_user(name="Marco Alvarez"),
    )
    facilitator = complete_case(enrollment)
    cert = certificate_service.issue(enrollment, facilitator)
    certificate_service.revoke(cert, director, REVOKE_REASON)
    db.session.commit()
    return cert


def revoked_on(cert: Certificate) -> str:
    return format_date(cert.status_changed_at, cert.enrollment.court.timezone)


# --- item 1: issuing again does not undo a revocation ---------------------------------------


def test_issue_is_refused_to_everyone_after_a_revocation(revoked, director):
    enrollment = revoked.enrollment
    facilitator = enrollment.cohort.facilitators[0]
    for actor in (facilitator, director):
        with pytest.raises(ServiceError, match=f"Certificate {revoked.number} was revoked"):
            certificate_service.issue(enrollment, actor)
    assert len(enrollment.certificates) == 1
    assert enrollment.valid_certificate is None
    assert revoked.status is CertificateStatus.REVOKED


def test_the_facilitators_post_no_longer_issues_a_new_certificate(app, revoked):
    """The request of the report: it used to answer 'Certificate ... issued.'"""
    enrollment = revoked.enrollment
    staff = signed_in(app, enrollment.cohort.facilitators[0])
    page = f"/facilitator/enrollments/{enrollment.id}"
    response = post_form(staff, f"/cases/{enrollment.id}/certificate", {}, page=page)
    assert response.status_code == 302
    shown = text_of(staff.get(page))
    assert f"Certificate {revoked.number} was revoked" in shown
    assert "only the program director can issue a new certificate" in shown
    db.session.expire_all()
    assert len(enrollment.certificates) == 1
    assert enrollment.valid_certificate is None


def test_the_director_issues_again_naming_the_revocation_with_a_reason(revoked, director):
    enrollment = revoked.enrollment
    new = certificate_service.issue_after_revocation(revoked, director, f"  {AGAIN_REASON}  ")

    assert new.status is CertificateStatus.VALID
    assert new.number != revoked.number and new.sha256 != revoked.sha256
    assert new.issued_by is director
    assert new.follows_revoked is revoked
    assert new.follows_revoked_reason == AGAIN_REASON
    assert enrollment.valid_certificate is new
    assert enrollment.state is EnrollmentState.COMPLETED
    # The revoked one stays revoked, with its own reason: never back to valid, nor superseded.
    assert revoked.status is CertificateStatus.REVOKED
    assert revoked.status_reason == REVOKE_REASON
    assert revoked.superseded_by is None
    [event] = [e for e in events("certificate.issue") if e.object_id == new.id]
    assert event.actor_id == director.id
    assert event.details["after_revocation_of"] == revoked.number
    assert event.details["reason"] == AGAIN_REASON
    assert event.details["sha256"] == new.sha256

    # Two clicks give one certificate: the second names a revocation already followed.
    with pytest.raises(ServiceError, match=f"already followed by certificate {new.number}"):
        certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    # And the ordinary issue stays refused: the case has its valid certificate.
    with pytest.raises(ServiceError, match="already issued"):
        certificate_service.issue(enrollment, director)
    assert len(enrollment.certificates) == 2


def test_issuing_again_keeps_every_guard_of_issue(revoked, director, make_user):
    enrollment = revoked.enrollment
    facilitator = enrollment.cohort.facilitators[0]
    for actor in (facilitator, make_user(Role.CLERK, court=enrollment.court)):
        with pytest.raises(ServiceError, match="Only the program director"):
            certificate_service.issue_after_revocation(revoked, actor, AGAIN_REASON)
    with pytest.raises(ServiceError, match="Give the reason"):
        certificate_service.issue_after_revocation(revoked, director, "   ")
    # The engine must still say complete (here a court order for more sessions since).
    enrollment.overrides = {"sessions_required": 5}
    db.session.flush()
    with pytest.raises(ServiceError, match="not complete yet"):
        certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    enrollment.overrides = {}
    # A closed case gets no certificate.
    enrollment.state = EnrollmentState.TERMINATED
    db.session.flush()
    with pytest.raises(ServiceError, match="no certificate can be issued"):
        certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    enrollment.state = EnrollmentState.COMPLETED
    db.session.flush()
    assert len(enrollment.certificates) == 1


def test_only_a_revoked_certificate_can_be_named_and_only_the_newest(revoked, director):
    enrollment = revoked.enrollment
    second = certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    # A valid certificate is not a revocation to follow.
    with pytest.raises(ServiceError) as refused:
        certificate_service.issue_after_revocation(second, director, AGAIN_REASON)
    assert str(refused.value) == (
        f"Certificate {second.number} is valid; only a revoked certificate can be followed by"
        " a new one."
    )
    certificate_service.revoke(second, director, "Issued in error again.")
    # The first revocation was already followed; the newest one must be named.
    with pytest.raises(ServiceError, match="already followed"):
        certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    with pytest.raises(ServiceError, match=f"Certificate {second.number} was revoked"):
        certificate_service.issue(enrollment, enrollment.cohort.facilitators[0])
    third = certificate_service.issue_after_revocation(second, director, "Third time, checked.")
    assert third.follows_revoked is second
    assert [c.status for c in enrollment.certificates] == [
        CertificateStatus.REVOKED,
        CertificateStatus.REVOKED,
        CertificateStatus.VALID,
    ]


def test_the_director_issues_again_from_the_revoked_certificates_page(
    app, revoked, director, make_user
):
    enrollment = revoked.enrollment
    page = f"/admin/certificates/{revoked.id}"
    url = f"{page}/issue-again"
    staff = signed_in(app, enrollment.cohort.facilitators[0])
    assert post_form(staff, url, {"reason": AGAIN_REASON}, page="/facilitator/").status_code == 403

    admin = signed_in(app, director)
    shown = text_of(admin.get(page))
    assert "Issue a new certificate" in shown
    assert f'action="{url}"' in shown
    # The case page sends the director there.
    assert f'href="{page}#issue-again"' in text_of(admin.get(f"/cases/{enrollment.id}"))

    response = post_form(admin, url, {"reason": ""}, page=page)
    assert response.status_code == 200
    assert "Give the reason for issuing a new certificate." in text_of(response)
    db.session.expire_all()
    assert len(enrollment.certificates) == 1

    response = post_form(admin, url, {"reason": AGAIN_REASON}, page=page)
    assert response.status_code == 302
    db.session.expire_all()
    new = enrollment.valid_certificate
    assert new is not None and new.follows_revoked_id == revoked.id
    assert response.headers["Location"].endswith(f"/admin/certificates/{new.id}")
    shown = text_of(admin.get(response.headers["Location"]))
    assert f"Certificate {new.number} issued after the revocation of {revoked.number}." in shown
    assert AGAIN_REASON in shown
    # The revoked one's page now names what followed it and offers nothing more.
    shown = text_of(admin.get(page))
    assert new.number in shown and "Issue a new certificate" not in shown
    # A second click on the old page gives no third certificate.
    response = post_form(admin, url, {"reason": AGAIN_REASON}, page=page)
    assert response.status_code == 302
    shown = text_of(admin.get(page))
    assert f"No new certificate issued: Certificate {revoked.number} was already followed" in shown
    db.session.expire_all()
    assert len(enrollment.certificates) == 2


def test_facilitator_pages_no_longer_offer_to_issue(app, revoked):
    enrollment = revoked.enrollment
    staff = signed_in(app, enrollment.cohort.facilitators[0])
    shown = text_of(staff.get(f"/facilitator/enrollments/{enrollment.id}"))
    assert "Issue completion certificate" not in shown
    assert f"/cases/{enrollment.id}/certificate" not in shown
    assert f"Certificate {revoked.number} was revoked on {revoked_on(revoked)}." in shown
    assert "The program director decides whether a new certificate is issued." in shown
    cohort = text_of(staff.get(f"/facilitator/cohorts/{enrollment.cohort.id}"))
    assert "Ready for certificate" not in cohort
    home = text_of(staff.get("/facilitator/"))
    assert "Ready for certificate</dt><dd>0</dd>" in home


# --- item 1: the man is told, not handed the revoked PDF ------------------------------------


def test_the_participant_is_told_his_certificate_was_revoked(app, revoked):
    enrollment = revoked.enrollment
    me = signed_in(app, enrollment.participant)
    home = text_of(me.get("/me/"))
    assert f"Revoked on {revoked_on(revoked)}" in home
    assert "You finished the course" not in home
    assert "Your facilitator will issue your certificate." not in home

    response = me.get(f"/me/certificates/{revoked.id}.pdf")
    assert response.status_code == 410
    assert response.mimetype == "text/html"
    assert not response.get_data().startswith(b"%PDF")
    page = text_of(response)
    assert "This certificate was revoked" in page
    assert f"Revoked on {revoked_on(revoked)}" in page
    assert REVOKE_REASON not in page
    assert not [e for e in events("certificate.download") if e.object_id == revoked.id]


def test_after_a_new_issue_he_is_pointed_to_it(app, revoked, director):
    new = certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    db.session.commit()
    me = signed_in(app, revoked.enrollment.participant)
    page = text_of(me.get(f"/me/certificates/{revoked.id}.pdf"))
    assert f'href="/me/certificates/{new.id}.pdf"' in page
    assert AGAIN_REASON not in page
    response = me.get(f"/me/certificates/{new.id}.pdf")
    assert response.status_code == 200 and response.data == new.pdf
    home = text_of(me.get("/me/"))
    assert "You finished the course" in home
    assert f"Revoked on {revoked_on(revoked)}" in home


def test_a_superseded_certificate_points_him_to_the_newer_one(app, make_enrollment):
    enrollment = make_enrollment(case_number="KC-26-700200")
    facilitator = complete_case(enrollment)
    old = certificate_service.issue(enrollment, facilitator)
    new = certificate_service.reissue(old, facilitator, CORRECTION_REASON)
    db.session.commit()
    me = signed_in(app, enrollment.participant)
    response = me.get(f"/me/certificates/{old.id}.pdf")
    assert response.status_code == 410
    page = text_of(response)
    assert "This certificate was replaced" in page
    assert f"Replaced by {new.number}" in page
    assert f'href="/me/certificates/{new.id}.pdf"' in page
    assert CORRECTION_REASON not in page
    home = text_of(me.get("/me/"))
    assert f"Replaced by {new.number}" in home


def test_staff_keep_the_stored_bytes_and_see_the_status(app, revoked, director, make_user):
    enrollment = revoked.enrollment
    clerk = signed_in(app, make_user(Role.CLERK, court=enrollment.court))
    response = clerk.get(f"/court/certificates/{revoked.id}.pdf")
    assert response.status_code == 200 and response.data == revoked.pdf
    assert "revoked" in response.headers["Content-Disposition"]
    assert f"Revoked {revoked_on(revoked)}" in text_of(clerk.get(f"/court/cases/{enrollment.id}"))

    staff = signed_in(app, enrollment.cohort.facilitators[0])
    response = staff.get(f"/cases/certificates/{revoked.id}.pdf")
    assert response.status_code == 200 and response.data == revoked.pdf
    assert f"Revoked {revoked_on(revoked)}" in text_of(staff.get(f"/cases/{enrollment.id}"))
    admin = signed_in(app, director)
    assert "Revoked" in text_of(admin.get(f"/admin/certificates/{revoked.id}"))


# --- item 7: the public sees when, never why ------------------------------------------------


def public_pages(client, cert: Certificate) -> dict[str, str]:
    """Every public answer about one certificate: the QR link (both spellings of the code),
    the typed code and the uploaded PDF."""
    formatted = certificate_service.format_code(cert.verification_code)
    token = csrf_token(client, "/verify")
    answers = {
        "link": client.get(f"/verify/{cert.verification_code}"),
        "link formatted": client.get(f"/verify/{formatted}"),
        "code": client.post("/verify", data={"csrf_token": token, "code": formatted}),
        "upload": client.post(
            "/verify",
            data={"csrf_token": token, "code": "", "pdf": (io.BytesIO(cert.pdf), "c.pdf")},
            content_type="multipart/form-data",
        ),
    }
    for how, response in answers.items():
        assert response.status_code == 200, how
    return {how: text_of(response) for how, response in answers.items()}


SECRETS = ("Xqzrevokereason", "Xqzagainreason", "Xqzcorrectionreason")


def test_verify_says_revoked_on_date_without_the_reason(client, revoked):
    for how, page in public_pages(client, revoked).items():
        assert "This certificate was revoked" in page, how
        assert f"Revoked on {revoked_on(revoked)}" in page, how
        assert "Reason" not in page, how
        assert not [s for s in SECRETS if s in page], how


def test_verify_never_shows_the_reason_for_issuing_again(client, revoked, director):
    new = certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    db.session.commit()
    for cert in (revoked, new):
        for how, page in public_pages(client, cert).items():
            assert not [s for s in SECRETS if s in page], (cert.number, how)
    assert "This certificate is valid" in public_pages(client, new)["link"]


def test_verify_says_superseded_by_number_without_the_reason(client, make_enrollment):
    enrollment = make_enrollment(case_number="KC-26-700300")
    facilitator = complete_case(enrollment)
    old = certificate_service.issue(enrollment, facilitator)
    new = certificate_service.reissue(old, facilitator, CORRECTION_REASON)
    db.session.commit()
    for how, page in public_pages(client, old).items():
        assert "This certificate was replaced" in page, how
        assert f'href="/verify/{new.verification_code}"' in page, how
        assert new.number in page, how
        assert not [s for s in SECRETS if s in page], how
    for how, page in public_pages(client, new).items():
        assert not [s for s in SECRETS if s in page], how


def test_one_revocation_is_followed_once_even_in_a_race(revoked, director, monkeypatch):
    """Another request follows the revocation between our checks and our insert (the two
    clicks of a double submit on two workers): the unique column refuses the second, and the
    director reads why instead of a retry loop or a 500."""
    real_render = certificate_service.render_certificate
    competitor = {}

    def render_while_another_request_commits(*args, **kwargs):
        if not competitor:
            pdf = b"%PDF-1.7 issued by the other request"
            competitor["cert"] = Certificate(
                enrollment_id=revoked.enrollment_id,
                number="AAC-2099-0001",
                verification_code="RACE000000000001",
                version_id=revoked.version_id,
                issued_by_id=director.id,
                pdf=pdf,
                sha256="0" * 64,
                follows_revoked_id=revoked.id,
                follows_revoked_reason="The other click.",
            )
            db.session.add(competitor["cert"])
            db.session.flush()
        return real_render(*args, **kwargs)

    monkeypatch.setattr(
        certificate_service, "render_certificate", render_while_another_request_commits
    )
    with pytest.raises(ServiceError, match="already followed by certificate AAC-2099-0001"):
        certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    followers = db.session.scalars(
        sa.select(Certificate).where(Certificate.follows_revoked_id == revoked.id)
    ).all()
    assert followers == [competitor["cert"]]


def test_a_revocation_that_is_not_the_newest_cannot_be_named(revoked, director):
    """Cases from before this rule, where a later certificate was issued and revoked without
    naming the first revocation: only the newest revocation may be followed."""
    enrollment = revoked.enrollment
    later = Certificate(
        enrollment_id=enrollment.id,
        number="AAC-2098-0001",
        verification_code="LATER00000000001",
        version_id=revoked.version_id,
        issued_by_id=director.id,
        pdf=b"%PDF-1.7 later",
        sha256="1" * 64,
        status=CertificateStatus.REVOKED,
        status_reason="Also wrong.",
        status_changed_at=revoked.status_changed_at,
        issued_at=utcnow(),  # after the first, so the newest revocation
    )
    db.session.add(later)
    db.session.flush()
    db.session.refresh(enrollment, ["certificates"])
    assert enrollment.revoked_certificate is later
    with pytest.raises(ServiceError, match="Certificate AAC-2098-0001 is the newest revocation"):
        certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    new = certificate_service.issue_after_revocation(later, director, AGAIN_REASON)
    assert new.follows_revoked is later


def test_he_reads_it_in_his_language(app, revoked):
    man = revoked.enrollment.participant
    man.locale = "es"
    db.session.commit()
    me = signed_in(app, man)
    assert "Su certificado fue revocado" in text_of(me.get("/me/"))
    response = me.get(f"/me/certificates/{revoked.id}.pdf")
    assert response.status_code == 410
    page = text_of(response)
    assert '<html lang="es">' in page
    assert "Este certificado fue revocado" in page
    assert "ya no es válido, así que no puede descargarlo" in page


def test_a_certificate_issued_again_is_sealed_like_any_other(revoked, director, runner):
    """Its issue event names its case, so /verify and `audit verify` can confirm it against
    the record like a first certificate (issue 13, item 9)."""
    new = certificate_service.issue_after_revocation(revoked, director, AGAIN_REASON)
    db.session.commit()
    issued = [e for e in events("certificate.issue") if e.object_id == new.id]
    assert issued and issued[0].details["enrollment_id"] == new.enrollment_id
    assert issued[0].details["sha256"] == new.sha256
    assert certificate_service.integrity(new).intact
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
