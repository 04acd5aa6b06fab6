"""Who sees what (DESIGN.md): every route's audience, ownership answered with 404, reflection
text kept from clerks and from other men, and CSRF on every form that changes something."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass

import pytest

from intervention.extensions import db
from intervention.models import (
    Cohort,
    CourtDocument,
    DocumentKind,
    Enrollment,
    Meeting,
    ReflectionAttempt,
    Role,
    User,
    utcnow,
)
from intervention.services import calendar as calendar_service
from intervention.services import reflections as reflection_service

from .conftest import csrf_token
from .helpers import (
    answer,
    drafted_notice,
    prompts_by_key,
    save_provider,
    signed_in,
    stored_certificate,
    text_of,
)

P, F, C, A = Role.PARTICIPANT, Role.FACILITATOR, Role.CLERK, Role.ADMIN
SIGNED_IN = frozenset(Role)

# Every endpoint of the app and who may use it. A new route fails
# test_every_route_is_in_the_access_table until it is added here.
ACCESS: dict[str, str | frozenset[Role]] = {
    "static": "public",
    "public.index": "public",
    "public.healthz": "public",
    "public.verify": "public",
    "public.verify_code": "public",
    "public.calendar_feed": "public",
    "auth.login": "public",
    "auth.welcome": "public",  # the signed one-time link is the proof
    "auth.logout": SIGNED_IN,
    "auth.login_code": "public",  # the password step in this session is the proof
    "auth.login_passkey": "public",  # the same, and the passkey's signature
    "auth.login_enrol": "public",  # the password step, for an account with no factor yet
    "auth.enrol_passkey": "public",  # the same
    "auth.account": SIGNED_IN,
    "auth.end_session": SIGNED_IN,  # only his own sessions; others' ids read as ended
    "auth.end_other_sessions": SIGNED_IN,
    "auth.sign_out_everywhere": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.two_step": frozenset({F, C, A}),  # second factors are for staff accounts
    "auth.passkeys": frozenset({F, C, A}),
    "auth.remove_passkey": frozenset({F, C, A}),  # his own passkeys only
    "auth.recovery_codes": frozenset({F, C, A}),
    "auth.language": "public",  # visitors pick a language too; see the test below
    "participant.home": frozenset({P}),
    "participant.module": frozenset({P}),
    "participant.modules": frozenset({P}),
    "participant.module_asset": frozenset({P}),
    "participant.reflections": frozenset({P}),
    "participant.reflection": frozenset({P}),
    "participant.save_draft": frozenset({P}),
    "participant.certificate_pdf": frozenset({P}),
    "participant.schedule": frozenset({P}),
    "participant.renew_calendar_link": frozenset({P}),
    "participant.my_data": frozenset({P}),
    "participant.my_data_json": frozenset({P}),
    "facilitator.home": frozenset({F, A}),
    "facilitator.cohort": frozenset({F, A}),
    "facilitator.module": frozenset({F, A}),
    "facilitator.module_asset": frozenset({F, A}),
    "facilitator.attendance": frozenset({F, A}),
    "facilitator.review_queue": frozenset({F, A}),
    "facilitator.review": frozenset({F, A}),
    "facilitator.enrollment": frozenset({F, A}),
    "cases.issue_certificate": frozenset({F, A}),
    "cases.certificate_pdf": frozenset({F, A}),
    "facilitator.cohort_csv": frozenset({F, A}),
    "facilitator.session_csv": frozenset({F, A}),
    "facilitator.import_roster": frozenset({F, A}),
    "facilitator.record_makeup": frozenset({F, A}),
    "facilitator.enrollment_csv": frozenset({F, A}),
    "facilitator.notice_sent": frozenset({F, A}),
    "cases.case": frozenset({F, A}),
    "cases.change_status": frozenset({F, A}),
    "cases.progress_report": frozenset({F, A}),
    "cases.record_contact": frozenset({F, A}),
    "cases.set_recommendation": frozenset({F, A}),
    "cases.notice_pdf": frozenset({F, A}),
    "cases.reissue_certificate": frozenset({F, A}),
    "cases.document_pdf": frozenset({F, A}),
    "clerk.cases": frozenset({C}),
    "clerk.case": frozenset({C}),
    "clerk.certificate_pdf": frozenset({C}),
    "clerk.document_pdf": frozenset({C}),
    "clerk.cases_csv": frozenset({C}),
    "clerk.export_zip": frozenset({C}),
    "clerk.api_case": frozenset({C}),
    "admin.home": frozenset({A}),
    "admin.certificate": frozenset({A}),
    "admin.issue_again": frozenset({A}),
    "admin.cohort": frozenset({A}),
    "admin.courts": frozenset({A}),
    "admin.provider": frozenset({A}),
    "admin.provider_logo": frozenset({A}),
    "admin.new_court": frozenset({A}),
    "admin.edit_court": frozenset({A}),
    "admin.cohorts": frozenset({A}),
    "admin.new_cohort": frozenset({A}),
    "admin.edit_cohort": frozenset({A}),
    "admin.reschedule_session": frozenset({A}),
    "admin.cancel_session": frozenset({A}),
    "admin.enrollments": frozenset({A}),
    "admin.new_enrollment": frozenset({A}),
    "admin.edit_referral": frozenset({A}),
    "admin.new_invitation": frozenset({A}),
    "admin.invitation": frozenset({A}),
    "admin.audit_log": frozenset({A}),
    "admin.holds": frozenset({A}),
    "admin.case_hold": frozenset({A}),
    "admin.audit_csv": frozenset({A}),
    "admin.staff": frozenset({A}),
    "admin.new_staff": frozenset({A}),
    "admin.staff_account": frozenset({A}),
    "admin.disable_staff": frozenset({A}),
    "admin.enable_staff": frozenset({A}),
    "admin.staff_invitation": frozenset({A}),
}

SECRET = "Xyzzysecretanswer"  # a word that appears only in the reflection


@dataclass
class World:
    """One case with a submitted reflection and a certificate, and one user per role."""

    enrollment: Enrollment
    participant: User
    facilitator: User
    clerk: User
    admin: User
    attempt: ReflectionAttempt
    prompt_id: int
    session: Meeting
    cohort: Cohort
    certificate_id: int
    notice_id: int = 0  # a drafted non-compliance notice of the case
    report_id: int = 0  # a generated progress report of the case (stored PDF)

    def user(self, role: Role) -> User:
        return {P: self.participant, F: self.facilitator, C: self.clerk, A: self.admin}[role]

    def request(self, endpoint: str) -> tuple[str, str]:
        """(method, url) that reaches the endpoint with this world's real ids."""
        e, cert = self.enrollment.id, self.certificate_id
        return {
            "auth.logout": ("POST", "/logout"),
            "auth.login_code": ("GET", "/login/code"),
            "auth.login_passkey": ("POST", "/login/passkey"),
            "auth.login_enrol": ("GET", "/login/enrol"),
            "auth.enrol_passkey": ("POST", "/login/enrol/passkey"),
            "auth.account": ("GET", "/account"),
            "auth.end_session": ("POST", "/account/sessions/end"),
            "auth.end_other_sessions": ("POST", "/account/sessions/end-others"),
            "auth.sign_out_everywhere": ("POST", "/account/sessions/end-all"),
            "auth.change_password": ("POST", "/account/password"),
            "auth.two_step": ("POST", "/account/two-step"),
            "auth.passkeys": ("POST", "/account/passkeys"),
            "auth.remove_passkey": ("POST", "/account/passkeys/1/remove"),
            "auth.recovery_codes": ("POST", "/account/recovery-codes"),
            "auth.language": ("POST", "/language"),
            "participant.home": ("GET", "/me/"),
            "participant.module": ("GET", "/me/modules/1"),
            "participant.modules": ("GET", "/me/modules"),
            "participant.module_asset": ("GET", "/me/modules/assets/week-plan.png"),
            "participant.reflections": ("GET", "/me/reflections"),
            "participant.reflection": ("GET", f"/me/reflections/{self.prompt_id}"),
            "participant.save_draft": (
                "POST",
                f"/me/reflections/{prompts_by_key(self.enrollment)['my-excuses'].id}/draft",
            ),
            "participant.certificate_pdf": ("GET", f"/me/certificates/{cert}.pdf"),
            "participant.schedule": ("GET", "/me/schedule"),
            "participant.renew_calendar_link": ("POST", "/me/schedule/calendar-link"),
            "participant.my_data": ("GET", "/me/data"),
            "participant.my_data_json": ("GET", "/me/data.json"),
            # The participant's private feed: the World fixture gives him a token.
            "public.calendar_feed": ("GET", f"/calendar/{self.participant.calendar_token}.ics"),
            "facilitator.home": ("GET", "/facilitator/"),
            "facilitator.cohort": ("GET", f"/facilitator/cohorts/{self.cohort.id}"),
            "facilitator.module": ("GET", f"/facilitator/cohorts/{self.cohort.id}/modules/1"),
            "facilitator.module_asset": (
                "GET",
                f"/facilitator/cohorts/{self.cohort.id}/modules/assets/week-plan.png",
            ),
            "facilitator.attendance": (
                "GET",
                f"/facilitator/sessions/{self.session.id}/attendance",
            ),
            "facilitator.review_queue": ("GET", "/facilitator/reviews"),
            "facilitator.review": ("GET", f"/facilitator/reviews/{self.attempt.id}"),
            "facilitator.enrollment": ("GET", f"/facilitator/enrollments/{e}"),
            "cases.issue_certificate": ("POST", f"/cases/{e}/certificate"),
            "cases.certificate_pdf": ("GET", f"/cases/certificates/{cert}.pdf"),
            "facilitator.cohort_csv": (
                "GET",
                f"/facilitator/cohorts/{self.cohort.id}/attendance.csv",
            ),
            "facilitator.session_csv": (
                "GET",
                f"/facilitator/sessions/{self.session.id}/roster.csv",
            ),
            "facilitator.import_roster": ("GET", f"/facilitator/sessions/{self.session.id}/import"),
            "facilitator.record_makeup": (
                "POST",
                f"/facilitator/sessions/{self.session.id}/makeups",
            ),
            "facilitator.enrollment_csv": ("GET", f"/facilitator/enrollments/{e}/record.csv"),
            "facilitator.notice_sent": ("POST", f"/facilitator/notices/{self.notice_id}/sent"),
            "cases.case": ("GET", f"/cases/{e}"),
            "cases.change_status": ("POST", f"/cases/{e}/status"),
            "cases.progress_report": ("POST", f"/cases/{e}/progress-report"),
            "cases.record_contact": ("POST", f"/cases/{e}/contacts"),
            "cases.set_recommendation": ("POST", f"/cases/{e}/recommendation"),
            "cases.notice_pdf": ("POST", f"/cases/notices/{self.notice_id}/pdf"),
            "cases.reissue_certificate": ("POST", f"/cases/certificates/{cert}/reissue"),
            "cases.document_pdf": ("GET", f"/cases/documents/{self.report_id}.pdf"),
            "clerk.cases": ("GET", "/court/"),
            "clerk.case": ("GET", f"/court/cases/{e}"),
            "clerk.certificate_pdf": ("GET", f"/court/certificates/{cert}.pdf"),
            "clerk.document_pdf": ("GET", f"/court/documents/{self.report_id}.pdf"),
            "clerk.cases_csv": ("GET", "/court/cases.csv"),
            "clerk.export_zip": ("GET", "/court/export.zip?from=2026-01-01&to=2026-01-31"),
            "clerk.api_case": ("GET", f"/court/api/cases/{self.enrollment.case_number}"),
            "admin.home": ("GET", "/admin/"),
            "admin.certificate": ("GET", f"/admin/certificates/{cert}"),
            "admin.issue_again": ("POST", f"/admin/certificates/{cert}/issue-again"),
            "admin.cohort": ("GET", f"/admin/cohorts/{self.cohort.id}"),
            "admin.courts": ("GET", "/admin/courts"),
            "admin.provider": ("GET", "/admin/provider"),
            "admin.provider_logo": ("GET", "/admin/provider/logo"),
            "admin.new_court": ("GET", "/admin/courts/new"),
            "admin.edit_court": ("GET", f"/admin/courts/{self.enrollment.court_id}/edit"),
            "admin.cohorts": ("GET", "/admin/cohorts"),
            "admin.new_cohort": ("GET", "/admin/cohorts/new"),
            "admin.edit_cohort": ("GET", f"/admin/cohorts/{self.cohort.id}/edit"),
            "admin.reschedule_session": ("GET", f"/admin/sessions/{self.session.id}/reschedule"),
            "admin.cancel_session": ("GET", f"/admin/sessions/{self.session.id}/cancel"),
            "admin.enrollments": ("GET", "/admin/enrollments"),
            "admin.new_enrollment": ("GET", "/admin/enrollments/new"),
            "admin.edit_referral": ("GET", f"/admin/enrollments/{self.enrollment.id}/referral"),
            "admin.new_invitation": (
                "POST",
                f"/admin/participants/{self.participant.id}/invitation",
            ),
            "admin.invitation": ("GET", "/admin/invitation"),
            "admin.audit_log": ("GET", "/admin/audit"),
            "admin.holds": ("GET", "/admin/holds"),
            "admin.case_hold": ("GET", f"/admin/cases/{e}/hold"),
            "admin.audit_csv": ("GET", "/admin/audit.csv"),
            "admin.staff": ("GET", "/admin/staff"),
            "admin.new_staff": ("GET", "/admin/staff/new"),
            "admin.staff_account": ("GET", f"/admin/staff/{self.facilitator.id}"),
            "admin.disable_staff": ("POST", f"/admin/staff/{self.facilitator.id}/disable"),
            "admin.enable_staff": ("POST", f"/admin/staff/{self.facilitator.id}/enable"),
            "admin.staff_invitation": ("POST", f"/admin/staff/{self.facilitator.id}/invitation"),
        }[endpoint]


