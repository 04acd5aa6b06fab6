"""Enrollments: the search, a new enrollment (and participant), a case's referral details,
and the one-time invitation links men sign up with."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..access import get_or_404
from ..auth import invitations
from ..extensions import db
from ..forms import EmptyForm
from ..i18n import format_clock, format_date
from ..models import (
    Cohort,
    Court,
    Enrollment,
    EnrollmentState,
    ReferralType,
    Role,
    User,
    utcnow,
)
from ..services import cohorts as cohort_service
from ..services import courts as court_service
from ..services import enrollments as enrollment_service
from ..transaction import Outcome, committed
from .forms import (
    EnrollForm,
    EnrollmentSearchForm,
    ReferralDetailsForm,
)
from .views import WEEKDAYS_PLURAL, bp, form_page


@bp.route("/enrollments")
def enrollments():
    form = EnrollmentSearchForm(request.args)
    form.court.choices = [(0, _("Any court"))] + [(c.id, c.name) for c in court_service.listing()]
    # Cohorts still meeting, and the one asked for: the list of every cohort ever would grow
    # without bound (a finished cohort's page links here with ?cohort=).
    wanted = request.args.get("cohort", type=_row_id)
    form.cohort.choices = [(0, _("Any cohort"))] + [
        (c.id, c.name) for c in cohort_service.ongoing(utcnow(), also=wanted, newest_first=True)
    ]
    query = enrollment_service.search()
    if form.validate():
        query = enrollment_service.search(
            case_number=form.q.data or "",
            court_id=form.court.data or None,
            cohort_id=form.cohort.data or None,
            state=EnrollmentState(form.state.data) if form.state.data else None,
        )
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
    form = EnrollForm()
    find = (request.args.get("find") or "").strip()[:200]
    _offer_choices(form, find)
    if request.method == "GET":
        form.referral_date.data = utcnow().date()
        for field, arg in ((form.cohort_id, "cohort"), (form.participant_id, "participant")):
            wanted = request.args.get(arg, type=int)
            if wanted in dict(field.choices):
                field.data = wanted
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            participant, new = _participant(form)
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
            token = invitations.invite(participant, current_user) if new else None
        if done:
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
                return show_invitation(participant, token)
            return redirect(url_for("facilitator.enrollment", enrollment_id=enrollment.id))
    return form_page("admin/enrollment_form.html", form=form, error=done.error, find=find)


def _offer_choices(form: EnrollForm, find: str) -> None:
    """The men a search found, the cohorts he may still join, the courts."""
    chosen = request.form.get("participant_id", type=_row_id) or request.args.get(
        "participant", type=_row_id
    )
    form.participant_id.choices = [(0, _("New participant: enter his name and email below"))] + [
        (u.id, f"{u.full_name} ({u.email})")
        for u in enrollment_service.find_participants(find, chosen)
    ]
    # Only cohorts with a session still ahead: a finished cohort has nothing left to attend.
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
        for c in cohort_service.ongoing(utcnow())
    ]
    form.court_id.choices = [(c.id, c.name) for c in court_service.listing()]


def _participant(form: EnrollForm) -> tuple[User, bool]:
    """The man chosen, or a new participant made from the form (True: he is new)."""
    if form.participant_id.data:
        return db.session.get(User, form.participant_id.data), False
    participant = enrollment_service.new_participant(
        full_name=form.full_name.data, email=form.email.data, actor=current_user
    )
    return participant, True


@bp.route("/enrollments/<int:enrollment_id>/referral", methods=["GET", "POST"])
def edit_referral(enrollment_id: int):
    enrollment = get_or_404(Enrollment, enrollment_id)
    form = ReferralDetailsForm(obj=enrollment)
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            enrollment_service.update_referral_details(
                enrollment,
                date_of_birth=form.date_of_birth.data,
                court_person_number=form.court_person_number.data or "",
                parties=form.parties,
                actor=current_user,
            )
        if done:
            flash(_("Case %(case)s saved.", case=enrollment.case_number), "success")
            return redirect(url_for("facilitator.enrollment", enrollment_id=enrollment.id))
    return form_page("admin/referral_form.html", form=form, enrollment=enrollment, error=done.error)


def _row_id(text: str) -> int:
    """An id read from a URL or a form; one no id column can hold (PostgreSQL's INTEGER is
    32-bit) raises ValueError, so request.args.get(..., type=_row_id) reads it as absent
    (found by test_form_fuzz)."""
    value = int(text)
    if not 0 < value < 2**31:
        raise ValueError(text)
    return value


def show_invitation(participant: User, token: str):
    """Post/redirect/get: the link waits in the server-side session for a page showing it once."""
    session["invitation"] = {"user_id": participant.id, "token": token}
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
    token = invitations.invite(participant, current_user)
    db.session.commit()
    return show_invitation(participant, token)


@bp.route("/invitation")
def invitation():
    shown = session.pop("invitation", None)
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
