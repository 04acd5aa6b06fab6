"""Program director pages: the whole program at a glance, certificates and their revocation."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..access import get_or_404, guard_blueprint
from ..extensions import db
from ..models import (
    Certificate,
    Cohort,
    Court,
    CurriculumVersion,
    Enrollment,
    EnrollmentState,
    Role,
    User,
)
from ..services import ServiceError, curriculum
from ..services import certificates as certificate_service
from ..services.audit import verify_chain
from .forms import MoveVersionForm, RevokeForm

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
        (v.id, f"{v.label} ({v.short_hash}), loaded {v.loaded_at:%Y-%m-%d}") for v in newer
    ]
    if newer and form.validate_on_submit():
        try:
            version = db.session.get(CurriculumVersion, form.version_id.data)
            changes = curriculum.move_cohort(cohort, version, current_user, form.reason.data)
            db.session.commit()
            flash("Cohort " + "; ".join(changes) + ".", "success")
            return redirect(url_for(".cohort", cohort_id=cohort.id))
        except ServiceError as exc:
            db.session.rollback()
            form.version_id.errors.append(str(exc))
    return render_template("admin/cohort.html", cohort=cohort, newer=newer, form=form)