@pytest.fixture
def world(make_user, make_court, make_enrollment) -> World:
    court = make_court()
    enrollment = make_enrollment(court=court)
    facilitator = enrollment.cohort.facilitators[0]
    admin = make_user(A)
    prompt = prompts_by_key(enrollment)["what-happened"]
    reflection = reflection_service.reflection_for(enrollment, prompt)
    attempt = reflection_service.submit(reflection, answer(SECRET, 80), 0, enrollment.participant)
    cert = stored_certificate(enrollment, admin, "ACCESSTEST000001")
    notice = drafted_notice(enrollment)
    report_pdf = b"%PDF-1.7 stand-in progress report"
    report = CourtDocument(
        enrollment=enrollment,
        kind=DocumentKind.PROGRESS_REPORT,
        pdf=report_pdf,
        sha256=hashlib.sha256(report_pdf).hexdigest(),
        generated_by=admin,
        generated_at=utcnow(),
    )
    db.session.add(report)
    calendar_service.ensure_token(enrollment.participant)
    save_provider(admin)
    db.session.commit()
    return World(
        enrollment=enrollment,
        participant=enrollment.participant,
        facilitator=facilitator,
        clerk=make_user(C, court=court),
        admin=admin,
        attempt=attempt,
        prompt_id=prompt.id,
        session=enrollment.cohort.sessions[0],
        cohort=enrollment.cohort,
        certificate_id=cert.id,
        notice_id=notice.id,
        report_id=report.id,
    )


