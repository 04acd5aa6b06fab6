"""Program director pages: the program at a glance, courts, cohorts and their sessions,
enrollments and invitation links, certificates and their revocation."""

from __future__ import annotations

from datetime import time

from babel import dates, numbers
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import FileStorage

from ..access import get_or_404, guard_blueprint
from ..auth import invitations
from ..extensions import db
from ..forms import EmptyForm
from ..i18n import current_language, format_clock, format_date, format_datetime
from ..models import (
    Certificate,
    Cohort,
    Court,
    CurriculumVersion,
    Enrollment,
    EnrollmentState,
    Program,
    ReferralType,
    Role,
    Session,
    SessionStatus,
    User,
    utcnow,
)
from ..services import ServiceError, audit, curriculum, scheduling, stats
from ..services import certificates as certificate_service
from ..services import enrollments as enrollment_service
from ..services import notices as notice_service
from ..services import provider as provider_service
from ..services import reflections as reflection_service
from ..services.audit import PAGE_CHECK_EVENTS, verify_chain
from ..services.enrollments import OPEN_STATES
from .forms import (
    CancelSessionForm,
    CohortDetailsForm,
    CohortForm,
    CourtForm,
    EnrollForm,
    EnrollmentSearchForm,
    IssueAgainForm,
    MoveVersionForm,
    ProviderForm,
    ReferralDetailsForm,
    RescheduleForm,
    ReviewerForm,
    RevokeForm,
)

bp = Blueprint("admin", __name__)
guard_blueprint(bp, Role.ADMIN)


# The overview shows the newest of each list and links to the full, paged page.
OVERVIEW_ROWS = 10
# "Meets Mondays at...": the plural names, Monday first, as Cohort.weekday counts.
WEEKDAYS_PLURAL = [
    _l("Mondays"),
    _l("Tuesdays"),
    _l("Wednesdays"),
    _l("Thursdays"),
    _l("Fridays"),
    _l("Saturdays"),
    _l("Sundays"),
]


@bp.route("/")
def home():
    counts = dict(
        db.session.execute(select(Enrollment.state, func.count()).group_by(Enrollment.state)).all()
    )
    chain = verify_chain(last=PAGE_CHECK_EVENTS)
    enrolled = (
        select(Enrollment.cohort_id, func.count().label("men"))
        .group_by(Enrollment.cohort_id)
        .subquery()
    )
    recent_cohorts = db.session.execute(
        select(Cohort, func.coalesce(enrolled.c.men, 0))
        .outerjoin(enrolled, enrolled.c.cohort_id == Cohort.id)
        .options(selectinload(Cohort.facilitators))
        .order_by(Cohort.start_date.desc(), Cohort.id.desc())
        .limit(OVERVIEW_ROWS)
    ).all()
    staff_counts = dict(
        db.session.execute(
            select(User.role, func.count()).where(User.role != Role.PARTICIPANT).group_by(User.role)
        ).all()
    )
    overdue = notice_service.overdue()
    return render_template(
        "admin/home.html",
        counts={state: counts.get(state, 0) for state in EnrollmentState},
        court_count=db.session.scalar(select(func.count()).select_from(Court)),
        cohort_count=db.session.scalar(select(func.count()).select_from(Cohort)),
        recent_cohorts=recent_cohorts,
        staff_counts=staff_counts,
        certificates=db.session.scalars(
            select(Certificate)
            .options(
                joinedload(Certificate.enrollment).joinedload(Enrollment.participant),
                joinedload(Certificate.enrollment).joinedload(Enrollment.court),
            )
            .order_by(Certificate.issued_at.desc())
            .limit(OVERVIEW_ROWS)
        ).all(),
        provider_missing=provider_service.current() is None,
        overdue_notices=overdue[:OVERVIEW_ROWS],
        overdue_count=len(overdue),
        open_notices=notice_service.open_count(),
        chain_ok=chain.ok,
        broken=chain.broken,
        events=chain.checked,
        chain_problem=chain.problem,
        roles=Role,
        months=_chart_months(stats.monthly_rates()),
        percent=_percent,
    )


