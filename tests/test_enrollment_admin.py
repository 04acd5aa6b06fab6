"""Enrolling a man on a court's referral, one open enrollment per case, and the invitation link
with which a new participant chooses his password."""

from __future__ import annotations

import re
import time as clock
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from intervention.auth import invitations
from intervention.extensions import db
from intervention.models import (
    Court,
    Enrollment,
    EnrollmentState,
    ReferralType,
    Role,
    User,
)
from intervention.services import ServiceError
from intervention.services import enrollments as enrollment_service

from .conftest import PASSWORD, csrf_token, login
from .helpers import events, post_form, signed_in, text_of, today


@pytest.fixture
def upcoming(make_cohort):
    """A cohort whose sessions are all ahead."""
    return make_cohort(start=today() + timedelta(days=5))


def enroll(admin, participant, cohort, court, case_number="KC-26-100001", **overrides):
    values = {
        "participant": participant,
        "cohort": cohort,
        "court": court,
        "case_number": case_number,
        "referral_type": ReferralType.DEFERRED_PROSECUTION,
        "referral_date": today() - timedelta(days=3),
        "completion_deadline": today() + timedelta(days=120),
        "starts_on": None,
        "overrides": {},
        "note": "",
        "actor": admin,
        "date_of_birth": date(1984, 3, 9),  # required by default since issue 14
    }
    values.update(overrides)
    return enrollment_service.enroll(**values)


# --- the service ----------------------------------------------------------------------------------


class TestEnroll:
    def test_the_referral_is_recorded_then_the_case_is_active(
        self, admin, upcoming, make_user, make_court
    ):
        court = make_court("King County District Court")
        man = make_user(Role.PARTICIPANT, name="Carl Carter")
        enrollment = enroll(
            admin,
            man,
            upcoming,
            court,
            overrides={"sessions_required": 5, "max_absences": None, "max_gap_days": 14},
            note="Order of Oct 2: twelve weeks.",
        )
        assert enrollment.state is EnrollmentState.ACTIVE
        # Only the rules the court changed are stored.
        assert enrollment.overrides == {"sessions_required": 5, "max_gap_days": 14}
        # Starts on the cohort's start date, since that is after today.
        assert enrollment.starts_on == upcoming.start_date
        steps = [(t.from_state, t.to_state, t.reason) for t in enrollment.transitions]
        assert steps == [
            (
                None,
                EnrollmentState.REFERRED,
                "Referral from King County District Court: Order of Oct 2: twelve weeks.",
            ),
            (EnrollmentState.REFERRED, EnrollmentState.ACTIVE, "Enrolled by Dana Director."),
        ]
        assert all(t.actor_id == admin.id for t in enrollment.transitions)
        [created] = events("enrollment.create")
        assert created.object_id == enrollment.id
        assert "case_number" not in created.details  # ids only, never the case number
        assert created.details["overrides"] == {"sessions_required": 5, "max_gap_days": 14}
        assert events("enrollment.transition")[-1].details["to"] == "active"

    def test_enrollment_starts_today_in_a_cohort_already_under_way(
        self, admin, make_cohort, make_user, make_court
    ):
        cohort = make_cohort(start=today() - timedelta(days=8))  # session 3 is ahead
        enrollment = enroll(admin, make_user(), cohort, make_court())
        assert enrollment.starts_on == today()

    def test_a_second_open_enrollment_of_the_same_case_is_refused_by_name(
        self, admin, upcoming, make_user, make_court
    ):
        court = make_court("King County District Court")
        first = enroll(admin, make_user(name="Carl Carter"), upcoming, court)
        with pytest.raises(ServiceError) as refused:
            enroll(admin, make_user(name="Other Man"), upcoming, court, case_number="kc-26-100001 ")
        assert str(refused.value) == (
            f"Case KC-26-100001 at King County District Court is already open: Carl Carter in "
            f"{upcoming.name} (active). Close that enrollment before enrolling the case again."
        )
        # The same number at another court is another case.
        enroll(admin, make_user(), upcoming, make_court("Pierce County District Court"))
        # Once the first is closed, the case may be enrolled again.
        enrollment_service.transition(first, EnrollmentState.WITHDRAWN, admin, "Moved away.")
        again = enroll(admin, first.participant, upcoming, court)
        assert again.state is EnrollmentState.ACTIVE

    def test_the_unique_index_backs_the_check_up_with_the_same_message(
        self, admin, upcoming, make_user, make_court, monkeypatch
    ):
        """Two requests enrolling one case at once both pass the check; the index stops one."""
        court = make_court("King County District Court")
        enroll(admin, make_user(name="Carl Carter"), upcoming, court)
        real = enrollment_service.open_case
        checks = []

        def open_case(court, case_number):
            checks.append(case_number)
            # The first check misses, as if the other request had not committed yet.
            return None if len(checks) == 1 else real(court, case_number)

        monkeypatch.setattr(enrollment_service, "open_case", open_case)
        with pytest.raises(ServiceError, match="is already open: Carl Carter in"):
            enroll(admin, make_user(), upcoming, court)
        # The transaction is still usable after the refused insert.
        assert len(checks) == 2
        assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1

    def test_a_cohort_whose_sessions_were_all_held_is_refused(
        self, admin, make_cohort, make_user, make_court
    ):
        finished = make_cohort()  # three sessions, the last five weeks ago
        with pytest.raises(ServiceError, match="has already been held. Choose a cohort with"):
            enroll(admin, make_user(), finished, make_court())

    def test_a_start_after_the_last_session_is_refused(
        self, admin, upcoming, make_user, make_court
    ):
        with pytest.raises(ServiceError, match="No session of .* falls on or after"):
            enroll(
                admin, make_user(), upcoming, make_court(), starts_on=today() + timedelta(days=60)
            )

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            (
                {"completion_deadline": today() - timedelta(days=3)},
                "The completion deadline must be after the referral date.",
            ),
            ({"overrides": {"sessions_required": 0}}, "Sessions required must be a whole number"),
            ({"overrides": {"max_absences": -1}}, "Max absences must be a whole number"),
            ({"overrides": {"late_counts_as_attended": 1}}, "is not a rule a court can change"),
            ({"case_number": "  "}, "Give the case or docket number."),
        ],
    )
    def test_refusals(self, admin, upcoming, make_user, make_court, overrides, message):
        with pytest.raises(ServiceError, match=message):
            enroll(admin, make_user(), upcoming, make_court(), **overrides)

    def test_only_participants_are_enrolled(self, admin, upcoming, make_user, make_court):
        with pytest.raises(ServiceError, match="is not a participant account"):
            enroll(admin, make_user(Role.FACILITATOR), upcoming, make_court())

    def test_a_new_participant_cannot_sign_in_until_he_sets_a_password(self, admin, make_user):
        man = enrollment_service.new_participant(
            full_name="  Carl Carter ", email="Carl@Example.org ", actor=admin
        )
        assert (man.full_name, man.email, man.role) == (
            "Carl Carter",
            "carl@example.org",
            Role.PARTICIPANT,
        )
        assert not man.check_password("")
        assert events("user.create")[0].object_id == man.id
        with pytest.raises(ServiceError, match="already exists \\(Carl Carter\\)"):
            enrollment_service.new_participant(
                full_name="Someone", email="CARL@example.org", actor=admin
            )
        with pytest.raises(ServiceError, match="Give a valid email address"):
            enrollment_service.new_participant(full_name="X", email="carl-at-home", actor=admin)