# Routes that end the session they are sent from.
SIGNING_OUT = ("auth.logout", "auth.sign_out_everywhere")

# The fields a POST needs besides its CSRF token, for routes that refuse an empty form.
FORM_DATA = {
    "participant.save_draft": {"text": "A first line", "revision": "0"},
    "auth.language": {"language": "en", "next": "/verify"},  # English: later pages stay so
}


def send(client, method: str, url: str, token_page: str = "/login", data: dict | None = None):
    """GET, or POST a form carrying the session's CSRF token (otherwise empty by default)."""
    if method == "GET":
        return client.get(url)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client, token_page)})


# --- the table covers every route ---------------------------------------------------------------


def test_every_route_is_in_the_access_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - ACCESS.keys()
    assert not missing, f"routes without an access rule; add them to ACCESS: {sorted(missing)}"
    assert not ACCESS.keys() - endpoints, "ACCESS names routes that no longer exist"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_reaches_exactly_its_own_pages(app, world, role):
    client = signed_in(app, world.user(role))
    home = {P: "/me/", F: "/facilitator/", C: "/court/", A: "/admin/"}[role]
    wrong = []
    for endpoint, allowed in sorted(ACCESS.items()):
        if allowed == "public" or endpoint in SIGNING_OUT:
            continue  # public pages are tested below; signing out would end this session
        method, url = world.request(endpoint)
        response = send(client, method, url, token_page=home, data=FORM_DATA.get(endpoint))
        if role in allowed:
            ok, want = response.status_code in (200, 302), "200 or 302"
        else:
            ok, want = response.status_code == 403, "403"
        if not ok:
            wrong.append(f"{method} {url} ({endpoint}): {response.status_code}, want {want}")
        if response.status_code == 403:
            assert "Your account cannot open this page." in text_of(response)
    assert not wrong, f"{role.value}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_signed_in_role_can_sign_out(app, world, role):
    client = signed_in(app, world.user(role))
    home = {P: "/me/", F: "/facilitator/", C: "/court/", A: "/admin/"}[role]
    response = client.post("/logout", data={"csrf_token": csrf_token(client, home)})
    assert response.status_code == 302
    assert "You are signed out." in text_of(client.get("/login"))
    assert client.get(home).headers["Location"].startswith("/login")


