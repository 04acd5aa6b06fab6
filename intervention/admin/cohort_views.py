"""Cohorts and their sessions: the list, a new cohort, a cohort's page (its reviewer and
its program version), and moving or cancelling a session."""

from __future__ import annotations

from datetime import time

from flask import (
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..access import get_or_404
from ..extensions import db
from ..i18n import format_datetime
from ..models import (
    Cohort,
    CurriculumVersion,
    Program,
    Role,
    Session,
    SessionStatus,
    User,
    utcnow,
)
from ..services import ServiceError, curriculum, scheduling
from ..services import reflections as reflection_service
from .forms import (
    CancelSessionForm,
    CohortDetailsForm,
    CohortForm,
    MoveVersionForm,
    RescheduleForm,
    ReviewerForm,
)
from .views import WEEKDAYS_PLURAL, bp, form_page


@bp.route("/cohorts")
def cohorts():
    """Newest first, a page at a time; sessions and enrollments are loaded for that page only."""
    now = utcnow()
    query = (
        select(Cohort)
        .options(
            selectinload(Cohort.sessions),
            selectinload(Cohort.enrollments),
            selectinload(Cohort.facilitators),
            joinedload(Cohort.version).joinedload(CurriculumVersion.program),
        )
        .order_by(Cohort.start_date.desc(), Cohort.id.desc())
    )
    page = db.paginate(query, per_page=20, error_out=False)
    rows = []
    for cohort in page.items:
        meeting = [s for s in cohort.sessions if s.status is not SessionStatus.CANCELLED]
        ahead = [s for s in meeting if s.scheduled_at > now]
        rows.append(
            {
                "cohort": cohort,
                "sessions": len(meeting),
                "held": len(meeting) - len(ahead),
                "cancelled": len(cohort.sessions) - len(meeting),
                "next": ahead[0] if ahead else None,
                "open": sum(1 for e in cohort.enrollments if e.state.is_open),
                "enrolled": len(cohort.enrollments),
            }
        )
    return render_template("admin/cohorts.html", rows=rows, page=page, weekdays=WEEKDAYS_PLURAL)


@bp.route("/cohorts/new", methods=["GET", "POST"])
def new_cohort():
    versions = db.session.scalars(
        select(CurriculumVersion)
        .join(Program)
        .order_by(Program.id, CurriculumVersion.loaded_at.desc(), CurriculumVersion.id.desc())
    ).all()
    form = CohortForm()
    form.version_id.choices = [
        (
            v.id,
            _(
                "%(program)s · %(label)s (%(hash)s), %(num)d sessions, loaded %(date)s",
                program=v.program.title,
                label=v.label,
                hash=v.short_hash,
                num=len(v.modules),
                date=v.loaded_at.date().isoformat(),
            ),
        )
        for v in versions
    ]
    form.facilitators.choices = _facilitator_choices()
    if request.method == "GET":
        # The newest version of the first program: a new cohort rarely wants an old course.
        form.version_id.data = versions[0].id if versions else None
        form.start_time.data = time(18, 30)
    error, clashes = None, []
    if form.validate_on_submit():
        try:
            cohort = scheduling.create_cohort(
                name=form.name.data,
                version=db.session.get(CurriculumVersion, form.version_id.data),
                facilitators=_users(form.facilitators.data),
                start_date=form.start_date.data,
                weekday=form.weekday.data,
                start_time=form.start_time.data,
                timezone=form.chosen_timezone,
                location=form.location.data,
                video_link=form.video_link.data,
                actor=current_user,
                on_holiday=form.on_holiday,
            )
            db.session.commit()
            first = cohort.sessions[0].scheduled_at
            flash(
                _(
                    "Cohort %(name)s created with %(num)d sessions, the first on %(when)s.",
                    name=cohort.name,
                    num=len(cohort.sessions),
                    when=format_datetime(first, cohort.timezone),
                ),
                "success",
            )
            return redirect(url_for(".cohort", cohort_id=cohort.id))
        except scheduling.HolidayWarning as exc:
            db.session.rollback()
            clashes = exc.clashes
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return form_page("admin/cohort_form.html", form=form, cohort=None, error=error, clashes=clashes)


@bp.route("/cohorts/<int:cohort_id>", methods=["GET", "POST"])
def cohort(cohort_id: int):
    """A cohort stays on the version it started with until the director moves it."""
    cohort = get_or_404(Cohort, cohort_id)
    newer = db.session.scalars(
        select(CurriculumVersion)
        .where(
            CurriculumVersion.program_id == cohort.version.program_id,
            CurriculumVersion.loaded_at > cohort.version.loaded_at,
        )
        .order_by(CurriculumVersion.loaded_at.desc())
    ).all()
    form = MoveVersionForm()
    form.version_id.choices = [
        (
            v.id,
            _(
                "%(label)s (%(hash)s), loaded %(date)s",
                label=v.label,
                hash=v.short_hash,
                date=v.loaded_at.date().isoformat(),
            ),
        )
        for v in newer
    ]
    # Two forms post here; the reviewer form's fields carry its prefix.
    reviewer_form = ReviewerForm(prefix="reviews")
    reviewer_form.reviewer.choices = _reviewer_choices(cohort)
    if request.method == "GET":
        reviewer_form.reviewer.data = cohort.reviewer.email if cohort.reviewer else ""
    if reviewer_form.reviewer.name in request.form:
        if reviewer_form.validate_on_submit():
            try:
                reviewer = db.session.scalar(
                    select(User).where(User.email == reviewer_form.reviewer.data)
                )
                reflection_service.assign_reviewer(
                    cohort, reviewer, current_user, reviewer_form.reason.data
                )
                db.session.commit()
                who = reviewer.full_name if reviewer else _("the cohort's facilitators")
                flash(
                    _("Reviews of %(cohort)s now go to %(who)s.", cohort=cohort.name, who=who),
                    "success",
                )
                return redirect(url_for(".cohort", cohort_id=cohort.id))
            except ServiceError as exc:
                db.session.rollback()
                reviewer_form.reviewer.errors.append(str(exc))
    elif newer and form.validate_on_submit():
        try:
            version = db.session.get(CurriculumVersion, form.version_id.data)
            changes = curriculum.move_cohort(cohort, version, current_user, form.reason.data)
            db.session.commit()
            flash(_("Cohort %(changes)s.", changes="; ".join(changes)), "success")
            return redirect(url_for(".cohort", cohort_id=cohort.id))
        except ServiceError as exc:
            db.session.rollback()
            form.version_id.errors.append(str(exc))
    return render_template(
        "admin/cohort.html",
        cohort=cohort,
        newer=newer,
        form=form,
        reviewer_form=reviewer_form,
        marked=scheduling.sessions_with_attendance(cohort.sessions),
        now=utcnow(),
        weekdays=WEEKDAYS_PLURAL,
    )


@bp.route("/cohorts/<int:cohort_id>/edit", methods=["GET", "POST"])
def edit_cohort(cohort_id: int):
    cohort = get_or_404(Cohort, cohort_id)
    form = CohortDetailsForm()
    form.facilitators.choices = _facilitator_choices()
    if request.method == "GET":
        form.name.data = cohort.name
        form.location.data = cohort.location
        form.video_link.data = cohort.video_link
        form.facilitators.data = [u.id for u in cohort.facilitators]
    error = None
    if form.validate_on_submit():
        try:
            scheduling.update_cohort(
                cohort,
                name=form.name.data,
                # A field left out of the request is None, not "" (found by test_form_fuzz).
                location=form.location.data or "",
                video_link=form.video_link.data or "",
                facilitators=_users(form.facilitators.data),
                actor=current_user,
            )
            db.session.commit()
            flash(_("Cohort %(name)s saved.", name=cohort.name), "success")
            return redirect(url_for(".cohort", cohort_id=cohort.id))
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return form_page("admin/cohort_form.html", form=form, cohort=cohort, error=error)


@bp.route("/sessions/<int:session_id>/reschedule", methods=["GET", "POST"])
def reschedule_session(session_id: int):
    meeting = get_or_404(Session, session_id)
    form = RescheduleForm()
    if request.method == "GET":
        local = scheduling.local_when(meeting)
        form.day.data, form.at.data = local.date(), local.time()
    fixed, error, clashes = scheduling.why_fixed(meeting, "moved"), None, []
    if fixed is None and form.validate_on_submit():
        try:
            scheduling.reschedule_session(
                meeting,
                day=form.day.data,
                at=form.at.data,
                reason=form.reason.data,
                actor=current_user,
                on_holiday=form.on_holiday,
            )
            db.session.commit()
            when = format_datetime(meeting.scheduled_at, meeting.cohort.timezone)
            flash(_("Session %(num)d moved to %(when)s.", num=meeting.number, when=when), "success")
            return redirect(url_for(".cohort", cohort_id=meeting.cohort_id))
        except scheduling.HolidayWarning as exc:
            db.session.rollback()
            clashes = exc.clashes
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return form_page(
        "admin/session_form.html",
        form=form,
        meeting=meeting,
        action="reschedule",
        fixed=fixed,
        error=error,
        clashes=clashes,
    )


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
def cancel_session(session_id: int):
    meeting = get_or_404(Session, session_id)
    form = CancelSessionForm()
    fixed, error = scheduling.why_fixed(meeting, "cancelled"), None
    if fixed is None and form.validate_on_submit():
        try:
            scheduling.cancel_session(meeting, reason=form.reason.data, actor=current_user)
            db.session.commit()
            flash(_("Session %(num)d cancelled.", num=meeting.number), "success")
            return redirect(url_for(".cohort", cohort_id=meeting.cohort_id))
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return form_page(
        "admin/session_form.html",
        form=form,
        meeting=meeting,
        action="cancel",
        fixed=fixed,
        error=error,
    )


def _facilitator_choices() -> list[tuple[int, str]]:
    users = db.session.scalars(
        select(User)
        .where(User.role == Role.FACILITATOR, User.active)
        .order_by(User.full_name, User.id)
    )
    return [(u.id, f"{u.full_name} ({u.email})") for u in users]


def _reviewer_choices(cohort: Cohort) -> list[tuple[str, str]]:
    """Active facilitators by email (the value a person can read), and the current reviewer
    even when his account has since been disabled."""
    users = db.session.scalars(
        select(User)
        .where(User.role == Role.FACILITATOR, User.active)
        .order_by(User.full_name, User.id)
    )
    choices = [("", _("The cohort's facilitators"))]
    choices += [(u.email, f"{u.full_name} ({u.email})") for u in users]
    current = cohort.reviewer
    if current is not None and current.email not in dict(choices):
        disabled = _(
            "%(name)s (%(email)s), account disabled", name=current.full_name, email=current.email
        )
        choices.append((current.email, disabled))
    return choices


def _users(ids: list[int]) -> list[User]:
    return list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.full_name)))
