"""Public pages: front page, /healthz, /verify for anyone holding a certificate, and the
private calendar feeds (calendar apps cannot sign in; the secret URL is the key)."""

from __future__ import annotations

import math
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from sqlalchemy import text

from .. import signing
from ..extensions import db, limiter
from ..i18n import format_date, format_datetime
from ..models import Certificate
from ..services import audit
from ..services import calendar as calendar_service
from ..services import certificates as certificate_service
from ..services import enrollments as enrollment_service
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
        enrollment_service.latest_enrollment(user),
        lambda number: base + url_for("participant.module", number=number),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _verify_limit() -> str:
    return current_app.config["VERIFY_RATE_LIMIT"]


# One budget per address for both ways of asking (the form and the QR link), so codes cannot
# be guessed by switching between them. The blank form itself is not counted.
verify_limit = limiter.shared_limit(_verify_limit, scope="verify", methods=["POST"])
verify_link_limit = limiter.shared_limit(_verify_limit, scope="verify")


@bp.route("/verify", methods=["GET", "POST"])
@verify_limit
def verify():
    form = VerifyForm()
    if form.validate_on_submit():
        if form.pdf.data:
            data = form.pdf.data.read()
            # The signature is checked as well as the bytes: it says who signed and when,
            # and whether a file that is not byte for byte ours was changed after signing.
            return _show(
                certificate_service.find_by_pdf(data), "upload", signing.check_signature(data)
            )
        return _show(certificate_service.find_by_code(form.code.data), "code")
    return render_template("public/verify.html", form=form)


@bp.route("/verify/<code>")
@verify_link_limit
def verify_code(code: str):
    return _show(certificate_service.find_by_code(code), "link")


def _show(cert: Certificate | None, method: str, signature: signing.SignatureCheck | None = None):
    actor = current_user if current_user.is_authenticated else None
    # Stored bytes that are not the ones issued are never confirmed (audited as an incident).
    intact = certificate_service.confirm(cert, actor, method).intact if cert else True
    # Only the minimum a holder needs confirmed: no court, case number, issuer, code or hash.
    # Rendered before the commit, which would expire what the page reads.
    page = render_template(
        "public/verify_result.html",
        cert=cert,
        intact=intact,
        method=method,
        completed_on=_completion_date(cert) if cert else None,
        signature=signature,
        signed_at=_signing_time(signature, cert),
        issued_on=format_date(cert.issued_at, cert.enrollment.court.timezone) if cert else None,
    )
    audit.record(
        "certificate.verify",
        actor,
        cert,
        method=method,
        found=cert is not None,
        **({"number": cert.number, "status": cert.status.value} if cert else {}),
        **({"signature": _signature_outcome(signature)} if signature else {}),
    )
    db.session.commit()
    response = make_response(page, 200 if cert else 404)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds a verification code
    return response


def _signing_time(signature: signing.SignatureCheck | None, cert: Certificate | None) -> str:
    """When the file says it was signed, on the court's clock (UTC for a file not ours)."""
    if signature is None or signature.signed_at is None:
        return ""
    return format_datetime(signature.signed_at, cert.enrollment.court.timezone if cert else "UTC")


def _signature_outcome(signature: signing.SignatureCheck) -> str:
    """One word for the audit log; never the signer's name."""
    if not signature.present:
        return "missing"
    if not signature.intact:
        return "broken"
    return "valid" if signature.valid else "untrusted" if not signature.trusted else "amended"


def _completion_date(cert: Certificate) -> str:
    """The day the last requirement was met, as stored when the certificate was issued: not
    the day of issue, which a late issue or a correction moves."""
    return format_date(cert.completion_day(cert.enrollment.court.timezone))


@bp.app_errorhandler(429)
def too_many_requests(_error):
    """Any rate limit of the site (verification now, sign-in later): say when to try again."""
    current = limiter.current_limit
    wait = max(1, math.ceil(current.reset_at - time.time())) if current else 60
    page = render_template("public/too_many_requests.html", wait=wait)
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(wait)
    return response
