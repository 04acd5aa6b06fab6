"""Certificates as staff handle them on a case: issuing the first, re-issuing to correct one,
and downloading the stored PDF. Facilitators reach their own cohorts' cases, the director all.
(Revoking a certificate and issuing after a revocation are the director's decisions alone:
admin/certificate_views.py.)"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..access import can_facilitate, get_or_404, owned_or_404
from ..downloads import certificate_response
from ..extensions import db
from ..forms import EmptyForm
from ..models import Certificate
from ..services import certificates as certificate_service
from ..transaction import committed, flash_error, flash_refusal
from .forms import ReissueForm
from .views import back_to, bp, case_or_404, flash_errors


@bp.route("/<int:enrollment_id>/certificate", methods=["POST"])
def issue_certificate(enrollment_id: int):
    enrollment = case_or_404(enrollment_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    with committed(flash_error) as done:
        cert = certificate_service.issue(enrollment, current_user)
    if done:
        flash(_("Certificate %(number)s issued.", number=cert.number), "success")
    return redirect(url_for("facilitator.enrollment", enrollment_id=enrollment.id))


@bp.route("/certificates/<int:certificate_id>/reissue", methods=["POST"])
def reissue_certificate(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    owned_or_404(can_facilitate(current_user, cert.enrollment.cohort))
    back = back_to(cert.enrollment, "certificates")
    form = ReissueForm()
    if not form.validate_on_submit():
        flash_errors(_("Certificate not re-issued"), form)
        return redirect(back)
    with committed(flash_refusal(_l("Certificate not re-issued: %(problem)s"))) as done:
        new = certificate_service.reissue(cert, current_user, form.reason.data)
    if not done:
        return redirect(back)
    flash(
        _(
            "Certificate %(number)s issued; %(old)s is superseded by it.",
            number=new.number,
            old=cert.number,
        ),
        "success",
    )
    return redirect(back)


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    owned_or_404(can_facilitate(current_user, cert.enrollment.cohort))
    certificate_service.record_download(cert, current_user)
    db.session.commit()
    return certificate_response(cert)