def _chart_months(rates: list[stats.MonthRates]) -> list[dict]:
    """Each month's rates with its name in the reader's language: short on the chart's axis
    (the year under January, and under the first month unless January is right after it),
    long in the table."""
    locale = current_language()
    return [
        {
            "rates": r,
            "short": dates.format_date(r.month, "LLL", locale=locale),
            "long": dates.format_date(r.month, "MMM y", locale=locale),
            "year": str(r.month.year)
            if r.month.month == 1 or (i == 0 and r.month.month < 12)
            else "",
        }
        for i, r in enumerate(rates)
    ]


def _percent(share: float) -> str:
    return numbers.format_percent(share, locale=current_language())


@bp.route("/certificates/<int:certificate_id>", methods=["GET", "POST"])
def certificate(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            certificate_service.revoke(cert, current_user, form.reason.data)
            db.session.commit()
            flash(_("Certificate %(number)s revoked.", number=cert.number), "success")
            return redirect(url_for(".certificate", certificate_id=cert.id))
        except ServiceError as exc:
            db.session.rollback()
            form.reason.errors.append(str(exc))
    return _certificate_page(cert, form, IssueAgainForm(formdata=None))


@bp.route("/certificates/<int:certificate_id>/issue-again", methods=["POST"])
def issue_again(certificate_id: int):
    """After a revocation, a new certificate only by the director's deliberate decision."""
    cert = get_or_404(Certificate, certificate_id)
    form = IssueAgainForm()
    if form.validate_on_submit():
        try:
            new = certificate_service.issue_after_revocation(cert, current_user, form.reason.data)
            db.session.commit()
        except ServiceError as exc:
            # Said above the page: a second click finds the form gone with the revocation
            # already followed.
            db.session.rollback()
            flash(_("No new certificate issued: %(problem)s", problem=exc), "error")
            return redirect(url_for(".certificate", certificate_id=cert.id))
        flash(
            _(
                "Certificate %(number)s issued after the revocation of %(old)s.",
                number=new.number,
                old=cert.number,
            ),
            "success",
        )
        return redirect(url_for(".certificate", certificate_id=new.id))
    return _certificate_page(cert, RevokeForm(formdata=None), form)


def _certificate_page(cert: Certificate, revoke_form: RevokeForm, again_form: IssueAgainForm):
    return render_template(
        "admin/certificate.html",
        cert=cert,
        form=revoke_form,
        again_form=again_form,
        code=certificate_service.format_code(cert.verification_code),
    )


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


# --- the provider (letterhead) --------------------------------------------------------------


@bp.route("/provider", methods=["GET", "POST"])
def provider():
    record = provider_service.current()
    form = ProviderForm(obj=record)
    error = None
    if form.validate_on_submit():
        # Without an upload the field holds the stored logo (read from the record): keep it.
        upload = form.logo.data if isinstance(form.logo.data, FileStorage) else None
        if upload is not None and not upload.filename:
            upload = None  # a browser sends an empty file part when none was chosen
        try:
            provider_service.save(
                actor=current_user,
                logo=upload.read() if upload else None,
                remove_logo=form.remove_logo.data,
                **{name: getattr(form, name).data for name in provider_service.FIELDS},
            )
            db.session.commit()
            flash(_("The program's letterhead is saved."), "success")
            return redirect(url_for(".provider"))
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return _form_page("admin/provider_form.html", form=form, provider=record, error=error)


@bp.route("/provider/logo")
def provider_logo():
    """The stored (sanitised) logo, for the letterhead page's preview."""
    record = provider_service.current()
    if record is None or not record.logo:
        abort(404)
    response = Response(record.logo, content_type=record.logo_type)
    # Shown only as an <img>; opened on its own, an SVG may still run nothing or fetch nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# --- courts -------------------------------------------------------------------------------------


@bp.route("/courts")
def courts():
    open_cases = dict(
        db.session.execute(
            select(Enrollment.court_id, func.count())
            .where(Enrollment.state.in_(OPEN_STATES))
            .group_by(Enrollment.court_id)
        ).all()
    )
    clerks = dict(
        db.session.execute(
            select(User.court_id, func.count())
            .where(User.role == Role.CLERK, User.active)
            .group_by(User.court_id)
        ).all()
    )
    return render_template(
        "admin/courts.html",
        courts=db.session.scalars(select(Court).order_by(Court.name)).all(),
        open_cases=open_cases,
        clerks=clerks,
    )


@bp.route("/courts/new", methods=["GET", "POST"])
def new_court():
    form = CourtForm()
    error = None
    if form.validate_on_submit():
        try:
            court = scheduling.create_court(
                name=form.name.data,
                jurisdiction=form.jurisdiction.data,
                timezone=form.chosen_timezone,
                notice_deadline_days=form.notice_deadline_days.data,
                language=form.language.data,
                # Left unset: the state its jurisdiction names, if it names one.
                state=form.state.data or None,
                session_titles_on_documents=form.session_titles_on_documents.data,
                requires_date_of_birth=form.requires_date_of_birth.data,
                actor=current_user,
            )
            db.session.commit()
            flash(_("Court %(name)s added.", name=court.name), "success")
            return redirect(url_for(".courts"))
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return _form_page("admin/court_form.html", form=form, court=None, error=error)


@bp.route("/courts/<int:court_id>/edit", methods=["GET", "POST"])
def edit_court(court_id: int):
    court = get_or_404(Court, court_id)
    form = CourtForm(obj=court)
    if request.method == "GET":
        form.show_timezone(court.timezone)
    error = None
    if form.validate_on_submit():
        try:
            scheduling.update_court(
                court,
                name=form.name.data,
                jurisdiction=form.jurisdiction.data,
                timezone=form.chosen_timezone,
                notice_deadline_days=form.notice_deadline_days.data,
                language=form.language.data,
                state=form.state.data or "",
                session_titles_on_documents=form.session_titles_on_documents.data,
                requires_date_of_birth=form.requires_date_of_birth.data,
                actor=current_user,
            )
            db.session.commit()
            flash(_("Court %(name)s saved.", name=court.name), "success")
            return redirect(url_for(".courts"))
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return _form_page("admin/court_form.html", form=form, court=court, error=error)


def _form_page(template: str, **context):
    """A form page: 200 when first shown, 422 when a sent form comes back with errors."""
    return render_template(template, **context), 422 if request.method == "POST" else 200


# --- cohorts and their sessions -----------------------------------------------------------------


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
    return _form_page(
        "admin/cohort_form.html", form=form, cohort=None, error=error, clashes=clashes
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
    return _form_page("admin/cohort_form.html", form=form, cohort=cohort, error=error)


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
    return _form_page(
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
    return _form_page(
        "admin/session_form.html",
        form=form,
        meeting=meeting,
        action="cancel",
        fixed=fixed,
        error=error,
    )


# --- enrollments and invitation links -----------------------------------------------------------


@bp.route("/enrollments")
def enrollments():
    form = EnrollmentSearchForm(request.args)
    form.court.choices = [(0, _("Any court"))] + [
        (c.id, c.name) for c in db.session.scalars(select(Court).order_by(Court.name))
    ]
    # Cohorts still meeting, and the one asked for: the list of every cohort ever would grow
    # without bound (a finished cohort's page links here with ?cohort=).
    wanted = request.args.get("cohort", type=_row_id)
    form.cohort.choices = [(0, _("Any cohort"))] + [
        (c.id, c.name)
        for c in db.session.scalars(
            select(Cohort)
            .where(_meets_after(utcnow()) | (Cohort.id == wanted))
            .order_by(Cohort.start_date.desc(), Cohort.id.desc())
        )
    ]
    query = (
        select(Enrollment)
        .join(User, Enrollment.participant_id == User.id)
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())
    )
    if form.validate():
        if form.q.data:
            query = query.where(Enrollment.case_number.ilike(f"%{form.q.data}%"))
        if form.court.data:
            query = query.where(Enrollment.court_id == form.court.data)
        if form.cohort.data:
            query = query.where(Enrollment.cohort_id == form.cohort.data)
        if form.state.data:
            query = query.where(Enrollment.state == EnrollmentState(form.state.data))
    page = db.paginate(query, per_page=25, error_out=False)
    filters = {
        "q": form.q.data or None,
        "court": form.court.data or None,
        "cohort": form.cohort.data or None,
        "state": form.state.data or None,
    }
    return render_template(
        "admin/enrollments.html", form=form, page=page, filters=filters, invite_form=EmptyForm()
    )


@bp.route("/enrollments/new", methods=["GET", "POST"])
def new_enrollment():
    now = utcnow()
    form = EnrollForm()
    find = (request.args.get("find") or "").strip()[:200]
    chosen = request.form.get("participant_id", type=_row_id) or request.args.get(
        "participant", type=_row_id
    )
    form.participant_id.choices = [(0, _("New participant: enter his name and email below"))] + [
        (u.id, f"{u.full_name} ({u.email})") for u in _participant_choices(find, chosen)
    ]
    # Only cohorts with a session still ahead: a finished cohort has nothing left to attend.
    ongoing = db.session.scalars(
        select(Cohort).where(_meets_after(now)).order_by(Cohort.start_date, Cohort.id)
    ).all()
    form.cohort_id.choices = [
        (
            c.id,
            _(
                "%(name)s · %(weekdays)s %(time)s, from %(date)s",
                name=c.name,
                weekdays=WEEKDAYS_PLURAL[c.weekday],
                time=format_clock(c.start_time),
                date=format_date(c.start_date),
            ),
        )
        for c in ongoing
    ]
    form.court_id.choices = [
        (c.id, c.name) for c in db.session.scalars(select(Court).order_by(Court.name))
    ]
    if request.method == "GET":
        form.referral_date.data = now.date()
        for field, arg in ((form.cohort_id, "cohort"), (form.participant_id, "participant")):
            wanted = request.args.get(arg, type=int)
            if wanted in dict(field.choices):
                field.data = wanted
    error = None
    if form.validate_on_submit():
        try:
            if form.participant_id.data:
                participant, invited = db.session.get(User, form.participant_id.data), False
            else:
                participant = enrollment_service.new_participant(
                    full_name=form.full_name.data, email=form.email.data, actor=current_user
                )
                invited = True
            enrollment = enrollment_service.enroll(
                participant=participant,
                cohort=db.session.get(Cohort, form.cohort_id.data),
                court=db.session.get(Court, form.court_id.data),
                case_number=form.case_number.data,
                referral_type=ReferralType(form.referral_type.data),
                referral_date=form.referral_date.data,
                completion_deadline=form.completion_deadline.data,
                starts_on=form.starts_on.data,
                overrides=form.overrides,
                note=form.note.data or "",
                actor=current_user,
                date_of_birth=form.date_of_birth.data,
                court_person_number=form.court_person_number.data or "",
                parties=form.parties,
            )
            token = _invite(participant) if invited else None
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            flash(
                _(
                    "%(name)s enrolled in %(cohort)s, case %(case)s.",
                    name=participant.full_name,
                    cohort=enrollment.cohort.name,
                    case=enrollment.case_number,
                ),
                "success",
            )
            if token:
                return _show_invitation(participant, token)
            return redirect(url_for("facilitator.enrollment", enrollment_id=enrollment.id))
    return _form_page("admin/enrollment_form.html", form=form, error=error, find=find)


@bp.route("/enrollments/<int:enrollment_id>/referral", methods=["GET", "POST"])
def edit_referral(enrollment_id: int):
    enrollment = get_or_404(Enrollment, enrollment_id)
    form = ReferralDetailsForm(obj=enrollment)
    error = None
    if form.validate_on_submit():
        try:
            enrollment_service.update_referral_details(
                enrollment,
                date_of_birth=form.date_of_birth.data,
                court_person_number=form.court_person_number.data or "",
                parties=form.parties,
                actor=current_user,
            )
            db.session.commit()
            flash(_("Case %(case)s saved.", case=enrollment.case_number), "success")
            return redirect(url_for("facilitator.enrollment", enrollment_id=enrollment.id))
        except ServiceError as exc:
            db.session.rollback()
            error = str(exc)
    return _form_page("admin/referral_form.html", form=form, enrollment=enrollment, error=error)


def _row_id(text: str) -> int:
    """An id read from a URL or a form; one no id column can hold (PostgreSQL's INTEGER is
    32-bit) raises ValueError, so request.args.get(..., type=_row_id) reads it as absent
    (found by test_form_fuzz)."""
    value = int(text)
    if not 0 < value < 2**31:
        raise ValueError(text)
    return value


def _meets_after(moment):
    """SQL condition: the cohort has a session, not cancelled, after `moment`."""
    return (
        select(Session.id)
        .where(
            Session.cohort_id == Cohort.id,
            Session.scheduled_at > moment,
            Session.status != SessionStatus.CANCELLED,
        )
        .exists()
    )


# A program may hold tens of thousands of men: the form offers those a search found, never all.
PARTICIPANT_MATCHES = 25


def _participant_choices(find: str, chosen: int | None) -> list[User]:
    """Active participants whose name or email contains `find` (at most PARTICIPANT_MATCHES),
    plus the one already chosen (a link's ?participant=, or the posted form)."""
    active = select(User).where(User.role == Role.PARTICIPANT, User.active)
    found: list[User] = []
    if find:
        needle = find.lower()
        found = list(
            db.session.scalars(
                active.where(
                    func.lower(User.full_name).contains(needle, autoescape=True)
                    | func.lower(User.email).contains(needle, autoescape=True)
                )
                .order_by(User.full_name, User.id)
                .limit(PARTICIPANT_MATCHES)
            )
        )
    if chosen and all(u.id != chosen for u in found):
        found[:0] = db.session.scalars(active.where(User.id == chosen)).all()
    return found


def _invite(participant: User) -> str:
    token = invitations.make_token(participant)
    audit.record("invitation.create", current_user, participant)  # never the link itself
    return token


def _show_invitation(participant: User, token: str):
    """Post/redirect/get: the link waits in the server-side session for a page showing it once."""
    cookie_session["invitation"] = {"user_id": participant.id, "token": token}
    return redirect(url_for(".invitation"))


@bp.route("/participants/<int:user_id>/invitation", methods=["POST"])
def new_invitation(user_id: int):
    participant = get_or_404(User, user_id)
    if participant.role is not Role.PARTICIPANT:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not participant.active:
        flash(
            _("%(name)s's account is disabled; no link was made.", name=participant.full_name),
            "error",
        )
        return redirect(url_for(".enrollments"))
    token = _invite(participant)
    db.session.commit()
    return _show_invitation(participant, token)


@bp.route("/invitation")
def invitation():
    shown = cookie_session.pop("invitation", None)
    participant = db.session.get(User, shown["user_id"]) if shown else None
    if participant is None:
        flash(_("An invitation link is shown only once. Make a new one here."), "info")
        return redirect(url_for(".enrollments"))
    response = make_response(
        render_template(
            "admin/invitation.html",
            participant=participant,
            url=invitations.invitation_url(shown["token"]),
            expires=utcnow() + invitations.VALID_FOR,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
