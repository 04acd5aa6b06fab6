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

from ..access import get_or_404
from ..extensions import db
from ..i18n import format_datetime
from ..models import (
    Cohort,
    CurriculumVersion,
    Meeting,
    utcnow,
)
from ..services import cohorts as cohort_service
from ..services import curriculum, scheduling
from ..services import reflections as reflection_service
from ..transaction import Outcome, committed
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
    page = db.paginate(cohort_service.newest_first(), per_page=20, error_out=False)
    rows = [cohort_service.summary(cohort, now) for cohort in page.items]
    return render_template("admin/cohorts.html", rows=rows, page=page, weekdays=WEEKDAYS_PLURAL)


@bp.route("/cohorts/new", methods=["GET", "POST"])
def new_cohort():
    versions = cohort_service.versions_to_start()
    form = CohortForm()
    form.version_id.choices = [(v.id, _version_choice(v)) for v in versions]
    form.facilitators.choices = _facilitator_choices()
    if request.method == "GET":
        # The newest version of the first program: a new cohort rarely wants an old course.
        form.version_id.data = versions[0].id if versions else None
        form.start_time.data = time(18, 30)
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            cohort = scheduling.create_cohort(
                name=form.name.data,
                version=db.session.get(CurriculumVersion, form.version_id.data),
                facilitators=cohort_service.users(form.facilitators.data),
                start_date=form.start_date.data,
                weekday=form.weekday.data,
                start_time=form.start_time.data,
                timezone=form.chosen_timezone,
                location=form.location.data,
                video_link=form.video_link.data,
                actor=current_user,
                on_holiday=form.on_holiday,
            )
        if done:
            flash(
                _(
                    "Cohort %(name)s created with %(num)d sessions, the first on %(when)s.",
                    name=cohort.name,
                    num=len(cohort.sessions),
                    when=format_datetime(cohort.sessions[0].scheduled_at, cohort.timezone),
                ),
                "success",
            )
            return redirect(url_for(".cohort", cohort_id=cohort.id))
    return form_page("admin/cohort_form.html", form=form, cohort=None, **_refusal(done))


def _version_choice(version: CurriculumVersion) -> str:
    return _(
        "%(program)s · %(label)s (%(hash)s), %(num)d sessions, loaded %(date)s",
        program=version.program.title,
        label=version.label,
        hash=version.short_hash,
        num=len(version.modules),
        date=version.loaded_at.date().isoformat(),
    )


def _refusal(done: Outcome) -> dict:
    """What a refused schedule change shows: the public holidays it falls on, for the
    director to move or keep; else why it was refused."""
    if isinstance(done.refusal, scheduling.HolidayWarning):
        return {"error": None, "clashes": done.refusal.clashes}
    return {"error": done.error or None, "clashes": []}


@bp.route("/cohorts/<int:cohort_id>", methods=["GET", "POST"])
def cohort(cohort_id: int):
    """A cohort stays on the version it started with until the director moves it."""
    cohort = get_or_404(Cohort, cohort_id)
    newer = cohort_service.newer_versions(cohort)
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
            with committed(reviewer_form.reviewer) as done:
                reviewer = cohort_service.user_by_email(reviewer_form.reviewer.data)
                reflection_service.assign_reviewer(
                    cohort, reviewer, current_user, reviewer_form.reason.data
                )
            if done:
                who = reviewer.full_name if reviewer else _("the cohort's facilitators")
                flash(
                    _("Reviews of %(cohort)s now go to %(who)s.", cohort=cohort.name, who=who),
                    "success",
                )
                return redirect(url_for(".cohort", cohort_id=cohort.id))
    elif newer and form.validate_on_submit():
        with committed(form.version_id) as done:
            version = db.session.get(CurriculumVersion, form.version_id.data)
            changes = curriculum.move_cohort(cohort, version, current_user, form.reason.data)
        if done:
            flash(_("Cohort %(changes)s.", changes="; ".join(changes)), "success")
            return redirect(url_for(".cohort", cohort_id=cohort.id))
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
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            scheduling.update_cohort(
                cohort,
                name=form.name.data,
                # A field left out of the request is None, not "" (found by test_form_fuzz).
                location=form.location.data or "",
                video_link=form.video_link.data or "",
                facilitators=cohort_service.users(form.facilitators.data),
                actor=current_user,
            )
        if done:
            flash(_("Cohort %(name)s saved.", name=cohort.name), "success")
            return redirect(url_for(".cohort", cohort_id=cohort.id))
    return form_page("admin/cohort_form.html", form=form, cohort=cohort, error=done.error)


@bp.route("/sessions/<int:session_id>/reschedule", methods=["GET", "POST"])
def reschedule_session(session_id: int):
    meeting = get_or_404(Meeting, session_id)
    form = RescheduleForm()
    if request.method == "GET":
        local = scheduling.local_when(meeting)
        form.day.data, form.at.data = local.date(), local.time()
    fixed, done = scheduling.why_fixed(meeting, "moved"), Outcome()
    if fixed is None and form.validate_on_submit():
        with committed() as done:
            scheduling.reschedule_session(
                meeting,
                day=form.day.data,
                at=form.at.data,
                reason=form.reason.data,
                actor=current_user,
                on_holiday=form.on_holiday,
            )
        if done:
            when = format_datetime(meeting.scheduled_at, meeting.cohort.timezone)
            flash(_("Session %(num)d moved to %(when)s.", num=meeting.number, when=when), "success")
            return redirect(url_for(".cohort", cohort_id=meeting.cohort_id))
    return form_page(
        "admin/session_form.html",
        form=form,
        meeting=meeting,
        action="reschedule",
        fixed=fixed,
        **_refusal(done),
    )


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
def cancel_session(session_id: int):
    meeting = get_or_404(Meeting, session_id)
    form = CancelSessionForm()
    fixed, done = scheduling.why_fixed(meeting, "cancelled"), Outcome()
    if fixed is None and form.validate_on_submit():
        with committed() as done:
            scheduling.cancel_session(meeting, reason=form.reason.data, actor=current_user)
        if done:
            flash(_("Session %(num)d cancelled.", num=meeting.number), "success")
            return redirect(url_for(".cohort", cohort_id=meeting.cohort_id))
    return form_page(
        "admin/session_form.html",
        form=form,
        meeting=meeting,
        action="cancel",
        fixed=fixed,
        error=done.error or None,
    )


def _facilitator_choices() -> list[tuple[int, str]]:
    return [(u.id, f"{u.full_name} ({u.email})") for u in cohort_service.active_facilitators()]


def _reviewer_choices(cohort: Cohort) -> list[tuple[str, str]]:
    """Active facilitators by email (the value a person can read), and the current reviewer
    even when his account has since been disabled."""
    choices = [("", _("The cohort's facilitators"))]
    choices += [
        (u.email, f"{u.full_name} ({u.email})") for u in cohort_service.active_facilitators()
    ]
    current = cohort.reviewer
    if current is not None and current.email not in dict(choices):
        disabled = _(
            "%(name)s (%(email)s), account disabled", name=current.full_name, email=current.email
        )
        choices.append((current.email, disabled))
    return choices