# --- anonymous visitors -------------------------------------------------------------------------

PROTECTED = [
    "/me/",
    "/me/modules/1",
    "/me/reflections",
    "/me/reflections/1",
    "/me/certificates/1.pdf",
    "/me/schedule",
    "/facilitator/",
    "/facilitator/cohorts/1",
    "/facilitator/sessions/1/attendance",
    "/facilitator/sessions/1/import",
    "/facilitator/sessions/1/roster.csv",
    "/facilitator/cohorts/1/attendance.csv",
    "/facilitator/enrollments/1/record.csv",
    "/facilitator/reviews",
    "/facilitator/reviews/1",
    "/facilitator/enrollments/1",
    "/cases/certificates/1.pdf",
    "/cases/1",
    "/cases/documents/1.pdf",
    "/court/",
    "/court/cases/1",
    "/court/certificates/1.pdf",
    "/court/documents/1.pdf",
    "/court/cases.csv",
    "/court/export.zip",
    "/court/api/cases/KC-1",
    "/admin/",
    "/admin/certificates/1",
    "/admin/courts",
    "/admin/provider",
    "/admin/cohorts",
    "/admin/cohorts/new",
    "/admin/enrollments",
    "/admin/enrollments/new",
    "/admin/sessions/1/reschedule",
    "/admin/audit",
    "/admin/audit.csv",
    "/admin/staff",
    "/admin/staff/1",
]


