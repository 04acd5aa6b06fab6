"""Certificates as the director sees them: one certificate's page, its revocation, and
a new certificate after a revocation, only by the director's deliberate decision."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..access import get_or_404
from ..models import (
    Certificate,
)
from ..services import certificates as certificate_service
from ..transaction import committed
from .forms import (
    IssueAgainForm,
    RevokeForm,
)
from .views import bp


@bp.route("/certificates/<int:certificate_id>", methods=["GET", "POST"])
def certificate(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    form = RevokeForm()
    if form.validate_on_submit():
        with committed(form.reason) as done:
            certificate_service.revoke(cert, current_user, form.reason.data)
        if done:
            flash(_("Certificate %(number)s revoked.", number=cert.number), "success")
            return redirect(url_for(".certificate", certificate_id=cert.id))
    return _certificate_page(cert, form, IssueAgainForm(formdata=None))


@bp.route("/certificates/<int:certificate_id>/issue-again", methods=["POST"])
def issue_again(certificate_id: int):
    """After a revocation, a new certificate only by the director's deliberate decision."""
    cert = get_or_404(Certificate, certificate_id)
    form = IssueAgainForm()
    if form.validate_on_submit():
        # A refusal is said above the page: a second click finds the form gone with the
        # revocation already followed.
        with committed(_flash_refusal) as done:
            new = certificate_service.issue_after_revocation(cert, current_user, form.reason.data)
        if not done:
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


def _flash_refusal(problem: str) -> None:
    flash(_("No new certificate issued: %(problem)s", problem=problem), "error")


def _certificate_page(cert: Certificate, revoke_form: RevokeForm, again_form: IssueAgainForm):
    return render_template(
        "admin/certificate.html",
        cert=cert,
        form=revoke_form,
        again_form=again_form,
        code=certificate_service.format_code(cert.verification_code),
    )
