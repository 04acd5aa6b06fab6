"""Clerk pages. Every query is limited to the clerk's own court; reflection text never appears."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Load, contains_eager, joinedload, selectinload

from ..access import can_see_case, get_or_404, guard_blueprint, owned_or_404
from ..downloads import certificate_response, document_response
from ..extensions import db
from ..models import (
    Certificate,
    CourtDocument,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    Role,
    User,
    utcnow,
)
from ..services import audit, completion, loading
from ..services import certificates as certificate_service
from ..services import documents as document_service
from . import exports
from .forms import CaseSearchForm, ExportForm

bp = Blueprint("clerk", __name__)
guard_blueprint(bp, Role.CLERK)


def _court_cases():
    """Every query of this blueprint starts here: the signed-in clerk's court only."""
    return (
        select(Enrollment)
        .join(User, Enrollment.participant_id == User.id)
        .where(Enrollment.court_id == current_user.court_id)
    )


def _search(form: CaseSearchForm):
    query = _court_cases().order_by(Enrollment.referral_date.desc(), Enrollment.id.desc())
    if not form.validate():
        return query
    if form.q.data:
        like = f"%{form.q.data}%"
        query = query.where(or_(Enrollment.case_number.ilike(like), User.full_name.ilike(like)))
    if form.status.data:
        query = query.where(Enrollment.state == EnrollmentState(form.status.data))
    if form.referred_from.data:
        query = query.where(Enrollment.referral_date >= form.referred_from.data)
    if form.referred_to.data:
        query = query.where(Enrollment.referral_date <= form.referred_to.data)
    return query


@bp.route("/")
def cases():
    form = CaseSearchForm(request.args)
    # The man's name comes from the join the search already makes.
    query = _search(form).options(contains_eager(Enrollment.participant))
    page = db.paginate(query, per_page=25, error_out=False)
    today = utcnow().astimezone(ZoneInfo(current_user.court.timezone)).date()
    export_form = ExportForm(formdata=None, date_from=today.replace(day=1), date_to=today)
    return render_template("clerk/cases.html", form=form, page=page, export_form=export_form)


@bp.route("/cases.csv")
def cases_csv():
    form = CaseSearchForm(request.args)
    if not form.validate():
        return redirect(url_for("clerk.cases", **request.args))  # the page shows what is wrong
    enrollments = db.session.scalars(
        _search(form).options(
            selectinload(Enrollment.participant),
            selectinload(Enrollment.certificates),
            selectinload(Enrollment.attendance),
            selectinload(Enrollment.reflections),
        )
    ).all()
    body = exports.cases_csv(enrollments)
    # The search words may be a man's name or case number: only whether there were any.
    filters = {k: v for k, v in form.filters().items() if v and k != "q"}
    audit.record(
        "cases.export",
        current_user,
        current_user.court,
        rows=len(enrollments),
        filters={**filters, **({"searched": True} if form.q.data else {})},
    )
    db.session.commit()
    return _attachment(body, "text/csv; charset=utf-8", f"cases-{utcnow().date()}.csv")


# What the case page shows: the case, its court and man, the course and his record, every
# certificate with who issued it, and the timeline.
_certificates = joinedload(Enrollment.certificates)
CASE_PAGE = (
    joinedload(Enrollment.court),
    *loading.enrollment_course(join_sessions=True),
    *loading.case_record(Load(Enrollment)),
    _certificates.joinedload(Certificate.issued_by),
    _certificates.joinedload(Certificate.superseded_by),
    joinedload(Enrollment.transitions).joinedload(EnrollmentTransition.actor),
)


@bp.route("/cases/<int:enrollment_id>")
def case(enrollment_id: int):
    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.id == enrollment_id).options(*CASE_PAGE)
    )
    if enrollment is None:
        abort(404)
    owned_or_404(can_see_case(current_user, enrollment))
    documents = db.session.scalars(
        select(CourtDocument)
        .where(CourtDocument.enrollment_id == enrollment.id)
        .order_by(CourtDocument.created_at, CourtDocument.id)
        .options(joinedload(CourtDocument.generated_by))
    ).all()
    page = render_template(
        "clerk/case.html",
        enrollment=enrollment,
        result=completion.evaluate(enrollment),
        documents=documents,
        numbers=document_service.numbers_for(enrollment, documents),
        format_code=certificate_service.format_code,
    )
    # Rendered first, so the commit does not expire what the page read; nothing is sent
    # before the view is recorded.
    audit.record("case.view", current_user, enrollment)
    db.session.commit()
    return page


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int):
    cert = get_or_404(Certificate, certificate_id)
    owned_or_404(can_see_case(current_user, cert.enrollment))
    certificate_service.record_download(cert, current_user)
    db.session.commit()
    return certificate_response(cert)


@bp.route("/documents/<int:document_id>.pdf")
def document_pdf(document_id: int):
    doc = get_or_404(CourtDocument, document_id)
    owned_or_404(can_see_case(current_user, doc.enrollment))
    owned_or_404(doc.sha256 is not None)  # a draft notice has no PDF yet
    document_service.record_download(doc, current_user)
    db.session.commit()
    return document_response(doc, document_service.filename(doc))


@bp.route("/export.zip")
def export_zip():
    form = ExportForm(request.args)
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("clerk.cases"))
    court = current_user.court
    start, end = form.date_from.data, form.date_to.data
    items = exports.export_items(court, start, end)
    certificates = sum(1 for item in items if item.model is Certificate)
    # Audited before the first byte goes out: a download cut short was still asked for.
    audit.record(
        "documents.export",
        current_user,
        court,
        date_from=start.isoformat(),
        date_to=end.isoformat(),
        certificates=certificates,
        documents=len(items) - certificates,
    )
    db.session.commit()
    chunks = exports.stream_zip(items, utcnow().astimezone(ZoneInfo(court.timezone)))
    return _attachment(
        stream_with_context(chunks),
        "application/zip",
        f"court-documents-{start.isoformat()}-to-{end.isoformat()}.zip",
    )


@bp.route("/api/cases/<path:case_number>")
def api_case(case_number: str):
    """For court systems: where one case stands, by docket number, as JSON."""
    enrollment = db.session.scalars(
        _court_cases()
        .where(func.lower(Enrollment.case_number) == case_number.strip().lower())
        # The open referral of a docket first, else its latest.
        .order_by(
            Enrollment.state.in_([EnrollmentState.REFERRED, EnrollmentState.ACTIVE]).desc(),
            Enrollment.referral_date.desc(),
            Enrollment.id.desc(),
        )
        .limit(1)
    ).first()
    if enrollment is None:
        return {"error": "not_found", "case_number": case_number}, 404
    audit.record("case.view", current_user, enrollment, via="api")
    db.session.commit()
    result = completion.evaluate(enrollment)
    return {
        "case_number": enrollment.case_number,
        "participant": enrollment.participant.full_name,
        # Who he is beyond his name, for matching the court's own record (never on /verify).
        "date_of_birth": enrollment.date_of_birth.isoformat() if enrollment.date_of_birth else None,
        "court_person_number": enrollment.court_person_number or None,
        "status": enrollment.state.value,
        # Facts, not sentences: a court's system says them in its own words.
        "completion": completion.as_json(result),
        "certificates": [
            {
                "number": cert.number,
                "status": cert.status.value,
                "issued_at": cert.issued_at.isoformat(),
                "completed_on": cert.completion_day(enrollment.court.timezone).isoformat(),
                "sha256": cert.sha256,
                "verify_url": certificate_service.verify_url(cert.verification_code),
            }
            for cert in enrollment.certificates
        ],
    }


def _attachment(body, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
