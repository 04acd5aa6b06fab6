"""Facilitator pages. A facilitator reaches only his own cohorts; an admin reaches every one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import can_facilitate, get_or_404, guard_blueprint, owned_or_404
from ..downloads import asset_response, certificate_response
from ..extensions import db
from ..forms import EmptyForm
from ..models import (
    AttendanceStatus,
    Certificate,
    Cohort,
    Enrollment,
    Reflection,
    ReflectionAttempt,
    ReflectionState,
    Role,
    Session,
    cohort_facilitators,
    utcnow,
)
from ..services import ServiceError, completion, curriculum
from ..services import attendance as attendance_service
from ..services import certificates as certificate_service
from ..services import reflections as reflection_service
from .forms import ReviewForm, RosterForm

bp = Blueprint("facilitator", __name__)
guard_blueprint(bp, Role.FACILITATOR, Role.ADMIN)


def my_cohorts_query():
    query = select(Cohort).order_by(Cohort.start_date.desc())
    if current_user.role is not Role.ADMIN:
        query = query.join(cohort_facilitators).where(
            cohort_facilitators.c.user_id == current_user.id
        )
    return query


def waiting_reviews_query(cohort_ids):
    return (
        select(ReflectionAttempt)
        .join(Reflection, ReflectionAttempt.reflection_id == Reflection.id)
        .join(Enrollment, Reflection.enrollment_id == Enrollment.id)
        .where(Reflection.state == ReflectionState.SUBMITTED, Enrollment.cohort_id.in_(cohort_ids))
        .where(~ReflectionAttempt.review.has())
        .order_by(ReflectionAttempt.submitted_at)
    )


def _cohort(cohort_id: int) -> Cohort:
    cohort = get_or_404(Cohort, cohort_id)
    owned_or_404(can_facilitate(current_user, cohort))
    return cohort


def _enrollment(enrollment_id: int) -> Enrollment:
    enrollment = get_or_404(Enrollment, enrollment_id)
    owned_or_404(can_facilitate(current_user, enrollment.cohort))
    return enrollment


@bp.route("/")
def home():
    cohorts = db.session.scalars(my_cohorts_query()).all()
    waiting = db.session.scalars(waiting_reviews_query([c.id for c in cohorts])).all()
    summaries = []
    for cohort in cohorts:
        results = [(e, completion.evaluate(e)) for e in cohort.enrollments]
        summaries.append(
            {
                "cohort": cohort,
                "enrolled": len(results),
                "waiting": sum(
                    1 for a in waiting if a.reflection.enrollment.cohort_id == cohort.id
                ),
                "at_risk": sum(1 for e, r in results if e.state.is_open and not r.possible),
                "ready": sum(1 for e, r in results if r.complete and e.valid_certificate is None),
            }
        )
    return render_template("facilitator/home.html", summaries=summaries, waiting=len(waiting))


@bp.route("/cohorts/<int:cohort_id>")
def cohort(cohort_id: int):
    cohort = _cohort(cohort_id)
    rows = []
    for enrollment in sorted(cohort.enrollments, key=lambda e: e.participant.full_name):
        result = completion.evaluate(enrollment)
        marks = {line.session.id: line for line in result.lines}
        rows.append((enrollment, result, marks))
    return render_template("facilitator/cohort.html", cohort=cohort, rows=rows, now=utcnow())


@bp.route("/cohorts/<int:cohort_id>/modules/<int:number>")
def module(cohort_id: int, number: int):
    """The module as the men read it, with the facilitator notes; always open to staff."""
    cohort = _cohort(cohort_id)
    module = cohort.version.module(number)
    if module is None:
        abort(404)
    return render_template(
        "curriculum/print.html" if request.args.get("print") else "facilitator/module.html",
        cohort=cohort,
        module=module,
        session=curriculum.session_for(cohort, module),
        show_notes=True,
    )


@bp.route("/cohorts/<int:cohort_id>/modules/assets/<path:name>")
def module_asset(cohort_id: int, name: str):
    return asset_response(_cohort(cohort_id).version, name)


@bp.route("/sessions/<int:session_id>/attendance", methods=["GET", "POST"])
def attendance(session_id: int):
    session = get_or_404(Session, session_id)
    owned_or_404(can_facilitate(current_user, session.cohort))
    local_day = attendance_service.local_date(session)
    enrollments = sorted(
        (e for e in session.cohort.enrollments if e.state.is_open and e.starts_on <= local_day),
        key=lambda e: e.participant.full_name,
    )
    by_id = {e.id: e for e in enrollments}
    current = {
        a.enrollment_id: a for e in enrollments for a in e.attendance if a.session_id == session.id
    }
    form = RosterForm()
    if request.method == "GET":
        for e in enrollments:
            mark = current.get(e.id)
            form.rows.append_entry(
                {
                    "enrollment_id": e.id,
                    "status": mark.status.value if mark else "",
                    "minutes": mark.minutes_credited if mark else None,
                    "note": mark.note if mark else "",
                }
            )
    errors: list[str] = []
    if form.validate_on_submit():
        changed = 0
        for row in form.rows:
            enrollment = by_id.get(row.enrollment_id.data)
            if enrollment is None:
                errors.append("A row names a man who is not on this session's roster.")
                continue
            if not row.status.data:
                continue
            status = AttendanceStatus(row.status.data)
            minutes = row.minutes.data
            if minutes is None:
                credited = status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
                minutes = session.module.duration_minutes if credited else 0
            try:
                before = current.get(enrollment.id)
                before_state = (before.status, before.minutes_credited) if before else None
                attendance_service.mark(
                    session,
                    enrollment,
                    status,
                    minutes,
                    current_user,
                    note=row.note.data or "",
                    reason=row.reason.data or "",
                )
                changed += before_state != (status, minutes)
            except ServiceError as exc:
                errors.append(f"{enrollment.participant.full_name}: {exc}")
        if not errors:
            db.session.commit()
            flash(
                f"Attendance saved for session {session.number} ({changed} change(s)).", "success"
            )
            return redirect(url_for(".cohort", cohort_id=session.cohort_id))
        db.session.rollback()  # all or nothing: one bad row saves none
    elif request.method == "POST":
        errors.append("The roster could not be read. Check the rows marked below.")
    rows = [
        (row, by_id.get(row.enrollment_id.data), current.get(row.enrollment_id.data))
        for row in form.rows
    ]
    return render_template(
        "facilitator/attendance.html",
        session=session,
        form=form,
        rows=rows,
        errors=errors,
        future=session.scheduled_at > utcnow(),
    ), (422 if errors else 200)


@bp.route("/reviews")
def review_queue():
    cohorts = db.session.scalars(my_cohorts_query()).all()
    waiting = db.session.scalars(waiting_reviews_query([c.id for c in cohorts])).all()
    return render_template("facilitator/review_queue.html", waiting=waiting)


@bp.route("/reviews/<int:attempt_id>", methods=["GET", "POST"])
def review(attempt_id: int):
    attempt = get_or_404(ReflectionAttempt, attempt_id)
    reflection = attempt.reflection
    owned_or_404(can_facilitate(current_user, reflection.enrollment.cohort))
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            from ..models import ReviewOutcome

            reflection_service.review(
                attempt, ReviewOutcome(form.outcome.data), form.comment.data or "", current_user
            )
            db.session.commit()
            flash(f"Review saved: {ReviewOutcome(form.outcome.data).label.lower()}.", "success")
            return redirect(url_for(".review_queue"))
        except reflection_service.AlreadyReviewed as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".review", attempt_id=attempt.id))
        except ServiceError as exc:
            db.session.rollback()
            form.comment.errors.append(str(exc))
    return render_template(
        "facilitator/review.html",
        attempt=attempt,
        reflection=reflection,
        form=form,
        enrollment=reflection.enrollment,
        result=completion.evaluate(reflection.enrollment),
    )


@bp.route("/enrollments/<int:enrollment_id>")
def enrollment(enrollment_id: int):
    enrollment = _enrollment(enrollment_id)
    return render_template(
        "facilitator/enrollment.html",
        enrollment=enrollment,
        result=completion.evaluate(enrollment),
        issue_form=EmptyForm(),
    )


@bp.route("/enrollments/<int:enrollment_id>/certificate", methods=["POST"])
def issue_certificate(enrollment_id: int):
    enrollment = _enrollment(enrollment_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        cert = certificate_service.issue(enrollment, current_user)
        db.session.commit()
        flash(f"Certificate {cert.number} issued.", "success")
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for(".enrollment", enrollment_id=enrollment.id))


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    owned_or_404(can_facilitate(current_user, cert.enrollment.cohort))
    certificate_service.record_download(cert, current_user)
    db.session.commit()
    return certificate_response(cert)
