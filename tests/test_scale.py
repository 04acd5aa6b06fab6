"""The scale data generator: shapes that agree with the services, a manifest that points at
real rows in the states it promises, and a valid audit chain."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from intervention.demo.scale import PASSWORD, ScaleRefused, generate
from intervention.extensions import db
from intervention.models import (
    Attendance,
    AttendanceStatus,
    AuditEvent,
    Certificate,
    Cohort,
    Court,
    Enrollment,
    EnrollmentState,
    Meeting,
    Reflection,
    ReflectionState,
    Role,
    SessionStatus,
    User,
    utcnow,
)
from intervention.services import audit, certificates, completion
from intervention.services import completion_text as words
from intervention.services.curriculum import is_open

from .conftest import login

N = 60


@pytest.fixture
def scale(tmp_path):
    """Scale data for N men, added inside this test's transaction, with its manifest."""
    path = tmp_path / "manifest.json"
    summary = generate(N, certificates=2, seed=7, manifest=path)
    assert json.loads(path.read_text()) == summary.manifest
    return summary


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count(model.id)).where(*where))


def test_makes_n_men_in_cohorts_of_about_twelve_with_staff_for_them(scale):
    assert count(User, User.role == Role.PARTICIPANT) == N
    assert count(Enrollment) == N
    courts = count(Court)
    assert courts == 2
    assert count(User, User.role == Role.CLERK) == courts
    assert count(User, User.role == Role.ADMIN) == 1
    cohorts = db.session.scalars(sa.select(Cohort)).all()
    assert 4 <= len(cohorts) <= 6
    for cohort in cohorts:
        assert 5 <= len(cohort.enrollments) <= 16
        assert cohort.facilitators
        assert len(cohort.sessions) == len(cohort.version.modules)
    assert count(Meeting) == sum(len(c.version.modules) for c in cohorts)
    # Only sessions that have started are held, and only held sessions carry marks.
    now = utcnow()
    held = db.session.scalars(sa.select(Meeting).where(Meeting.status == SessionStatus.HELD))
    assert all(s.scheduled_at < now for s in held)
    marked = sa.select(Attendance).join(Meeting, Attendance.session_id == Meeting.id)
    assert not db.session.scalars(marked.where(Meeting.status != SessionStatus.HELD)).first()
    users = db.session.scalars(sa.select(User)).all()
    assert len({u.password_hash for u in users}) == 1
    assert users[0].check_password(PASSWORD)
    assert scale.counts["users"] == len(users)
    assert scale.counts["certificates"] == count(Certificate) == 2


def test_the_audit_chain_verifies(scale):
    ok, broken, checked = audit.verify_chain()
    assert ok, broken
    assert checked == scale.counts["audit_events"] > N


def test_no_event_holds_a_participants_email_or_case_number_or_a_reason(scale):
    """As the services write them (issue 13): ids, never his email, case number or the free
    text that retention scrubs from the record."""
    emails = db.session.scalars(sa.select(User.email).where(User.role == Role.PARTICIPANT))
    cases = db.session.scalars(sa.select(Enrollment.case_number))
    never = [*emails, *cases]
    for action, details in db.session.execute(sa.select(AuditEvent.action, AuditEvent.details)):
        text = json.dumps(details)
        assert "case_number" not in details, text
        if action.startswith(("attendance.", "enrollment.")):
            assert "reason" not in details, text
        assert not any(value in text for value in never), text


def test_states_agree_with_the_completion_engine(scale):
    enrollments = db.session.scalars(sa.select(Enrollment)).all()
    now = utcnow()
    finished = [e for e in enrollments if e.cohort.sessions[-1].scheduled_at < now]
    assert finished
    for enrollment in enrollments:
        result = completion.evaluate(enrollment)
        if enrollment in finished and enrollment.state is not EnrollmentState.TERMINATED:
            # Completed, or awaiting the certificate: the engine agrees he is done.
            assert result.complete, (enrollment.id, words.unmet(result))
        elif enrollment.state is EnrollmentState.TERMINATED:
            assert words.violations(result)
        else:
            assert result.possible and not result.complete, (enrollment.id, words.unmet(result))
    issued = db.session.scalars(sa.select(Certificate)).all()
    assert {c.enrollment.state for c in issued} == {EnrollmentState.COMPLETED}
    assert all(c.pdf.startswith(b"%PDF") for c in issued)


