"""The courts that refer men to the program: their list, a new court, a court's details."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import get_or_404
from ..models import Court
from ..services import courts as court_service
from ..transaction import Outcome, committed
from .forms import CourtForm
from .views import bp, form_page


@bp.route("/courts")
def courts():
    return render_template(
        "admin/courts.html",
        courts=court_service.listing(),
        open_cases=court_service.open_cases_by_court(),
        clerks=court_service.clerks_by_court(),
    )


def _details(form: CourtForm) -> dict:
    """The court's details as the form gives them."""
    return {
        "name": form.name.data,
        "jurisdiction": form.jurisdiction.data,
        "timezone": form.chosen_timezone,
        "notice_deadline_days": form.notice_deadline_days.data,
        "language": form.language.data,
        "session_titles_on_documents": form.session_titles_on_documents.data,
        "requires_date_of_birth": form.requires_date_of_birth.data,
    }


@bp.route("/courts/new", methods=["GET", "POST"])
def new_court():
    form = CourtForm()
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            # Left unset, the state is the one its jurisdiction names, if it names one.
            court = court_service.create_court(
                **_details(form), state=form.state.data or None, actor=current_user
            )
        if done:
            flash(_("Court %(name)s added.", name=court.name), "success")
            return redirect(url_for(".courts"))
    return form_page("admin/court_form.html", form=form, court=None, error=done.error)


@bp.route("/courts/<int:court_id>/edit", methods=["GET", "POST"])
def edit_court(court_id: int):
    court = get_or_404(Court, court_id)
    form = CourtForm(obj=court)
    if request.method == "GET":
        form.show_timezone(court.timezone)
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            court_service.update_court(
                court, **_details(form), state=form.state.data or "", actor=current_user
            )
        if done:
            flash(_("Court %(name)s saved.", name=court.name), "success")
            return redirect(url_for(".courts"))
    return form_page("admin/court_form.html", form=form, court=court, error=done.error)