@pytest.mark.parametrize("url", PROTECTED)
def test_anonymous_visitor_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    page = text_of(client.get(response.headers["Location"]))
    assert "Please sign in to see that page." in page


def test_anonymous_posts_to_protected_forms_are_sent_to_sign_in(client):
    token = csrf_token(client, "/login")
    for url in ["/logout", "/cases/1/certificate", "/me/schedule/calendar-link"]:
        response = client.post(url, data={"csrf_token": token})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/", "Verify a certificate"),
        ("/login", "Sign in"),
        ("/verify", "Enter the verification code printed on the certificate"),
        ("/healthz", '"status":"ok"'),
        ("/verify/0000-0000-0000-0000", "No certificate has this code"),
    ],
)
def test_public_pages_answer_without_sign_in(client, url, expected):
    response = client.get(url)
    assert response.status_code == (404 if url.startswith("/verify/") else 200)
    assert expected in text_of(response).replace(": ", ":")


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "anonymous")
def test_everyone_may_pick_a_language(app, world, role):
    client = signed_in(app, world.user(role)) if role else app.test_client()
    method, url = world.request("auth.language")
    response = send(client, method, url, token_page="/verify", data=FORM_DATA["auth.language"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/verify"


def test_public_verify_link_shows_a_real_certificate(client, world):
    response = client.get("/verify/acce-sste-st00-0001")
    assert response.status_code == 200
    assert world.participant.full_name in text_of(response)


def test_sign_in_never_redirects_off_site(client, make_user):
    user = make_user(P)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example/phish",
        data={"email": user.email, "password": "correct horse battery staple", "csrf_token": token},
    )
    assert response.headers["Location"] == "/me/"


def test_wrong_password_does_not_sign_in(client, make_user):
    user = make_user(F)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": "not it", "csrf_token": token}
    )
    assert "That email and password do not match an active account." in text_of(response)
    assert client.get("/facilitator/").status_code == 302


