"""Participant pages. Every query starts from the signed-in man's own enrollment."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from ..access import guard_blueprint
from ..downloads import asset_response, certificate_response
from ..extensions import db
from ..forms import EmptyForm
from ..models import (
    Certificate,
    Enrollment,
    ReflectionPrompt,
    Role,
    Session,
    SessionStatus,
    User,
    utcnow,
)
from ..services import ServiceError, completion, curriculum
from ..services import calendar as calendar_service
from ..services import certificates as certificate_service
from ..services import reflections as reflection_service
from .forms import ReflectionForm

bp = Blueprint("participant", __name__)
guard_blueprint(bp, Role.PARTICIPANT)


@bp.before_request
def load_enrollment():
    g.enrollment = calendar_service.latest_enrollment(current_user)


def _enrollment() -> Enrollment:
    if g.enrollment is None:
        abort(404)
    return g.enrollment


@bp.route("/")
def home():
    enrollment = g.enrollment
    if enrollment is None:
        return render_template("participant/no_enrollment.html")
    rows = curriculum.progress(enrollment)
    week = this_week(rows)
    return render_template(
        "participant/home.html",
        enrollment=enrollment,
        result=completion.evaluate(enrollment),
        rows=rows,
        this_week=week,
        cancelled_soon=cancelled_soon(enrollment.cohort.sessions, week),
        certificate=enrollment.valid_certificate,
    )


def this_week(rows: list[curriculum.ModuleProgress]) -> curriculum.ModuleProgress | None:
    """The next session's module; once every session is past, the last one held."""
    held = [r for r in rows if r.session and r.session.status is not SessionStatus.CANCELLED]
    return next((r for r in rows if r.is_next), held[-1] if held else None)


def cancelled_soon(
    sessions: list[Session], week: curriculum.ModuleProgress | None
) -> list[Session]:
    """Cancelled sessions still ahead of him, up to this week's session: he must not come."""
    now = utcnow()
    until = week.session.scheduled_at if week and week.session else None
    return [
        s
        for s in sessions
        if s.status is SessionStatus.CANCELLED
        and s.scheduled_at >= now
        and (until is None or s.scheduled_at <= until)
    ]


@bp.route("/schedule")
def schedule():
    enrollment = g.enrollment
    if enrollment is None:
        return render_template("participant/no_enrollment.html")
    feed_url = _feed_url(current_user)
    db.session.commit()  # the token made on his first visit
    return render_template(
        "participant/schedule.html",
        enrollment=enrollment,
        cohort=enrollment.cohort,
        lines=calendar_service.schedule(enrollment),
        open_numbers={
            m.session_number
            for m in enrollment.cohort.version.modules
            if curriculum.is_open(enrollment.cohort, m)
        },
        timezone_name=timezone_name(enrollment.cohort.timezone),
        feed_url=feed_url,
        subscribe_url="webcal://" + feed_url.split("://", 1)[1],
        renew_form=EmptyForm(),
    )


@bp.route("/schedule/calendar-link", methods=["POST"])
def renew_calendar_link():
    if EmptyForm().validate_on_submit():
        calendar_service.renew_token(current_user)
        db.session.commit()
        flash(
            "You have a new calendar link. The old link no longer works. "
            "Add the new link to your calendar app.",
            "success",
        )
    # Back to the top of the page, where the message shows, with a link down to the section.
    return redirect(url_for(".schedule"))


def _feed_url(user: User) -> str:
    token = calendar_service.ensure_token(user)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + url_for("public.calendar_feed", token=token)


def timezone_name(tz: str) -> str:
    """'America/Los_Angeles' -> 'Los Angeles': the city a man knows his clock by."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


@bp.route("/modules")
def modules():
    enrollment = _enrollment()
    return render_template(
        "participant/modules.html", enrollment=enrollment, rows=curriculum.progress(enrollment)
    )


def _open_module(enrollment: Enrollment, number: int):
    """The module, or a plain 'opens on' page while it is still locked."""
    module = enrollment.cohort.version.module(number)
    if module is None:
        abort(404)
    if not curriculum.is_open(enrollment.cohort, module):
        page = render_template(
            "participant/locked.html",
            enrollment=enrollment,
            module=module,
            opens_at=curriculum.opens_at(enrollment.cohort, module),
        )
        abort(Response(page, status=403))
    return module


@bp.route("/modules/<int:number>")
def module(number: int):
    enrollment = _enrollment()
    module = _open_module(enrollment, number)
    reflections = {r.prompt_id: r for r in enrollment.reflections}
    return render_template(
        "curriculum/print.html" if request.args.get("print") else "participant/module.html",
        enrollment=enrollment,
        cohort=enrollment.cohort,
        module=module,
        session=curriculum.session_for(enrollment.cohort, module),
        reflections=reflections,
        show_notes=False,
    )


@bp.route("/modules/assets/<path:name>")
def module_asset(name: str):
    return asset_response(_enrollment().cohort.version, name)


@bp.route("/reflections")
def reflections():
    enrollment = _enrollment()
    existing = {r.prompt_id: r for r in enrollment.reflections}
    rows = [
        (m, p, existing.get(p.id)) for m in enrollment.cohort.version.modules for p in m.prompts
    ]
    return render_template("participant/reflections.html", rows=rows, enrollment=enrollment)


@bp.route("/reflections/<int:prompt_id>", methods=["GET", "POST"])
def reflection(prompt_id: int):
    enrollment = _enrollment()
    prompt = db.session.get(ReflectionPrompt, prompt_id)
    # Only prompts of his own course exist for him; anything else is "not found".
    if prompt is None or prompt.module.version_id != enrollment.cohort.version_id:
        abort(404)
    _open_module(enrollment, prompt.module.session_number)
    reflection = reflection_service.reflection_for(enrollment, prompt)
    db.session.commit()  # the empty reflection exists before anything can fail
    form = ReflectionForm()
    if request.method == "GET":
        form.text.data = reflection.draft_text
        form.revision.data = reflection.draft_revision
    elif form.validate_on_submit():
        text = form.text.data or ""
        try:
            if form.submit.data:
                reflection_service.submit(reflection, text, form.revision.data, current_user)
                db.session.commit()
                flash("Your answer was sent for review. You will see the feedback here.", "success")
                return redirect(url_for(".reflection", prompt_id=prompt.id))
            reflection_service.save_draft(reflection, text, form.revision.data, current_user)
            db.session.commit()
            flash("Draft saved.", "success")
            return redirect(url_for(".reflection", prompt_id=prompt.id))
        except ServiceError as exc:
            db.session.rollback()
            form.text.errors.append(str(exc))
    elif request.method == "POST" and form.revision.errors:
        form.text.errors.append(
            "This page was out of date. Your text is below: copy it, reload the page, "
            "and try again."
        )
    # On any error the text he typed is shown again exactly as he sent it.
    return render_template(
        "participant/reflection.html",
        enrollment=enrollment,
        prompt=prompt,
        reflection=reflection,
        form=form,
        word_count=reflection_service.count_words(form.text.data or ""),
    ), (200 if not form.errors else 422)


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int):
    cert = db.session.get(Certificate, certificate_id)
    if cert is None or cert.enrollment.participant_id != current_user.id:
        abort(404)
    certificate_service.record_download(cert, current_user)
    db.session.commit()
    return certificate_response(cert)
