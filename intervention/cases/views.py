"""The case page: status, what is unmet, the timeline, the court documents, and the actions on
the case. Facilitators reach their own cohorts' cases; the program director reaches all."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from ..access import can_facilitate, get_or_404, guard_blueprint, owned_or_404
from ..downloads import document_response
from ..extensions import db
from ..facilitator.forms import SEND_METHOD_LABELS
from ..forms import EmptyForm
from ..models import (
    CourtDocument,
    DocumentKind,
    Enrollment,
    EnrollmentState,
    Role,
)
from ..services import cases as case_service
from ..services import certificates as certificate_service
from ..services import completion
from ..services import documents as document_service
from ..services import notices as notice_service
from ..transaction import committed, flash_refusal
from .forms import ContactForm, RecommendationForm, ReissueForm, StatusForm

bp = Blueprint("cases", __name__)
guard_blueprint(bp, Role.FACILITATOR, Role.ADMIN)


def case_or_404(enrollment_id: int) -> Enrollment:
    enrollment = get_or_404(Enrollment, enrollment_id)
    owned_or_404(can_facilitate(current_user, enrollment.cohort))
    return enrollment


def back_to(enrollment: Enrollment, anchor: str = "") -> str:
    return url_for(".case", enrollment_id=enrollment.id) + (f"#{anchor}" if anchor else "")


def flash_errors(prefix: str, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(_("%(action)s: %(problem)s", action=prefix, problem=error), "error")


def _status_form(enrollment: Enrollment, **kwargs) -> StatusForm:
    form = StatusForm(**kwargs)
    form.to_state.choices = [SelectChoice("", _("Choose…"))] + [
        SelectChoice(state.value, label)
        for state, label in case_service.staff_actions(enrollment).items()
    ]
    return form


@bp.route("/<int:enrollment_id>")
def case(enrollment_id: int):
    enrollment = case_or_404(enrollment_id)
    return render_template(
        "cases/case.html",
        enrollment=enrollment,
        result=completion.evaluate(enrollment),
        status_form=_status_form(enrollment, formdata=None),
        reissue_form=ReissueForm(formdata=None),
        contact_form=ContactForm(formdata=None),
        recommendation_form=RecommendationForm(
            formdata=None,
            recommendation=enrollment.recommendation or "none",
            text=enrollment.recommendation_text,
            may_reenroll={True: "yes", False: "no"}.get(enrollment.may_reenroll, ""),
        ),
        contacts=notice_service.contacts_for(enrollment),
        button_form=EmptyForm(),
        documents=document_service.documents_for(enrollment),
        numbers=document_service.numbers_for(enrollment),
        is_overdue=notice_service.is_overdue,
        today=notice_service.court_today(enrollment),
        DocumentKind=DocumentKind,
        send_methods=SEND_METHOD_LABELS,
        format_code=certificate_service.format_code,
    )


@bp.route("/<int:enrollment_id>/status", methods=["POST"])
def change_status(enrollment_id: int):
    enrollment = case_or_404(enrollment_id)
    form = _status_form(enrollment)
    if not form.validate_on_submit():
        flash_errors(_("Status not changed"), form)
        return redirect(back_to(enrollment, "status"))
    to_state = EnrollmentState(form.to_state.data)
    with committed(flash_refusal(_l("Status not changed: %(problem)s"))) as done:
        _transition, report = case_service.change_status(
            enrollment, to_state, current_user, form.reason.data
        )
    if not done:
        return redirect(back_to(enrollment, "status"))
    state = str(to_state.label).lower()
    if report is None:
        message = _("Case %(case)s is now %(state)s.", case=enrollment.case_number, state=state)
    else:
        message = _(
            "Case %(case)s is now %(state)s. Termination report %(number)s generated.",
            case=enrollment.case_number,
            state=state,
            number=document_service.document_number(report),
        )
    flash(message, "success")
    return redirect(back_to(enrollment))


@bp.route("/<int:enrollment_id>/progress-report", methods=["POST"])
def progress_report(enrollment_id: int):
    enrollment = case_or_404(enrollment_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed(flash_refusal(_l("No report generated: %(problem)s"))) as done:
        report = document_service.progress_report(enrollment, current_user)
    if not done:
        return redirect(back_to(enrollment, "documents"))
    flash(
        _(
            "Progress report %(number)s generated.",
            number=document_service.document_number(report),
        ),
        "success",
    )
    return redirect(back_to(enrollment, "documents"))


@bp.route("/<int:enrollment_id>/contacts", methods=["POST"])
def record_contact(enrollment_id: int):
    enrollment = case_or_404(enrollment_id)
    form = ContactForm()
    if not form.validate_on_submit():
        flash_errors(_("Contact attempt not recorded"), form)
        return redirect(back_to(enrollment, "contacts"))
    with committed(flash_refusal(_l("Contact attempt not recorded: %(problem)s"))) as done:
        notice_service.record_contact(
            enrollment,
            current_user,
            on=form.on.data,
            method=form.method.data,
            outcome=form.outcome.data,
        )
    if done:
        flash(_("Contact attempt recorded."), "success")
    return redirect(back_to(enrollment, "contacts"))


@bp.route("/<int:enrollment_id>/recommendation", methods=["POST"])
def set_recommendation(enrollment_id: int):
    enrollment = case_or_404(enrollment_id)
    form = RecommendationForm()
    if not form.validate_on_submit():
        flash_errors(_("Recommendation not saved"), form)
        return redirect(back_to(enrollment, "contacts"))
    with committed(flash_refusal(_l("Recommendation not saved: %(problem)s"))) as done:
        notice_service.set_recommendation(
            enrollment,
            current_user,
            recommendation=form.recommendation.data,
            text=form.text.data,
            may_reenroll=form.reenroll,
        )
    if done:
        flash(
            _("Recommendation saved; the next notice or termination report states it."), "success"
        )
    return redirect(back_to(enrollment, "contacts"))


@bp.route("/notices/<int:notice_id>/pdf", methods=["POST"])
def notice_pdf(notice_id: int):
    notice = get_or_404(CourtDocument, notice_id)
    if notice.kind is not DocumentKind.NONCOMPLIANCE_NOTICE:
        abort(404)
    owned_or_404(can_facilitate(current_user, notice.enrollment.cohort))
    back = back_to(notice.enrollment, "documents")
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed() as done:
        document_service.generate_notice(notice, current_user)
    if isinstance(done.refusal, document_service.AlreadyGenerated):
        flash(done.error, "info")  # a second click: the first generated it
    elif not done:
        flash(_("Notice not generated: %(problem)s", problem=done.error), "error")
    if not done:
        return redirect(back)
    flash(
        _(
            "Notice %(number)s generated. Its PDF is now fixed and will not change.",
            number=document_service.document_number(notice),
        ),
        "success",
    )
    return redirect(back)


@bp.route("/documents/<int:doc_id>.pdf")
def document_pdf(doc_id: int):
    doc = get_or_404(CourtDocument, doc_id)
    owned_or_404(can_facilitate(current_user, doc.enrollment.cohort))
    if doc.sha256 is None:
        abort(404)  # a drafted notice whose PDF is not generated yet
    document_service.record_download(doc, current_user)
    db.session.commit()
    return document_response(doc, document_service.filename(doc))
