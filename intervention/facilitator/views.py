"""Facilitator pages. A facilitator reaches only his own cohorts; an admin reaches every one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_skeleton
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Load, defer, joinedload

from ..access import (
    can_facilitate,
    can_read_reflection,
    can_record_makeup,
    can_review,
    get_or_404,
    guard_blueprint,
    owned_or_404,
)
from ..downloads import asset_response
from ..extensions import db
from ..forms import EmptyForm
from ..i18n import current_language, format_date
from ..models import (
    AttendanceStatus,
    Cohort,
    CourtDocument,
    DocumentKind,
    Enrollment,
    Meeting,
    Reflection,
    ReflectionAttempt,
    ReflectionState,
    Review,
    ReviewOutcome,
    Role,
    cohort_facilitators,
    utcnow,
)
from ..services import attendance as attendance_service
from ..services import certificates as certificate_service
from ..services import completion, curriculum, loading, rosters
from ..services import notices as notice_service
from ..services import reflections as reflection_service
from ..transaction import committed, flash_refusal
from .forms import (
    SEND_METHOD_LABELS,
    MakeupForm,
    NoticeSentForm,
    QueueFilterForm,
    RosterForm,
    RosterImportForm,
    review_form,
)

bp = Blueprint("facilitator", __name__)
guard_blueprint(bp, Role.FACILITATOR, Role.ADMIN)


def my_cohorts_query():
    query = select(Cohort).order_by(Cohort.start_date.desc())
    if current_user.role is not Role.ADMIN:
        query = query.join(cohort_facilitators).where(
            cohort_facilitators.c.user_id == current_user.id
        )
    return query


def _cohort(cohort_id: int, *options) -> Cohort:
    """The cohort, if it is his, with what the page reads of it loaded up front (`options`)."""
    cohort = db.session.scalar(select(Cohort).where(Cohort.id == cohort_id).options(*options))
    if cohort is None:
        abort(404)
    owned_or_404(can_facilitate(current_user, cohort))
    return cohort


def cohort_records(cohort: Load) -> list:
    """A cohort's course, facilitators and every case's record, for pages that evaluate each
    man's completion: one query per kind of record, however many men there are."""
    return [
        *loading.course(cohort),
        cohort.joinedload(Cohort.facilitators),
        cohort.joinedload(Cohort.reviewer),
        *loading.case_record(cohort.selectinload(Cohort.enrollments)),
    ]


def _enrollment(enrollment_id: int) -> Enrollment:
    enrollment = get_or_404(Enrollment, enrollment_id)
    owned_or_404(can_facilitate(current_user, enrollment.cohort))
    return enrollment


# Cohort cards on his front page; a facilitator of many years has many finished cohorts.
COHORTS_PER_PAGE = 12


@bp.route("/")
def home():
    page = db.paginate(
        my_cohorts_query().options(*cohort_records(Load(Cohort))),
        per_page=COHORTS_PER_PAGE,
        error_out=False,
    )
    cohorts = page.items
    # The notices of all his cohorts, not only this page's.
    mine = my_cohorts_query().with_only_columns(Cohort.id).order_by(None)
    reviewed = (
        db.session.scalars(
            reflection_service.reviewed_cohorts(current_user).options(
                joinedload(Cohort.facilitators)
            )
        )
        .unique()
        .all()
    )
    waiting = reflection_service.waiting_by_cohort([c.id for c in reviewed])
    overdue = notice_service.overdue(mine)
    summaries = []
    for cohort in cohorts:
        results = [(e, completion.evaluate(e)) for e in cohort.enrollments if e.state.is_open]
        summaries.append(
            {
                "cohort": cohort,
                "enrolled": len(cohort.enrollments),
                # None: an admin handed this cohort's reviews to someone else.
                "waiting": waiting.get(cohort.id, 0) if can_review(current_user, cohort) else None,
                "cannot_finish": sum(1 for e, r in results if not r.possible),
                "at_risk": sum(1 for e, r in results if r.at_risk),
                "ready": sum(
                    1 for e, r in results if certificate_service.ready_for_certificate(e, r)
                ),
                "unmarked": len(unmarked_sessions(cohort, results)),
                "overdue": sum(1 for n in overdue if n.enrollment.cohort_id == cohort.id),
            }
        )
    return render_template(
        "facilitator/home.html",
        page=page,
        summaries=summaries,
        waiting=sum(waiting.values()),
        # Cohorts whose reviews were handed to him though he does not facilitate them.
        handed=[
            (c, waiting.get(c.id, 0))
            for c in reviewed
            if current_user.role is not Role.ADMIN and not c.is_facilitated_by(current_user)
        ],
        overdue=overdue,
        open_notices=notice_service.open_count(mine),
    )


