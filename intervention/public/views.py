"""Public pages: front page, /healthz, /verify for anyone holding a certificate, and the
private calendar feeds (calendar apps cannot sign in; the secret URL is the key)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text

from ..extensions import db
from ..services import audit
from ..services import calendar as calendar_service
from ..services import certificates as certificate_service
from .forms import VerifyForm

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        from ..auth.views import home_url

        return redirect(home_url(current_user))
    return render_template("public/index.html")


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not healthy"
        db.session.rollback()
        return {"status": "error", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}


@bp.route("/calendar/<token>.ics")
def calendar_feed(token: str):
    # Not audited per fetch: calendar apps poll every few hours. Making or renewing the
    # token is audited instead.
    user = calendar_service.user_for_token(token)
    if user is None:
        abort(404)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    body = calendar_service.build_feed(
        calendar_service.latest_enrollment(user),
        lambda number: base + url_for("participant.module", number=number),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    form = VerifyForm()
    if form.validate_on_submit():
        if form.pdf.data:
            cert = certificate_service.find_by_pdf(form.pdf.data.read())
            method = "upload"
        else:
            cert = certificate_service.find_by_code(form.code.data)
            method = "code"
        return _show(cert, method)
    return render_template("public/verify.html", form=form)


@bp.route("/verify/<code>")
def verify_code(code: str):
    return _show(certificate_service.find_by_code(code), "link")


def _show(cert, method: str):
    actor = current_user if current_user.is_authenticated else None
    audit.record(
        "certificate.verify",
        actor,
        cert,
        method=method,
        found=cert is not None,
        **({"number": cert.number, "status": cert.status.value} if cert else {}),
    )
    db.session.commit()
    if cert is None:
        return render_template("public/verify_result.html", cert=None), 404
    return render_template(
        "public/verify_result.html",
        cert=cert,
        enrollment=cert.enrollment,
        code=certificate_service.format_code(cert.verification_code),
        verify_form_url=url_for("public.verify"),
    )