# --- invitation links -----------------------------------------------------------------------------


class TestInvitationLinks:
    def test_a_link_opens_his_account_once(self, make_user):
        man = make_user()
        token = invitations.make_token(man)
        assert invitations.user_for_token(token) is man
        man.set_password("a brand new password")
        assert invitations.user_for_token(token) is None

    def test_forged_and_expired_links_open_nothing(self, make_user, monkeypatch):
        man = make_user()
        token = invitations.make_token(man)
        assert (
            invitations.user_for_token(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
        )
        assert invitations.user_for_token("not-a-token") is None
        fifteen_days_ago = int(clock.time()) - 15 * 86400
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: fifteen_days_ago)
        old = invitations.make_token(man)
        monkeypatch.undo()
        assert invitations.user_for_token(old) is None

    def test_a_link_for_a_disabled_account_opens_nothing(self, make_user):
        man = make_user()
        token = invitations.make_token(man)
        man.active = False
        assert invitations.user_for_token(token) is None


# --- the pages ------------------------------------------------------------------------------------


def enrollment_form(cohort, court, **values):
    data = {
        "participant_id": "0",
        "full_name": "",
        "email": "",
        "cohort_id": str(cohort.id),
        "court_id": str(court.id),
        "case_number": "KC-26-104417",
        "referral_type": "probation_condition",
        "referral_date": (today() - timedelta(days=2)).isoformat(),
        "completion_deadline": "",
        "starts_on": "",
        "sessions_required": "",
        "max_absences": "",
        "max_consecutive_absences": "",
        "max_gap_days": "",
        "note": "",
        # Required by default since issue 14: courts identify him by it.
        "date_of_birth": "1984-03-09",
    }
    data.update(values)
    return data


