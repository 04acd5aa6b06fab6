"""Facilitator pages. A facilitator reaches only his own cohorts; an admin reaches every one."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
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
    CourtDocument,
    DocumentKind,
    Enrollment,
    Reflection,
    ReflectionAttempt,
    ReflectionState,
    Role,
    Session,
    cohort_facilitators,
    utcnow,
)
from ..services import ServiceError, completion, curriculum, rosters
from ..services import attendance as attendance_service
from ..services import certificates as certificate_service
from ..services import notices as notice_service
from ..services import reflections as reflection_service
from ..templating import format_date
from .forms import MakeupForm, NoticeSentForm, ReviewForm, RosterForm, RosterImportForm

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
    overdue = notice_service.overdue(cohorts)
    summaries = []
    for cohort in cohorts:
        results = [(e, completion.evaluate(e)) for e in cohort.enrollments if e.state.is_open]
        summaries.append(
            {
                "cohort": cohort,
                "enrolled": len(cohort.enrollments),
                "waiting": sum(
                    1 for a in waiting if a.reflection.enrollment.cohort_id == cohort.id
                ),
                "cannot_finish": sum(1 for e, r in results if not r.possible),
                "at_risk": sum(1 for e, r in results if r.at_risk),
                "ready": sum(1 for e, r in results if r.complete and e.valid_certificate is None),
                "unmarked": len(unmarked_sessions(cohort, results)),
                "overdue": sum(1 for n in overdue if n.enrollment.cohort_id == cohort.id),
            }
        )
    return render_template(
        "facilitator/home.html",
        summaries=summaries,
        waiting=len(waiting),
        overdue=overdue,
        open_notices=notice_service.open_count(cohorts),
    )


def unmarked_sessions(cohort: Cohort, results) -> list[tuple]:
    """Held sessions where some men on the roster have no mark yet: (session, how many)."""
    missing: dict[int, int] = {}
    for enrollment, result in results:
        if enrollment.state.is_open:
            for session in result.unmarked:
                missing[session.id] = missing.get(session.id, 0) + 1
    return [(s, missing[s.id]) for s in cohort.sessions if s.id in missing]


@bp.route("/cohorts/<int:cohort_id>")
def cohort(cohort_id: int):
    cohort = _cohort(cohort_id)
    rows = []
    for enrollment in sorted(cohort.enrollments, key=lambda e: e.participant.full_name):
        result = completion.evaluate(enrollment)
        marks = {line.session.id: line for line in result.lines}
        rows.append((enrollment, result, marks))
    return render_template(
        "facilitator/cohort.html",
        cohort=cohort,
        rows=rows,
        now=utcnow(),
        unmarked=unmarked_sessions(cohort, [(e, r) for e, r, _ in rows]),
        overdue=notice_service.overdue([cohort]),
    )


@bp.route("/cohorts/<int:cohort_id>/attendance.csv")
def cohort_csv(cohort_id: int):
    filename, text = rosters.cohort_csv(_cohort(cohort_id), current_user)
    db.session.commit()
    return csv_response(filename, text)


def csv_response(filename: str, text: str) -> Response:
    return Response(
        text.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


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


def _session(session_id: int) -> Session:
    session = get_or_404(Session, session_id)
    owned_or_404(can_facilitate(current_user, session.cohort))
    return session


def _row_error(name: str, message: str) -> str:
    return message if message.startswith(name) else f"{name}: {message}"


def _not_on_roster(session: Session, enrollment_id) -> str:
    """Why a posted row cannot be marked; names the man only if he is in this cohort."""
    enrollment = db.session.get(Enrollment, enrollment_id) if enrollment_id else None
    if enrollment is None or enrollment.cohort_id != session.cohort_id:
        return "A row names a man who is not on this session's roster."
    name = enrollment.participant.full_name
    problem = attendance_service.refusal(session, enrollment)
    if problem:
        return _row_error(name, problem)
    return f"{name} made up this session elsewhere; that mark is kept with the make-up."


@bp.route("/sessions/<int:session_id>/attendance", methods=["GET", "POST"])
def attendance(session_id: int):
    session = _session(session_id)
    enrollments = attendance_service.roster(session)
    current = {a.enrollment_id: a for a in attendance_service.session_marks(session)}
    made_up = [
        (e, current[e.id])
        for e in enrollments
        if e.id in current and current[e.id].status is AttendanceStatus.MADE_UP
    ]
    editable = [e for e in enrollments if e.id not in dict(made_up)]
    by_id = {e.id: e for e in editable}
    closed = attendance_service.session_closed_reason(session)
    form = RosterForm()
    if request.method == "GET":
        for e in editable:
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
    if closed and request.method == "POST":
        errors.append(closed)
    elif form.validate_on_submit():
        changed = 0
        marked = []
        for row in form.rows:
            enrollment = by_id.get(row.enrollment_id.data)
            if enrollment is None:
                errors.append(_not_on_roster(session, row.enrollment_id.data))
                continue
            name = enrollment.participant.full_name
            before = current.get(enrollment.id)
            if not row.status.data:
                if before is not None:
                    errors.append(
                        f"{name}: a mark cannot be removed. Choose the right status "
                        "and give a reason for the change."
                    )
                continue
            status = AttendanceStatus(row.status.data)
            minutes = row.minutes.data
            if minutes is None:
                credited = status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
                minutes = session.module.duration_minutes if credited else 0
            try:
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
                marked.append(enrollment)
            except ServiceError as exc:
                errors.append(_row_error(name, str(exc)))
        if not errors:
            drafted = [n for e in marked for n in notice_service.draft_for(e, current_user)]
            db.session.commit()
            flash(
                f"Attendance saved for session {session.number} ({changed} change(s)).", "success"
            )
            _flash_drafted(drafted)
            return redirect(url_for(".cohort", cohort_id=session.cohort_id))
        db.session.rollback()  # all or nothing: one bad row saves none
    elif request.method == "POST":
        errors.append("The roster could not be read. Check the rows marked below.")
    rows = [
        (row, by_id.get(row.enrollment_id.data), current.get(row.enrollment_id.data))
        for row in form.rows
    ]
    makeup_form = MakeupForm()
    candidates = [] if closed else attendance_service.makeup_candidates(session)
    makeup_form.enrollment_id.choices = [("", "Choose…")] + [
        (
            c.enrollment.id,
            f"{c.enrollment.participant.full_name} ({c.enrollment.case_number}), "
            f"{c.enrollment.cohort.name}: "
            + (f"marked {c.mark.status.label.lower()}" if c.mark else "not marked")
            + f" on {format_date(attendance_service.local_date(c.missed))}",
        )
        for c in candidates
    ]
    return render_template(
        "facilitator/attendance.html",
        session=session,
        form=form,
        rows=rows,
        made_up=made_up,
        makeups_here=attendance_service.makeups_at(session),
        errors=errors,
        closed=closed,
        makeup_form=makeup_form,
        candidates=candidates,
        can_facilitate=can_facilitate,
    ), (422 if errors else 200)


def _flash_drafted(drafted: list[CourtDocument]) -> None:
    for notice in drafted:
        flash(
            f"Non-compliance notice drafted for {notice.enrollment.participant.full_name} "
            f"({notice.enrollment.case_number}): {notice.reason} Due to the court "
            f"{notice.due_on:%b} {notice.due_on.day}, {notice.due_on:%Y}.",
            "info",
        )


@bp.route("/sessions/<int:session_id>/makeups", methods=["POST"])
def record_makeup(session_id: int):
    session = _session(session_id)
    form = MakeupForm()
    form.enrollment_id.choices = []
    back = url_for(".attendance", session_id=session.id) + "#makeup"
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(f"Make-up not recorded: {error}", "error")
        return redirect(back)
    enrollment = db.session.get(Enrollment, form.enrollment_id.data)
    if enrollment is None:
        flash("Make-up not recorded: choose the man who made up the session.", "error")
        return redirect(back)
    try:
        attended = attendance_service.record_makeup(
            session, enrollment, current_user, form.minutes.data, form.note.data or ""
        )
        drafted = notice_service.draft_for(enrollment, current_user)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(f"Make-up not recorded: {exc}", "error")
        return redirect(back)
    missed = attended.linked_attendance.session
    flash(
        f"Make-up recorded: {enrollment.participant.full_name} attended session "
        f"{session.number} here; his session {missed.number} in {missed.cohort.name} "
        "is now marked made up.",
        "success",
    )
    _flash_drafted(drafted)
    return redirect(back)


@bp.route("/sessions/<int:session_id>/roster.csv")
def session_csv(session_id: int):
    filename, text = rosters.session_csv(_session(session_id), current_user)
    db.session.commit()
    return csv_response(filename, text)


@bp.route("/sessions/<int:session_id>/import", methods=["GET", "POST"])
def import_roster(session_id: int):
    session = _session(session_id)
    form = RosterImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        data = form.file.data.read(rosters.MAX_IMPORT_BYTES + 1)
        try:
            result = rosters.import_roster(session, data, current_user)
            drafted = [
                n for e in result.enrollments for n in notice_service.draft_for(e, current_user)
            ]
            db.session.commit()
        except rosters.RosterImportError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            flash(
                f"Roster imported for session {session.number}: {result.rows} row(s), "
                f"{result.changed} change(s).",
                "success",
            )
            _flash_drafted(drafted)
            return redirect(url_for(".attendance", session_id=session.id))
    return render_template(
        "facilitator/import.html",
        session=session,
        form=form,
        errors=errors,
        closed=attendance_service.session_closed_reason(session),
        columns=rosters.IMPORT_COLUMNS,
        statuses=rosters.IMPORTABLE,
        max_rows=rosters.MAX_IMPORT_ROWS,
    ), (422 if errors or form.errors else 200)


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
    today = notice_service.court_today(enrollment)
    sent_form = NoticeSentForm(formdata=None, sent_on=today)
    return render_template(
        "facilitator/enrollment.html",
        enrollment=enrollment,
        result=completion.evaluate(enrollment),
        issue_form=EmptyForm(),
        notices=notice_service.notices_for(enrollment),
        sent_form=sent_form,
        today=today,
        is_overdue=notice_service.is_overdue,
        can_facilitate=can_facilitate,
        local_date=attendance_service.local_date,
    )


@bp.route("/enrollments/<int:enrollment_id>/record.csv")
def enrollment_csv(enrollment_id: int):
    filename, text = rosters.record_csv(_enrollment(enrollment_id), current_user)
    db.session.commit()
    return csv_response(filename, text)


@bp.route("/notices/<int:notice_id>/sent", methods=["POST"])
def notice_sent(notice_id: int):
    notice = get_or_404(CourtDocument, notice_id)
    if notice.kind is not DocumentKind.NONCOMPLIANCE_NOTICE:
        abort(404)
    owned_or_404(can_facilitate(current_user, notice.enrollment.cohort))
    back = url_for(".enrollment", enrollment_id=notice.enrollment_id) + "#notices"
    form = NoticeSentForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(f"Notice not marked sent: {error}", "error")
        return redirect(back)
    try:
        notice_service.mark_sent(notice, form.sent_on.data, form.method.data, current_user)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(f"Notice not marked sent: {exc}", "error")
        return redirect(back)
    flash(
        f"Notice marked sent on {form.sent_on.data:%b} {form.sent_on.data.day}, "
        f"{form.sent_on.data:%Y} by {form.method.data.lower()}.",
        "success",
    )
    return redirect(back)


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