# --- participants: only their own record --------------------------------------------------------


def test_a_participant_never_sees_another_mans_reflection(app, world, make_user, make_enrollment):
    other = make_user(P, name="Brian Other")
    make_enrollment(participant=other, cohort=world.cohort)
    db.session.commit()
    client = signed_in(app, other)

    page = text_of(client.get(f"/me/reflections/{world.prompt_id}"))
    assert SECRET not in page
    assert '<textarea id="text" name="text" rows="14"' in page  # his own, empty editor
    assert "Not submitted" in page
    assert client.get("/me/reflections").status_code == 200
    assert SECRET not in text_of(client.get("/me/modules/1"))

    assert client.get(f"/facilitator/reviews/{world.attempt.id}").status_code == 403
    response = client.get(f"/me/certificates/{world.certificate_id}.pdf")
    assert response.status_code == 404
    assert b"%PDF" not in response.get_data()

    # The author himself reads it.
    mine = signed_in(app, world.participant)
    assert SECRET in text_of(mine.get(f"/me/reflections/{world.prompt_id}"))


def test_participant_cannot_open_a_prompt_of_another_program_version(app, world, tmp_path):
    """A real prompt of the same program's newer version (his cohort keeps its own): not his."""
    from intervention.curriculum.sync import sync_curricula

    from .conftest import FIXTURE_CURRICULA

    folder = tmp_path / "curricula"
    shutil.copytree(FIXTURE_CURRICULA, folder)
    module = folder / "accountability-and-change" / "modules" / "01-why-you-are-here.md"
    module.write_text(module.read_text() + "\nA paragraph only the newer version has.\n")
    [result] = sync_curricula(folder)
    assert result.created
    newer = result.version
    ours = world.cohort.version
    assert newer.id != ours.id and newer.program_id == ours.program_id
    other = newer.modules[0].prompts[0]
    own = next(p for p in ours.modules[0].prompts if p.key == other.key)
    db.session.commit()

    client = signed_in(app, world.participant)
    assert client.get(f"/me/reflections/{own.id}").status_code == 200  # the same prompt, his
    assert client.get(f"/me/reflections/{other.id}").status_code == 404
    token = csrf_token(client, f"/me/reflections/{own.id}")
    posted = client.post(
        f"/me/reflections/{other.id}", data={"csrf_token": token, "text": "x", "revision": "0"}
    )
    assert posted.status_code == 404
    assert client.get("/me/reflections/999999").status_code == 404
    assert client.get("/me/modules/99").status_code == 404


