"""Who the man is beyond his name (date of birth, court person number) and to whom a court
document goes: on the documents and his court's clerk pages, never on /verify nor to other
courts."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from intervention.extensions import db
from intervention.models import ReferralType, Role
from intervention.services import ServiceError, certificates, documents
from intervention.services import enrollments as enrollment_service

from .conftest import csrf_token, login
from .helpers import complete_case, events, pdf_text, signed_in, text_of
from .test_enrollment_admin import enroll, enrollment_form, upcoming  # noqa: F401

BIRTH = date(1984, 3, 9)
PERSON = "BK-2026-118830"
PARTIES = {
    "court_department": "Dept. 4, Judge A. Moreno",
    "prosecutor": "King County Prosecuting Attorney's Office, DPA L. Chen",
    "defense_attorney": "M. Okafor, Public Defender",
    "probation_officer": "PO D. Hale, Seattle Probation",
}


@pytest.fixture
def identified(make_enrollment):
    enrollment = make_enrollment(case_number="KC-26-770001")
    enrollment.date_of_birth = BIRTH
    enrollment.court_person_number = PERSON
    for key, value in PARTIES.items():
        setattr(enrollment, key, value)
    enrollment.referral_type = ReferralType.PROBATION_CONDITION
    db.session.flush()
    return enrollment


# --- at enrollment ------------------------------------------------------------------------------


def test_enrollment_needs_his_date_of_birth_unless_his_court_says_otherwise(
    make_user,
    make_court,
    upcoming,  # noqa: F811
):
    admin, court = make_user(Role.ADMIN), make_court("King County District Court")
    with pytest.raises(ServiceError, match="Give his date of birth"):
        enroll(admin, make_user(), upcoming, court, date_of_birth=None)
    with pytest.raises(ServiceError, match="before the referral date"):
        enroll(admin, make_user(), upcoming, court, date_of_birth=date.today() + timedelta(1))

    court.requires_date_of_birth = False
    case = enroll(
        admin, make_user(), upcoming, court, date_of_birth=None, court_person_number=PERSON
    )
    assert case.date_of_birth is None and case.court_person_number == PERSON

    other = make_court()
    case = enroll(admin, make_user(), upcoming, other, "KC-2", parties=PARTIES)
    assert case.date_of_birth == BIRTH
    assert {k: getattr(case, k) for k in PARTIES} == PARTIES


def test_the_enrollment_form_asks_for_it_and_records_the_parties(
    client,
    make_user,
    make_court,
    upcoming,  # noqa: F811
):
    court = make_court()
    man = make_user()
    login(client, make_user(Role.ADMIN))
    data = enrollment_form(upcoming, court, participant_id=str(man.id), date_of_birth="")
    token = csrf_token(client, "/admin/enrollments/new")
    response = client.post("/admin/enrollments/new", data={**data, "csrf_token": token})
    assert response.status_code == 422
    assert "Give his date of birth" in text_of(response)

    data.update(date_of_birth="1984-03-09", court_person_number=PERSON, **PARTIES)
    response = client.post("/admin/enrollments/new", data={**data, "csrf_token": token})
    assert response.status_code == 302, text_of(response)
    case = enrollment_service.open_case(court, data["case_number"])
    assert case.date_of_birth == BIRTH and case.court_person_number == PERSON
    assert case.prosecutor == PARTIES["prosecutor"]


# --- on the court documents ---------------------------------------------------------------------


def test_court_documents_identify_him_and_name_recipient_and_copies(identified):
    facilitator = complete_case(identified)
    for pdf in (
        documents.progress_report(identified, facilitator).pdf,
        certificates.issue(identified, facilitator).pdf,
    ):
        text = pdf_text(pdf)
        assert "Date of birth Mar 9, 1984" in text
        assert PERSON in text
        assert f"To: {identified.court.name}, Dept. 4, Judge A. Moreno" in text
        assert (
            "Copies to: Prosecutor: King County Prosecuting Attorney's Office, DPA L. Chen; "
            "Defense attorney: M. Okafor, Public Defender; "
            "Probation officer: PO D. Hale, Seattle Probation"
        ) in text


def test_pre_filing_diversion_documents_go_to_the_prosecutor(identified):
    identified.referral_type = ReferralType.PRE_FILING
    text = pdf_text(documents.progress_report(identified, identified.cohort.facilitators[0]).pdf)
    assert "To: King County Prosecuting Attorney's Office, DPA L. Chen" in text
    assert "Copies to: Defense attorney: M. Okafor" in text
    assert "Prosecutor:" not in text


# --- who sees them --------------------------------------------------------------------------


def test_his_courts_clerks_see_them_and_no_one_else_does(app, identified, make_user, make_court):
    clerk = make_user(Role.CLERK, court=identified.court)
    stranger = make_user(Role.CLERK, court=make_court())
    db.session.commit()
    ours = signed_in(app, clerk)
    page = text_of(ours.get(f"/court/cases/{identified.id}"))
    assert "Mar 9, 1984" in page and PERSON in page
    rows = list(csv.DictReader(io.StringIO(text_of(ours.get("/court/cases.csv")))))
    assert [(r["date_of_birth"], r["court_person_number"]) for r in rows] == [
        ("1984-03-09", PERSON)
    ]
    api = ours.get("/court/api/cases/KC-26-770001").get_json()
    assert (api["date_of_birth"], api["court_person_number"]) == ("1984-03-09", PERSON)

    theirs = signed_in(app, stranger)
    assert theirs.get(f"/court/cases/{identified.id}").status_code == 404
    listing = text_of(theirs.get("/court/cases.csv"))
    assert PERSON not in listing and "1984-03-09" not in listing
    answer = theirs.get("/court/api/cases/KC-26-770001")
    assert answer.status_code == 404
    assert PERSON not in answer.get_data(as_text=True)


def test_verify_never_shows_them(client, identified):
    cert = certificates.issue(identified, complete_case(identified))
    db.session.commit()
    token = csrf_token(client, "/verify")
    by_upload = client.post(
        "/verify",
        data={"csrf_token": token, "code": "", "pdf": (io.BytesIO(cert.pdf), "c.pdf")},
        content_type="multipart/form-data",
    )
    for response in (client.get(f"/verify/{cert.verification_code}"), by_upload):
        page = text_of(response)
        assert response.status_code == 200 and "valid" in page
        for secret in (PERSON, "1984", "Mar 9", "Date of birth", "Okafor", "Hale"):
            assert secret not in page, secret


def test_the_director_corrects_them_and_the_next_document_uses_them(client, identified, make_user):

    facilitator = identified.cohort.facilitators[0]
    before = documents.progress_report(identified, facilitator)
    admin = make_user(Role.ADMIN)
    db.session.commit()
    login(client, admin)
    url = f"/admin/enrollments/{identified.id}/referral"
    assert "Edit identity and parties" in text_of(
        client.get(f"/facilitator/enrollments/{identified.id}")
    )
    token = csrf_token(client, url)
    data = {"csrf_token": token, "date_of_birth": "", **PARTIES}
    response = client.post(url, data=data)
    assert response.status_code == 422 and "Give his date of birth" in text_of(response)
    data.update(date_of_birth="1985-03-09", court_person_number="BK-1", probation_officer="")
    response = client.post(url, data=data)
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    assert identified.date_of_birth == date(1985, 3, 9) and identified.probation_officer == ""
    [event] = events("enrollment.referral_update")
    assert event.details == {
        "fields": ["court_person_number", "date_of_birth", "probation_officer"]
    }
    after = pdf_text(documents.progress_report(identified, facilitator).pdf)
    assert "Mar 9, 1985" in after and "Probation officer:" not in after
    assert "Mar 9, 1984" in pdf_text(before.pdf)  # the stored document is unchanged


def test_a_notice_names_its_recipient_once(identified):
    from intervention.models import AttendanceStatus
    from intervention.services import attendance, notices

    identified.referral_type = ReferralType.PRE_FILING
    identified.overrides = {"max_gap_days": None}
    facilitator = identified.cohort.facilitators[0]
    for session in identified.cohort.sessions[:2]:
        attendance.mark(session, identified, AttendanceStatus.ABSENT, 0, facilitator)
    notice, *_others = notices.draft_for(identified)
    text = pdf_text(documents.generate_notice(notice, facilitator).pdf)
    # The notice's own To/Cc block (labels set in capitals) is the only address.
    assert "TO King County Prosecuting Attorney's Office, DPA L. Chen" in text
    assert text.count("King County Prosecuting Attorney's Office") == 1
    assert "CC Defense attorney: M. Okafor" in text
    assert f"TO {identified.court.name}" not in text and "To:" not in text