LINK_RE = re.compile(r">https://intervention\.example(/welcome/[^<\s]+)</textarea>")


def test_admin_enrolls_a_new_man_who_sets_his_password_from_the_link(
    app, director, upcoming, make_court
):
    court = make_court("King County District Court")
    db.session.commit()
    response = post_form(
        director,
        "/admin/enrollments/new",
        enrollment_form(
            upcoming,
            court,
            full_name="Carl Carter",
            email="carl@example.org",
            completion_deadline=(today() + timedelta(days=90)).isoformat(),
            sessions_required="4",
            max_gap_days="10",
            note="Order of the court, Oct 2.",
        ),
    )
    assert response.status_code == 302, text_of(response)
    assert response.headers["Location"] == "/admin/invitation"
    page = director.get("/admin/invitation")
    assert page.headers["Cache-Control"] == "no-store"
    html = text_of(page)
    assert "Carl Carter enrolled in" in html
    assert "Invitation link for Carl Carter" in html
    [link] = LINK_RE.findall(html)
    # The page shows the link once.
    again = director.get("/admin/invitation")
    assert again.headers["Location"] == "/admin/enrollments"
    assert "shown only once" in text_of(director.get("/admin/enrollments"))

    man = db.session.scalar(sa.select(User).where(User.email == "carl@example.org"))
    [enrollment] = db.session.scalars(sa.select(Enrollment).where(Enrollment.participant == man))
    assert enrollment.state is EnrollmentState.ACTIVE
    assert enrollment.referral_type is ReferralType.PROBATION_CONDITION
    assert enrollment.overrides == {"sessions_required": 4, "max_gap_days": 10}
    assert enrollment.starts_on == upcoming.start_date
    assert events("invitation.create")[0].object_id == man.id
    assert link.split("/")[-1] not in str([e.details for e in events("invitation.create")])

    # He opens the link, not signed in.
    him = app.test_client()
    page = him.get(link)
    assert page.status_code == 200
    assert "Welcome, Carl Carter" in text_of(page)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    token = csrf_token(him, link)
    response = him.post(link, data={"csrf_token": token, "password": "short", "confirm": "short"})
    assert "Use at least 10 characters." in text_of(response)
    response = him.post(
        link,
        data={"csrf_token": token, "password": "river stone lamp", "confirm": "river stone lamb"},
    )
    assert "The two passwords are not the same." in text_of(response)
    response = him.post(
        link,
        data={"csrf_token": token, "password": "river stone lamp", "confirm": "river stone lamp"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/"
    home = him.get("/me/")
    assert home.status_code == 200
    assert "Your password is saved. You are signed in." in text_of(home)
    assert [e.object_id for e in events("auth.password_set")] == [man.id]

    # The link is used up, for him and for anyone else.
    for client in (him, app.test_client()):
        response = client.get(link)
        assert response.status_code == 404
        assert "This link does not work" in text_of(response)
    # His new password works on the sign-in page.
    other = app.test_client()
    db.session.expire_all()
    login(other, man, password="river stone lamp")


def test_the_welcome_form_needs_its_csrf_token(app, make_user):
    man = make_user()
    db.session.commit()
    link = "/welcome/" + invitations.make_token(man)
    client = app.test_client()
    client.get(link)
    response = client.post(
        link, data={"password": "river stone lamp", "confirm": "river stone lamp"}
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert man.check_password(PASSWORD)


def test_a_forged_link_gets_a_plain_message(client):
    response = client.get("/welcome/eyJ1c2VyIjoxfQ.forged.signature")
    assert response.status_code == 404
    assert "Ask the program staff for a new link." in text_of(response)


def test_admin_enrolls_an_existing_participant_and_refuses_a_duplicate_case(
    director, upcoming, make_user, make_court
):
    court = make_court("King County District Court")
    man = make_user(name="Carl Carter")
    db.session.commit()
    page = text_of(director.get(f"/admin/enrollments/new?cohort={upcoming.id}"))
    assert f'<option selected value="{upcoming.id}">' in page
    response = post_form(
        director,
        "/admin/enrollments/new",
        enrollment_form(upcoming, court, participant_id=str(man.id)),
    )
    assert response.status_code == 302, text_of(response)
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.participant == man))
    assert response.headers["Location"] == f"/facilitator/enrollments/{enrollment.id}"
    assert "Referral from King County District Court." in text_of(
        director.get(response.headers["Location"])
    )

    second = make_user(name="Other Man")
    db.session.commit()
    response = post_form(
        director,
        "/admin/enrollments/new",
        enrollment_form(upcoming, court, participant_id=str(second.id)),
    )
    assert response.status_code == 422
    assert "Case KC-26-104417 at King County District Court is already open: Carl Carter in" in (
        text_of(response)
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "Choose a participant, or enter a new one&#39;s name and email."),
        ({"full_name": "Carl Carter"}, "Give his email address."),
        ({"email": "carl@example.org"}, "Give his full name."),
        ({"full_name": "Carl", "email": "carl"}, "Give a valid email address"),
        (
            {"completion_deadline": (today() - timedelta(days=5)).isoformat()},
            "The deadline must be after the referral date.",
        ),
        ({"max_absences": "-1"}, "Give a whole number from 0 to 1000."),
    ],
)
def test_enrollment_form_errors(director, upcoming, make_court, values, message):
    court = make_court()
    db.session.commit()
    response = post_form(
        director, "/admin/enrollments/new", enrollment_form(upcoming, court, **values)
    )
    assert response.status_code == 422
    assert message in text_of(response)


