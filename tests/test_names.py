"""Names hold no bidirectional control characters: a right-to-left override makes a name shown
on a roster, a case page or a court document read as something else ("Trojan Source",
CVE-2021-42574). Forms and the services that set names remove them (issue 13)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import Court, ReferralType, Role, User
from intervention.services import courts, enrollments, rosters, scheduling, staff_accounts

from .helpers import post_form, signed_in, text_of, today

# Every character the issue names: embeddings and overrides (U+202A-U+202E), isolates
# (U+2066-U+2069), the left-to-right and right-to-left marks and the Arabic letter mark.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
SPOOFED = "\u202eKarl\u202c Smith\u2066\u200f"  # shows as "lraK Smith" with its order flipped


def has_bidi(text: str) -> bool:
    return any(c in BIDI for c in text)


@pytest.mark.parametrize("char", list(BIDI))
def test_each_character_is_removed_from_a_new_participants_name(make_user, char):
    admin = make_user(Role.ADMIN)
    man = enrollments.new_participant(
        full_name=f"Karl{char} Smith", email=f"karl{ord(char)}@test.example", actor=admin
    )
    assert man.full_name == "Karl Smith"


def test_services_that_set_names_remove_them(make_user, program, make_court):
    admin = make_user(Role.ADMIN)
    facilitator = make_user(Role.FACILITATOR)
    staff = staff_accounts.invite_staff(
        full_name=SPOOFED,
        email="k.smith@test.example",
        role=Role.FACILITATOR,
        court=None,
        actor=admin,
    )
    assert staff.full_name == "Karl Smith"
    court = courts.create_court(
        name="\u202eKing County\u202c Court",
        jurisdiction="\u2067King\u2069 County",
        timezone="America/Los_Angeles",
        notice_deadline_days=7,
        actor=admin,
    )
    assert (court.name, court.jurisdiction) == ("King County Court", "King County")
    courts.update_court(
        court,
        name="King\u200f County Court",
        jurisdiction="King County",
        timezone="America/Los_Angeles",
        notice_deadline_days=7,
        actor=admin,
    )
    assert court.name == "King County Court"
    cohort = scheduling.create_cohort(
        name="Tuesday\u202e evenings",
        version=program.latest_version,
        facilitators=[facilitator],
        start_date=today() + timedelta(days=7),
        weekday=(today() + timedelta(days=7)).weekday(),
        start_time=time(18, 30),
        timezone="America/Los_Angeles",
        location="Room 1",
        video_link="",
        actor=admin,
    )
    assert cohort.name == "Tuesday evenings"
    man = enrollments.new_participant(full_name="Carl Carter", email="c@test.example", actor=admin)
    case = enrollments.enroll(
        participant=man,
        cohort=cohort,
        court=court,
        case_number="KC-26-\u202e100001",
        referral_type=ReferralType.PRE_FILING,
        referral_date=today(),
        completion_deadline=None,
        starts_on=None,
        overrides={},
        note="",
        actor=admin,
        date_of_birth=date(1984, 3, 9),  # required by default since issue 14
    )
    assert case.case_number == "KC-26-100001"


def test_forms_remove_them_before_checking_a_name_is_given(app, make_user, make_court):
    admin = make_user(Role.ADMIN)
    court = make_court()
    db.session.commit()
    client = signed_in(app, admin)
    # A name of nothing but control characters is no name.
    response = post_form(
        client,
        "/admin/courts/new",
        {
            "name": "\u202e\u202c",
            "jurisdiction": "x",
            "timezone": "America/New_York",
            "notice_deadline_days": "7",
        },
    )
    assert response.status_code == 422 and "Give the name." in text_of(response)
    assert db.session.scalar(sa.select(sa.func.count(Court.id))) == 1
    response = post_form(
        client,
        "/admin/staff/new",
        {"full_name": SPOOFED, "email": "k.s@test.example", "role": "clerk", "court_id": court.id},
    )
    assert response.status_code == 302, text_of(response)
    user = db.session.scalar(sa.select(User).where(User.email == "k.s@test.example"))
    assert user.full_name == "Karl Smith"


def test_roster_import_removes_them_from_every_cell(make_cohort, make_enrollment):
    cohort = make_cohort()
    man = make_enrollment(cohort=cohort, case_number="KC-26-000001")
    facilitator = cohort.facilitators[0]
    data = (
        "case_number,status,minutes,note,reason\n"
        "\u202eKC-26-000001\u202c,present,120,\u2066Signed\u2069 the sheet,\n"
    )
    result = rosters.import_roster(cohort.sessions[0], data.encode(), facilitator)
    assert result.changed == 1
    [mark] = man.attendance
    assert mark.note == "Signed the sheet" and not has_bidi(mark.note)