def test_participant_without_a_case_is_told_so(app, make_user):
    client = signed_in(app, make_user(P))
    assert "You are not in a class yet" in text_of(client.get("/me/"))
    assert client.get("/me/modules/1").status_code == 404


# --- facilitators: only their own cohorts ---------------------------------------------------------


def test_a_facilitator_cannot_open_another_facilitators_records(app, world, make_user):
    stranger = signed_in(app, make_user(F, name="Fran Elsewhere"))
    director = signed_in(app, world.admin)
    urls = {
        "cohort": f"/facilitator/cohorts/{world.cohort.id}",
        "attendance": f"/facilitator/sessions/{world.session.id}/attendance",
        "review": f"/facilitator/reviews/{world.attempt.id}",
        "enrollment": f"/facilitator/enrollments/{world.enrollment.id}",
        "certificate": f"/cases/certificates/{world.certificate_id}.pdf",
    }
    for name, url in urls.items():
        response = stranger.get(url)
        assert response.status_code == 404, name
        assert "not yours to see" in text_of(response)
        assert SECRET not in text_of(response)
        assert director.get(url).status_code == 200, name
    assert SECRET in text_of(director.get(urls["review"]))

    token = csrf_token(stranger, "/facilitator/")
    response = stranger.post(
        f"/cases/{world.enrollment.id}/certificate", data={"csrf_token": token}
    )
    assert response.status_code == 404
    queue = text_of(stranger.get("/facilitator/reviews"))
    assert world.participant.full_name not in queue
    assert "Nothing is waiting for review" in queue
    assert world.cohort.name not in text_of(stranger.get("/facilitator/"))


def test_a_facilitator_cannot_mark_a_man_from_another_cohort(app, world, make_enrollment):
    outsider = make_enrollment()  # another cohort, another facilitator
    db.session.commit()
    client = signed_in(app, world.facilitator)
    url = f"/facilitator/sessions/{world.session.id}/attendance"
    token = csrf_token(client, url)
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "rows-0-enrollment_id": str(outsider.id),
            "rows-0-status": "present",
        },
    )
    assert response.status_code == 422
    assert "A row names a man who is not on this session&#39;s roster." in text_of(response)
    db.session.expire_all()
    assert outsider.attendance == []


# --- clerks: their own court's cases, never reflection text ---------------------------------------


def test_a_clerk_sees_only_his_courts_cases(app, world, make_user, make_court):
    other_clerk = signed_in(app, make_user(C, court=make_court("Another Court")))
    case = world.enrollment.case_number
    assert other_clerk.get(f"/court/cases/{world.enrollment.id}").status_code == 404
    assert other_clerk.get(f"/court/certificates/{world.certificate_id}.pdf").status_code == 404
    results = text_of(other_clerk.get("/court/", query_string={"q": case}))
    assert f"/court/cases/{world.enrollment.id}" not in results
    assert world.participant.full_name not in results
    assert "No case matches." in results
    for url in ["/me/", f"/facilitator/reviews/{world.attempt.id}", "/facilitator/", "/admin/"]:
        assert other_clerk.get(url).status_code == 403, url

    own_clerk = signed_in(app, world.clerk)
    results = text_of(own_clerk.get("/court/", query_string={"q": case}))
    assert f'href="/court/cases/{world.enrollment.id}">{case}</a>' in results
    assert own_clerk.get(f"/court/certificates/{world.certificate_id}.pdf").status_code == 200


