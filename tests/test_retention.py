"""Retention: closed cases past their program's period are anonymised, unless on legal hold."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import AuditEvent, ReviewOutcome, Role
from intervention.models.enrollments import EnrollmentState
from intervention.services import ServiceError, notices, retention
from intervention.services import enrollments as enrollment_service
from intervention.services import reflections as reflection_service

from .helpers import answer, events, stored_certificate, submit_answer

CLOSED_AT = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)


def _close(enrollment, admin, state=EnrollmentState.TERMINATED, at=CLOSED_AT):
    enrollment_service.transition(enrollment, state, admin, "Closed by the court.")
    for t in enrollment.transitions:
        t.at = at
    db.session.flush()


def _reflect(enrollment, reviewer):
    attempt = submit_answer(enrollment, "what-happened", answer("Secretanswer", 80))
    reflection_service.review(attempt, ReviewOutcome.RETURNED, "Say more, Secretcomment.", reviewer)
    return attempt.reflection, attempt


def test_closed_case_past_its_period_is_anonymised(make_enrollment, make_user, runner):
    admin = make_user(Role.ADMIN)
    enrollment = make_enrollment()
    man = enrollment.participant
    reflection, attempt = _reflect(enrollment, enrollment.cohort.facilitators[0])
    cert = stored_certificate(enrollment, admin, "RETN-TEST-CODE")
    contact = notices.record_contact(
        enrollment, admin, on=date(2023, 1, 5), method="phone", outcome="Spoke to his wife."
    )
    notices.set_recommendation(
        enrollment, admin, recommendation="none", text="Moved to Ohio.", may_reenroll=False
    )
    _close(enrollment, admin)
    man.calendar_token = "secret-calendar-token"
    db.session.flush()

    result = runner.invoke(args=["retention", "apply", "--today", "2024-03-02"])
    assert result.exit_code == 0, result.output
    assert "1 case(s) were anonymised" in result.output
    assert "Accountability" in result.output or "1 case(s) anonymised" in result.output
    assert "PDF" in result.output  # says that certificates are kept, and why

    db.session.refresh(man)
    assert man.full_name == f"Former participant #{man.id}"
    assert man.email.endswith(".invalid") and str(man.id) in man.email
    assert not man.check_password("password")
    assert man.calendar_token is None
    assert not man.active
    assert attempt.text == retention.REMOVED
    assert attempt.review.comment == retention.REMOVED
    assert contact.outcome == enrollment.recommendation_text == retention.REMOVED
    assert enrollment.anonymized_at is not None
    # The court can still verify: number, status, hash and the case number survive.
    assert cert.number and cert.status.value == "valid" and cert.pdf
    assert enrollment.case_number.startswith("TC-")
    [applied] = events("retention.apply")
    assert enrollment.id in applied.details["enrollment_ids"]


def test_not_yet_due_open_and_held_cases_are_kept(make_enrollment, make_user):
    admin = make_user(Role.ADMIN)
    recent = make_enrollment()
    _close(recent, admin, at=datetime(2023, 6, 1, tzinfo=UTC))
    still_open = make_enrollment()
    held = make_enrollment()
    _close(held, admin, state=EnrollmentState.WITHDRAWN)
    retention.set_hold(held, True, "Appeal pending.", admin)

    report = retention.apply(date(2024, 3, 2))

    assert report.total == 0
    assert sum(report.held.values()) == 1
    for enrollment in (recent, still_open, held):
        assert enrollment.anonymized_at is None
        assert not enrollment.participant.full_name.startswith("Former")


def test_dry_run_changes_nothing(make_enrollment, make_user):
    admin = make_user(Role.ADMIN)
    enrollment = make_enrollment()
    _close(enrollment, admin)
    name = enrollment.participant.full_name
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    report = retention.apply(date(2025, 1, 1), dry_run=True)

    assert report.total == 1
    assert enrollment.anonymized_at is None
    assert enrollment.participant.full_name == name
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before


def test_man_with_another_open_case_keeps_his_account(make_enrollment, make_user, make_cohort):
    admin = make_user(Role.ADMIN)
    old = make_enrollment()
    man = old.participant
    _reflect(old, old.cohort.facilitators[0])
    _close(old, admin)
    make_enrollment(participant=man, cohort=make_cohort())

    report = retention.apply(date(2025, 1, 1))

    assert sum(report.texts_only.values()) == 1
    assert not man.full_name.startswith("Former")
    assert man.active
    assert old.anonymized_at is not None
    assert all(a.text == retention.REMOVED for r in old.reflections for a in r.attempts)


def test_retention_years_come_from_the_program(make_enrollment, make_user, program):
    admin = make_user(Role.ADMIN)
    enrollment = make_enrollment()
    _close(enrollment, admin)
    program.retention_years = 10
    db.session.flush()
    assert retention.apply(date(2025, 1, 1)).total == 0
    program.retention_years = 1
    db.session.flush()
    assert retention.apply(date(2025, 1, 1)).total == 1


def test_legal_hold_needs_a_reason(make_enrollment, make_user):
    admin = make_user(Role.ADMIN)
    enrollment = make_enrollment()
    try:
        retention.set_hold(enrollment, True, "  ", admin)
    except ServiceError as exc:
        assert "reason" in str(exc)
    else:
        raise AssertionError("a hold without a reason was accepted")
    retention.set_hold(enrollment, True, "Civil suit.", admin)
    assert enrollment.legal_hold and enrollment.legal_hold_reason == "Civil suit."
    retention.set_hold(enrollment, False, "", admin)
    assert not enrollment.legal_hold


def test_program_yaml_retention_years_is_read_and_checked(tmp_path):
    import shutil

    from intervention.curriculum.loader import load_program

    from .conftest import FIXTURE_CURRICULA

    folder = tmp_path / "accountability-and-change"
    shutil.copytree(FIXTURE_CURRICULA / "accountability-and-change", folder)
    loaded, _ = load_program(folder)
    assert loaded.retention_years == 4
    yaml_path = folder / "program.yaml"
    yaml_path.write_text(yaml_path.read_text() + "\nretention_years: 7\n")
    loaded, _ = load_program(folder)
    assert loaded.retention_years == 7
    yaml_path.write_text(yaml_path.read_text().replace("retention_years: 7", "retention_years: x"))
    loaded, problems = load_program(folder)
    assert loaded is None
    assert any("retention_years" in p.message for p in problems)