def test_existing_and_new_participant_at_once_is_refused(director, upcoming, make_court, make_user):
    court, man = make_court(), make_user()
    db.session.commit()
    response = post_form(
        director,
        "/admin/enrollments/new",
        enrollment_form(upcoming, court, participant_id=str(man.id), full_name="Someone Else"),
    )
    assert "Choose an existing participant or enter a new one, not both." in text_of(response)


def test_finished_cohorts_are_not_offered(director, make_cohort, make_court, upcoming):
    finished = make_cohort()
    make_court()
    db.session.commit()
    page = text_of(director.get("/admin/enrollments/new"))
    assert upcoming.name in page
    assert finished.name not in page


def test_enrollment_list_filters_and_makes_a_fresh_link(
    app, director, make_enrollment, make_court, make_cohort
):
    king, pierce = make_court("King County District Court"), make_court("Pierce County Court")
    a = make_enrollment(court=king, case_number="KING-77")
    b = make_enrollment(court=pierce, case_number="PIERCE-88")
    enrollment_service.transition(b, EnrollmentState.WITHDRAWN, a.cohort.facilitators[0], "Moved.")
    db.session.commit()

    def listed(**query) -> str:
        return text_of(director.get("/admin/enrollments", query_string=query))

    page = listed()
    assert "KING-77" in page and "PIERCE-88" in page
    assert f'href="/facilitator/enrollments/{a.id}"' in page
    assert "PIERCE-88" not in listed(court=king.id)
    assert "KING-77" not in listed(cohort=b.cohort_id)
    assert "KING-77" not in listed(state="withdrawn") and "PIERCE-88" in listed(state="withdrawn")
    assert "PIERCE-88" not in listed(q="king")
    assert "No enrollment matches." in listed(q="nothing-like-it")

    # A fresh link for a man who already has a password: it works until used.
    token = csrf_token(director, "/admin/enrollments")
    response = director.post(
        f"/admin/participants/{a.participant_id}/invitation", data={"csrf_token": token}
    )
    assert response.headers["Location"] == "/admin/invitation"
    [link] = LINK_RE.findall(text_of(director.get("/admin/invitation")))
    assert app.test_client().get(link).status_code == 200
    # Staff accounts get no links.
    response = director.post(
        f"/admin/participants/{a.cohort.facilitators[0].id}/invitation",
        data={"csrf_token": token},
    )
    assert response.status_code == 404


def test_new_admin_pages_answer_403_to_every_other_role(app, make_user, make_court):
    court = make_court()
    db.session.commit()
    urls = [
        "/admin/courts",
        "/admin/courts/new",
        "/admin/cohorts",
        "/admin/cohorts/new",
        "/admin/enrollments",
        "/admin/enrollments/new",
        "/admin/invitation",
    ]
    for role in (Role.PARTICIPANT, Role.FACILITATOR, Role.CLERK):
        client = signed_in(app, make_user(role, court=court if role is Role.CLERK else None))
        for url in urls:
            assert client.get(url).status_code == 403, (role, url)
        home = {Role.PARTICIPANT: "/me/", Role.FACILITATOR: "/facilitator/"}.get(role, "/court/")
        token = csrf_token(client, home)
        response = client.post("/admin/courts/new", data={"csrf_token": token, "name": "X"})
        assert response.status_code == 403
    assert db.session.scalar(sa.select(Court).where(Court.name == "X")) is None
