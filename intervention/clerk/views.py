"""Clerk pages. Every query is limited to the clerk's own court; reflection text never appears."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import or_, select

from ..access import can_see_case, get_or_404, guard_blueprint, owned_or_404
from ..downloads import certificate_response
from ..extensions import db
from ..models import Certificate, Enrollment, EnrollmentState, Role, User
from ..services import audit, completion
from ..services import certificates as certificate_service
from .forms import CaseSearchForm

bp = Blueprint("clerk", __name__)
guard_blueprint(bp, Role.CLERK)


@bp.route("/")
def cases():
    form = CaseSearchForm(request.args)
    query = (
        select(Enrollment)
        .join(User, Enrollment.participant_id == User.id)
        .where(Enrollment.court_id == current_user.court_id)
        .order_by(Enrollment.referral_date.desc(), Enrollment.id.desc())
    )
    if form.validate():
        if form.q.data:
            like = f"%{form.q.data}%"
            query = query.where(or_(Enrollment.case_number.ilike(like), User.full_name.ilike(like)))
        if form.status.data:
            query = query.where(Enrollment.state == EnrollmentState(form.status.data))
    page = db.paginate(query, per_page=25, error_out=False)
    return render_template("clerk/cases.html", form=form, page=page)


@bp.route("/cases/<int:enrollment_id>")
def case(enrollment_id: int):
    enrollment = get_or_404(Enrollment, enrollment_id)
    owned_or_404(can_see_case(current_user, enrollment))
    audit.record("case.view", current_user, enrollment, case_number=enrollment.case_number)
    db.session.commit()
    return render_template(
        "clerk/case.html", enrollment=enrollment, result=completion.evaluate(enrollment)
    )


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    owned_or_404(can_see_case(current_user, cert.enrollment))
    certificate_service.record_download(cert, current_user)
    db.session.commit()
    return certificate_response(cert)