def test_a_clerk_never_sees_reflection_text(app, world):
    client = signed_in(app, world.clerk)
    case_page = text_of(client.get(f"/court/cases/{world.enrollment.id}"))
    assert world.enrollment.case_number in case_page
    assert "0 of 4 required" in case_page  # he sees the count, not the words
    assert SECRET not in case_page
    assert "I thought about my choices" not in case_page
    assert SECRET not in text_of(client.get("/court/"))
    # Searching for words of an answer finds nothing: search reads case numbers and names only.
    assert "No case matches." in text_of(client.get("/court/", query_string={"q": SECRET}))


def test_an_answers_markup_never_runs_on_the_reviewers_page(app, world):
    me = signed_in(app, world.participant)
    prompt = prompts_by_key(world.enrollment)["my-excuses"]
    url = f"/me/reflections/{prompt.id}"
    hostile = (
        answer("Hostile", 100)
        + "\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>"
        + " [call me](javascript:alert(3))"
    )
    response = me.post(
        url,
        data={
            "csrf_token": csrf_token(me, url),
            "text": hostile,
            "revision": "0",
            "submit": "Submit for review",
        },
    )
    assert response.status_code == 302
    attempt = reflection_service.reflection_for(world.enrollment, prompt).latest_attempt

    fac = signed_in(app, world.facilitator)
    for page in (
        text_of(fac.get(f"/facilitator/reviews/{attempt.id}")),
        text_of(me.get(url)),
    ):
        assert "Hostile" in page
        assert "<script>alert" not in page
        assert "<img src" not in page
        assert 'href="javascript:' not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as the text he typed


# --- CSRF: a form posted without its token is refused ---------------------------------------------


def _refused(response) -> None:
    assert response.status_code == 400
    assert "Your form expired" in text_of(response)


def test_sign_in_without_csrf_token_is_refused(client, make_user):
    user = make_user(P)
    client.get("/login")
    _refused(
        client.post(
            "/login", data={"email": user.email, "password": "correct horse battery staple"}
        )
    )
    assert client.get("/me/").status_code == 302  # still signed out


def test_forms_without_csrf_token_are_refused(app, world):
    me = signed_in(app, world.participant)
    prompt = prompts_by_key(world.enrollment)["my-excuses"]
    me.get(f"/me/reflections/{prompt.id}")
    _refused(
        me.post(
            f"/me/reflections/{prompt.id}",
            data={"text": answer("Nocsrf", 100), "revision": "0", "submit": "Submit"},
        )
    )

    fac = signed_in(app, world.facilitator)
    _refused(
        fac.post(
            f"/facilitator/reviews/{world.attempt.id}",
            data={"outcome": "accepted", "comment": ""},
        )
    )
    _refused(
        fac.post(
            f"/facilitator/sessions/{world.session.id}/attendance",
            data={"rows-0-enrollment_id": str(world.enrollment.id), "rows-0-status": "present"},
        )
    )
    _refused(fac.post(f"/cases/{world.enrollment.id}/certificate"))
    _refused(fac.post("/logout"))

    db.session.expire_all()
    reflection = reflection_service.reflection_for(world.enrollment, prompt)
    assert reflection.attempts == []
    assert world.attempt.review is None
    assert world.enrollment.attendance == []
    assert "Dana" not in text_of(fac.get("/facilitator/"))  # still signed in: no sign-out
    assert fac.get("/facilitator/").status_code == 200


# --- the ownership rules themselves, for every role -----------------------------------------------


def test_who_may_see_a_case_status_and_attendance(world, make_user, make_court):
    """access.can_see_case, as DESIGN.md states it: the director every case, a facilitator his
    cohorts' cases, a clerk his court's, a participant his own; anyone else none."""
    from intervention.access import can_see_case

    case = world.enrollment
    allowed = [world.admin, world.facilitator, world.clerk, world.participant]
    refused = [
        make_user(F, name="Fran Elsewhere"),
        make_user(C, court=make_court()),
        make_user(P),
    ]
    assert [can_see_case(user, case) for user in allowed] == [True] * len(allowed)
    assert [can_see_case(user, case) for user in refused] == [False] * len(refused)