def test_manifest_participants_are_mid_course_with_a_draft_on_an_open_prompt(scale):
    manifest = scale.manifest
    assert manifest["scale"] == N and manifest["password"] == PASSWORD
    assert len(manifest["participants"]) >= 8
    now = utcnow()
    for item in manifest["participants"]:
        enrollment = db.session.get(Enrollment, item["enrollment_id"])
        assert enrollment.participant.email == item["email"]
        assert enrollment.state is EnrollmentState.ACTIVE
        sessions = enrollment.cohort.sessions
        assert sessions[0].scheduled_at < now < sessions[-1].scheduled_at  # running
        reflection = db.session.scalar(
            sa.select(Reflection).where(
                Reflection.enrollment_id == enrollment.id,
                Reflection.prompt_id == item["prompt_id"],
            )
        )
        assert reflection.state is ReflectionState.DRAFT and reflection.draft_text
        assert reflection.draft_revision == item["draft_revision"] >= 1
        module = reflection.prompt.module
        assert module.session_number == item["module_number"] > 1
        assert is_open(enrollment.cohort, module)


def test_manifest_staff_and_certificate_point_at_real_rows(scale):
    manifest = scale.manifest
    facilitator = db.session.scalar(
        sa.select(User).where(User.email == manifest["facilitator"]["email"])
    )
    cohort = db.session.get(Cohort, manifest["facilitator"]["cohort_id"])
    assert cohort.is_facilitated_by(facilitator)
    assert sum(e.state is EnrollmentState.ACTIVE for e in cohort.enrollments) >= 10
    assert cohort.sessions[0].scheduled_at < utcnow() < cohort.sessions[-1].scheduled_at

    clerk_data = manifest["clerk"]
    clerk = db.session.scalar(sa.select(User).where(User.email == clerk_data["email"]))
    assert clerk.role is Role.CLERK and clerk.court_id == clerk_data["court_id"]
    case = db.session.get(Enrollment, clerk_data["case_enrollment_id"])
    assert case.court_id == clerk.court_id and case.valid_certificate is not None
    like = f"%{clerk_data['search_query']}%"
    hits = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id))
        .join(User, Enrollment.participant_id == User.id)
        .where(Enrollment.court_id == clerk.court_id)
        .where(sa.or_(Enrollment.case_number.ilike(like), User.full_name.ilike(like)))
    )
    assert 1 <= hits <= 10

    cert = certificates.find_by_code(manifest["certificate"]["code"])
    assert cert.id == manifest["certificate"]["id"]


def test_a_manifest_participant_can_sign_in_and_see_his_page(scale, client):
    item = scale.manifest["participants"][0]
    user = db.session.scalar(sa.select(User).where(User.email == item["email"]))
    login(client, user, PASSWORD)
    assert client.get("/me/").status_code == 200


def test_a_few_missed_sessions_are_made_up_elsewhere(tmp_path):
    generate(300, certificates=0, seed=2)
    made_up = db.session.scalars(
        sa.select(Attendance).where(Attendance.status == AttendanceStatus.MADE_UP)
    ).all()
    assert made_up
    for mark in made_up:
        other = mark.linked_attendance
        assert other.linked_attendance_id == mark.id
        assert other.session.cohort_id != mark.session.cohort_id
        assert other.session_id == mark.made_up_at_session_id
        assert completion.evaluate(mark.enrollment).complete


def test_refuses_a_database_that_has_accounts(make_user, runner):
    make_user(Role.ADMIN)
    with pytest.raises(ScaleRefused):
        generate(5)
    result = runner.invoke(args=["seed-demo", "--scale", "5"])
    assert result.exit_code == 1
    assert "Refused: the database already has accounts" in result.output
    assert count(User) == 1
