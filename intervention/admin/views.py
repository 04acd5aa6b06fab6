"""Program director pages: the whole program at a glance, certificates and their revocation."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..access import get_or_404, guard_blueprint
from ..extensions import db
from ..models import Certificate, Cohort, Court, Enrollment, EnrollmentState, Role, User
from ..services import ServiceError
from ..services import certificates as certificate_service
from ..services.audit import verify_chain
from .forms import RevokeForm

bp = Blueprint("admin", __name__)
guard_blueprint(bp, Role.ADMIN)


@bp.route("/")
def home():
    counts = dict(
        db.session.execute(select(Enrollment.state, func.count()).group_by(Enrollment.state)).all()
    )
    chain_ok, broken, events = verify_chain()
    return render_template(
        "admin/home.html",
        counts={state: counts.get(state, 0) for state in EnrollmentState},
        courts=db.session.scalars(select(Court).order_by(Court.name)).all(),
        cohorts=db.session.scalars(select(Cohort).order_by(Cohort.start_date.desc())).all(),
        staff=db.session.scalars(
            select(User).where(User.role != Role.PARTICIPANT).order_by(User.role, User.full_name)
        ).all(),
        certificates=db.session.scalars(
            select(Certificate).order_by(Certificate.issued_at.desc()).limit(20)
        ).all(),
        chain_ok=chain_ok,
        broken=broken,
        events=events,
    )


@bp.route("/certificates/<int:certificate_id>", methods=["GET", "POST"])
def certificate(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            certificate_service.revoke(cert, current_user, form.reason.data)
            db.session.commit()
            flash(f"Certificate {cert.number} revoked.", "success")
            return redirect(url_for(".certificate", certificate_id=cert.id))
        except ServiceError as exc:
            db.session.rollback()
            form.reason.errors.append(str(exc))
    return render_template(
        "admin/certificate.html",
        cert=cert,
        form=form,
        code=certificate_service.format_code(cert.verification_code),
    )
