"""Legal holds: an admin keeps a closed case from being anonymised by `retention apply`."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, TextAreaField
from wtforms.validators import AnyOf, Length, Optional

from ..access import get_or_404
from ..forms import BaseForm
from ..models import Enrollment
from ..services import retention
from ..transaction import committed
from .views import bp


class HoldForm(BaseForm):
    action = HiddenField(validators=[AnyOf(["place", "lift"], message=_l("Choose place or lift."))])
    reason = TextAreaField(
        _l("Reason for the hold"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Required to place a hold, e.g. the court order or litigation it serves."),
    )


@bp.route("/holds")
def holds():
    query = (request.args.get("q") or "").strip()[:80]
    found = retention.cases_matching(query) if query else []
    return render_template(
        "admin/holds.html", held=retention.held_cases(), found=found, query=query
    )


@bp.route("/cases/<int:enrollment_id>/hold", methods=["GET", "POST"])
def case_hold(enrollment_id: int):
    enrollment = get_or_404(Enrollment, enrollment_id)
    form = HoldForm()
    if form.validate_on_submit():
        placing = form.action.data == "place"
        with committed(form.reason) as done:
            retention.set_hold(enrollment, placing, form.reason.data or "", current_user)
        if done:
            message = (
                _("Legal hold placed on case %(case)s.", case=enrollment.case_number)
                if placing
                else _("Legal hold lifted from case %(case)s.", case=enrollment.case_number)
            )
            flash(message, "success")
            return redirect(url_for("admin.holds"))
    closed = retention.closed_at(enrollment)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/hold.html", enrollment=enrollment, form=form, closed=closed
    ), status