def unmarked_sessions(cohort: Cohort, results) -> list[tuple]:
    """Held sessions where some men on the roster have no mark yet: (session, how many)."""
    missing: dict[int, int] = {}
    for enrollment, result in results:
        if enrollment.state.is_open:
            for session in result.unmarked:
                missing[session.id] = missing.get(session.id, 0) + 1
    return [(s, missing[s.id]) for s in cohort.sessions if s.id in missing]


# The cohort grid's one-letter marks; its legend lists them in this order.
MARK_LETTERS = {
    AttendanceStatus.PRESENT: _l("P"),
    AttendanceStatus.LATE: _l("L"),
    AttendanceStatus.LEFT_EARLY: _l("E"),
    AttendanceStatus.EXCUSED: _l("X"),
    AttendanceStatus.ABSENT: _l("A"),
    AttendanceStatus.MADE_UP: _l("M"),
}


def column_date(session: Meeting) -> str:
    """ "Nov 3" / "3 nov": a grid column's day, short enough for a phone, in his language."""
    day = session.local_date
    return format_skeleton("MMMd", day, locale=current_language())


@bp.route("/cohorts/<int:cohort_id>")
def cohort(cohort_id: int):
    cohort = _cohort(cohort_id, *cohort_records(Load(Cohort)))
    rows = []
    for enrollment in sorted(cohort.enrollments, key=lambda e: e.participant.full_name):
        result = completion.evaluate(enrollment)
        marks = {line.session.id: line for line in result.lines}
        rows.append((enrollment, result, marks))
    return render_template(
        "facilitator/cohort.html",
        cohort=cohort,
        rows=rows,
        letters=MARK_LETTERS,
        column_dates={s.id: column_date(s) for s in cohort.sessions},
        now=utcnow(),
        unmarked=unmarked_sessions(cohort, [(e, r) for e, r, _marks in rows]),
        overdue=notice_service.overdue([cohort.id]),
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


def _session(session_id: int) -> Meeting:
    session = get_or_404(Meeting, session_id)
    owned_or_404(can_facilitate(current_user, session.cohort))
    return session


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
    by_id = {e.id: e for e in enrollments if e.id not in dict(made_up)}  # marked here
    closed = attendance_service.session_closed_reason(session)
    form = RosterForm()
    if request.method == "GET":
        _fill_roster(form, by_id.values(), current)
    errors: list[str] = []
    if closed and request.method == "POST":
        errors.append(closed)
    elif form.validate_on_submit():
        errors = _save_roster(session, form, by_id, current)
        if not errors:
            return redirect(url_for(".cohort", cohort_id=session.cohort_id))
    elif request.method == "POST":
        errors.append(_("The roster could not be read. Check the rows marked below."))
    rows = [
        (row, by_id.get(row.enrollment_id.data), current.get(row.enrollment_id.data))
        for row in form.rows
    ]
    makeup_form, candidates = _makeup_form(session, closed)
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


def _fill_roster(form: RosterForm, enrollments, current: dict) -> None:
    """One row per man marked on this roster, showing his mark as it stands."""
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


def _save_roster(session: Meeting, form: RosterForm, by_id: dict, current: dict) -> list[str]:
    """Record the posted roster, all rows or none; the problems, or [] once saved."""
    errors = _unremovable(form.rows, by_id, current)
    rows = [
        attendance_service.RosterRow(
            row.enrollment_id.data,
            AttendanceStatus(row.status.data),
            row.minutes.data,
            note=row.note.data or "",
            reason=row.reason.data or "",
        )
        for row in form.rows
        if row.status.data
    ]
    try:
        result = attendance_service.mark_roster(session, rows, current_user)
    except attendance_service.RosterRefused as exc:
        errors += [problem for _index, problem in exc.problems]
    if errors:
        db.session.rollback()  # all or nothing: one bad row saves none
        return errors
    db.session.commit()
    flash(
        ngettext(
            "Attendance saved for session %(number)s (%(num)d change(s)).",
            "Attendance saved for session %(number)s (%(num)d change(s)).",
            result.changed,
            number=session.number,
        ),
        "success",
    )
    _flash_drafted(result.drafted)
    return []


def _makeup_form(session: Meeting, closed: str | None) -> tuple[MakeupForm, list]:
    """The form recording a make-up here, offering the men who may make this session up."""
    form = MakeupForm()
    candidates = [] if closed else attendance_service.makeup_candidates(session, current_user)
    form.enrollment_id.choices = [("", _("Choose…"))] + [
        (c.enrollment.id, _makeup_choice(c)) for c in candidates
    ]
    return form, candidates


def _unremovable(rows, by_id: dict, current: dict) -> list[str]:
    """A mark, once recorded, is changed with a reason, never emptied: the form's blank
    choice is for men not marked yet."""
    return [
        _(
            "%(name)s: a mark cannot be removed. Choose the right status "
            "and give a reason for the change.",
            name=by_id[row.enrollment_id.data].participant.full_name,
        )
        for row in rows
        if not row.status.data
        and row.enrollment_id.data in by_id
        and current.get(row.enrollment_id.data) is not None
    ]


def _makeup_choice(candidate) -> str:
    """How a man who may make up this session reads in the list: who, and what he missed."""
    enrollment = candidate.enrollment
    facts = {
        "name": enrollment.participant.full_name,
        "case": enrollment.case_number,
        "cohort": enrollment.cohort.name,
        "date": format_date(candidate.missed.local_date),
    }
    if candidate.mark is None:
        return _("%(name)s (%(case)s), %(cohort)s: not marked on %(date)s", **facts)
    return _(
        "%(name)s (%(case)s), %(cohort)s: marked %(status)s on %(date)s",
        status=str(candidate.mark.status.label).lower(),
        **facts,
    )


def _flash_drafted(drafted: list[CourtDocument]) -> None:
    for notice in drafted:
        flash(
            _(
                "Non-compliance notice drafted for %(name)s (%(case)s): %(reason)s "
                "Due to the court %(date)s.",
                name=notice.enrollment.participant.full_name,
                case=notice.enrollment.case_number,
                reason=notice.reason,
                date=format_date(notice.due_on),
            ),
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
                flash(_("Make-up not recorded: %(problem)s", problem=error), "error")
        return redirect(back)
    enrollment = db.session.get(Enrollment, form.enrollment_id.data)
    # A man whose make-up is not his to record reads as no man at all: ids cannot be probed.
    if enrollment is None or not can_record_makeup(current_user, enrollment, session):
        flash(_("Make-up not recorded: choose the man who made up the session."), "error")
        return redirect(back)
    with committed(flash_refusal(_l("Make-up not recorded: %(problem)s"))) as done:
        attended = attendance_service.record_makeup(
            session, enrollment, current_user, form.minutes.data, form.note.data or ""
        )
        drafted = notice_service.draft_for(enrollment, current_user)
    if not done:
        return redirect(back)
    missed = attended.linked_attendance.session
    flash(
        _(
            "Make-up recorded: %(name)s attended session %(number)s here; his session "
            "%(missed)s in %(cohort)s is now marked made up.",
            name=enrollment.participant.full_name,
            number=session.number,
            missed=missed.number,
            cohort=missed.cohort.name,
        ),
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
            db.session.commit()
        except rosters.RosterImportError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            flash(
                _(
                    "Roster imported for session %(number)s: %(rows)s row(s), "
                    "%(changed)s change(s).",
                    number=session.number,
                    rows=result.rows,
                    changed=result.changed,
                ),
                "success",
            )
            _flash_drafted(result.drafted)
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


@dataclass
class QueueScope:
    """The reviews a page works through: his cohorts, narrowed by the queue's filters."""

    form: QueueFilterForm
    cohorts: list[Cohort]  # every cohort whose reviews are his
    cohort_ids: list[int]  # those the cohort filter leaves
    session_number: int | None
    state: str  # a key of reflection_service.QUEUE_STATES

    @property
    def args(self) -> dict:
        """The cohort and session filters as query arguments, for links that keep them."""
        return {"cohort": self.form.cohort.data or None, "module": self.session_number}


def queue_scope() -> QueueScope:
    # With their schedules: the queue's rows need each cohort's sessions for due dates.
    cohorts = db.session.scalars(
        reflection_service.reviewed_cohorts(current_user).options(*loading.course(Load(Cohort)))
    ).all()
    form = QueueFilterForm(request.args)
    form.cohort.choices = [(0, _("All cohorts"))] + [(c.id, c.name) for c in cohorts]
    numbers = sorted({m.session_number for c in cohorts for m in c.version.modules})
    form.module.choices = [(0, _("All sessions"))] + [
        (n, _("Session %(number)s", number=n)) for n in numbers
    ]
    form.validate()
    # A filter he cannot use (another man's cohort, a made-up number) is ignored, never widened.
    if form.cohort.data not in {c.id for c in cohorts}:
        form.cohort.data = 0
    if form.module.data not in numbers:
        form.module.data = 0
    if form.state.data not in reflection_service.QUEUE_STATES:
        form.state.data = "waiting"
    ids = [c.id for c in cohorts]
    return QueueScope(
        form=form,
        cohorts=cohorts,
        cohort_ids=[form.cohort.data] if form.cohort.data else ids,
        session_number=form.module.data or None,
        state=form.state.data,
    )


def waited(since: datetime, now: datetime | None = None) -> str:
    """How long an answer has waited, in the largest whole unit."""
    seconds = max(0, int(((now or utcnow()) - since).total_seconds()))
    days, hours = seconds // 86400, seconds // 3600
    if days:
        return ngettext("%(num)d day", "%(num)d days", days)
    if hours:
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return _("under an hour")


# What a row of the queue shows: the man, the prompt, the first attempt's time (late or not)
# and the review; the cohorts come from queue_scope.
_reflection = joinedload(ReflectionAttempt.reflection)
QUEUE_ROW = (
    defer(ReflectionAttempt.text),  # the answers are read on the review page, not here
    _reflection.joinedload(Reflection.enrollment).joinedload(Enrollment.participant),
    _reflection.joinedload(Reflection.prompt),
    _reflection.selectinload(Reflection.attempts).defer(ReflectionAttempt.text),
    joinedload(ReflectionAttempt.review).joinedload(Review.reviewer),
)


@bp.route("/reviews")
def review_queue():
    scope = queue_scope()
    state = reflection_service.QUEUE_STATES[scope.state]
    page = db.paginate(
        reflection_service.queue(scope.cohort_ids, state, scope.session_number).options(*QUEUE_ROW),
        per_page=50,
        error_out=False,
    )
    return render_template(
        "facilitator/review_queue.html",
        scope=scope,
        page=page,
        counts=reflection_service.queue_counts(scope.cohort_ids, scope.session_number),
        states=reflection_service.QUEUE_STATES,
        waited=waited,
        is_late=reflection_service.is_late,
    )


@bp.route("/reviews/<int:attempt_id>", methods=["GET", "POST"])
def review(attempt_id: int):
    """Read an answer with his progress; accept it or return it, then go on to the next."""
    attempt = get_or_404(ReflectionAttempt, attempt_id)
    reflection = attempt.reflection
    cohort = reflection.enrollment.cohort
    owned_or_404(can_read_reflection(current_user, reflection))
    may_review = can_review(current_user, cohort)
    scope = queue_scope()
    form = review_form(reflection_service.rubric_of(attempt))
    refusal = None  # why his review was not saved; what he wrote is shown back to him
    status = 200
    if request.method == "POST" and not may_review:
        # Handed to someone else since he opened the page: say so, and show his text back.
        refusal = _(
            "Reviews of %(cohort)s now go to %(reviewers)s. Your review was not saved.",
            cohort=cohort.name,
            reviewers=_reviewers(cohort),
        )
        status = 403
    elif form.validate_on_submit():
        outcome = ReviewOutcome(form.outcome.data)
        comment = form.comment.data or ""
        with committed() as done:
            reflection_service.review(attempt, outcome, comment, current_user, form.scores)
        if done:
            flash(_("Review saved: %(outcome)s.", outcome=str(outcome.label).lower()), "success")
            return _next_after(attempt, scope)
        already = isinstance(done.refusal, reflection_service.AlreadyReviewed)
        first = done.refusal.review if already else None  # someone reviewed it first
        if first is None:
            form.comment.errors = [*form.comment.errors, done.error]
            status = 422
        elif first.reviewer_id == current_user.id and _same(first, outcome, comment):
            return _next_after(attempt, scope)  # his own double click: saved once
        else:
            refusal, status = done.error, 409
    elif request.method == "POST":
        status = 422
    result = completion.evaluate(reflection.enrollment)
    waiting = reflection.state is ReflectionState.SUBMITTED and attempt.review is None
    return render_template(
        "facilitator/review.html",
        attempt=attempt,
        reflection=reflection,
        enrollment=reflection.enrollment,
        result=result,
        form=form,
        may_review=may_review,
        reviewers=_reviewers(cohort),
        can_open_record=can_facilitate(current_user, cohort),
        refusal=refusal,
        scope=scope,
        skip=reflection_service.next_waiting(scope.cohort_ids, scope.session_number, attempt)
        if waiting and may_review
        else None,
        waited=waited,
        is_late=reflection_service.is_late,
        rubric_lines=reflection_service.rubric_lines,
    ), status


def _reviewers(cohort: Cohort) -> str:
    if cohort.reviewer is not None:
        return cohort.reviewer.full_name
    return _("its facilitators")


def _same(review: Review, outcome: ReviewOutcome, comment: str) -> bool:
    return review.outcome is outcome and review.comment == comment.strip()


def _next_after(attempt: ReflectionAttempt, scope: QueueScope):
    """The next answer waiting under the same filters, or the queue when none is left."""
    following = reflection_service.next_waiting(scope.cohort_ids, scope.session_number, attempt)
    if following is not None:
        return redirect(url_for(".review", attempt_id=following.id, **scope.args))
    flash(_("Nothing left to review."), "info")
    return redirect(url_for(".review_queue", **scope.args))


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
        send_methods=SEND_METHOD_LABELS,
        today=today,
        is_overdue=notice_service.is_overdue,
        can_facilitate=can_facilitate,
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
                flash(_("Notice not marked sent: %(problem)s", problem=error), "error")
        return redirect(back)
    with committed(flash_refusal(_l("Notice not marked sent: %(problem)s"))) as done:
        notice_service.mark_sent(notice, form.sent_on.data, form.method.data, current_user)
    if not done:
        return redirect(back)
    method = SEND_METHOD_LABELS.get(form.method.data, form.method.data)
    flash(
        _(
            "Notice marked sent on %(date)s by %(method)s.",
            date=format_date(form.sent_on.data),
            method=str(method).lower(),
        ),
        "success",
    )
    return redirect(back)
