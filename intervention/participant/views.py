"""Participant pages. Every query starts from the signed-in man's own enrollment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Load

from ..access import guard_blueprint
from ..downloads import asset_response, certificate_response
from ..errors import SIGNED_OUT, from_this_site, keep_text_page
from ..extensions import db
from ..forms import EmptyForm
from ..i18n import format_clock
from ..models import (
    Certificate,
    CertificateStatus,
    Enrollment,
    Meeting,
    Module,
    Reflection,
    ReflectionPrompt,
    ReflectionState,
    Role,
    SessionStatus,
    User,
    utcnow,
)
from ..services import calendar as calendar_service
from ..services import certificates as certificate_service
from ..services import completion, curriculum, loading
from ..services import enrollments as enrollment_service
from ..services import reflections as reflection_service
from ..transaction import committed, retrying
from .forms import DraftForm, ReflectionForm

bp = Blueprint("participant", __name__)


# Registered before the role guard, whose redirect to the sign-in page would drop his text.
@bp.before_request
def keep_text_of_signed_out_man():
    """A man whose session ended while he wrote gets his text back, not a redirect."""
    if current_user.is_authenticated or request.method != "POST":
        return None
    if request.endpoint == "participant.save_draft":
        return jsonify(error="signed_out", message=str(SIGNED_OUT)), 401
    text = request.form.get("text", "")
    if request.endpoint == "participant.reflection" and text.strip() and from_this_site():
        return keep_text_page(
            text,
            401,
            _("You were signed out"),
            _("Your session ended before your answer was sent."),
        )
    return None


guard_blueprint(bp, Role.PARTICIPANT)


# What a page reads of his case besides the course, loaded with the enrollment: one query
# per kind of record, the same for his first week as for his last.
CASE = Load(Enrollment)
PAGE_RECORDS = {
    # The progress panel reads his answers' attempts (the one returned to him, what is due).
    "participant.home": [*loading.case_record(CASE), *loading.answers(CASE)],
    "participant.module": loading.answers(CASE),
    "participant.reflections": loading.answers(CASE),
    "participant.reflection": loading.answers(CASE),
}


@bp.before_request
def load_enrollment():
    g.enrollment = enrollment_service.latest_enrollment(
        current_user, *loading.enrollment_course(), *PAGE_RECORDS.get(request.endpoint, ())
    )


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
        next_session=next((r for r in rows if r.is_next), None),
        next_reflection=next_reflection(enrollment, rows),
        cancelled_soon=cancelled_soon(enrollment.cohort.sessions, week),
        certificate=enrollment.valid_certificate,
    )


def this_week(rows: list[curriculum.ModuleProgress]) -> curriculum.ModuleProgress | None:
    """The next session's module; once every session is past, the last one held."""
    held = [r for r in rows if r.session and r.session.status is not SessionStatus.CANCELLED]
    return next((r for r in rows if r.is_next), held[-1] if held else None)


# The states of an answer that wait on him rather than on his facilitator.
WAITING_ON_HIM = (ReflectionState.DRAFT, ReflectionState.RETURNED)


@dataclass
class NextReflection:
    module: Module
    prompt: ReflectionPrompt
    deadline: reflection_service.Deadline
    returned: bool


def next_reflection(
    enrollment: Enrollment, rows: list[curriculum.ModuleProgress]
) -> NextReflection | None:
    """The required answer he should deal with next, among the open modules: one his
    facilitator returned to him first, then the one due soonest."""
    owed = [
        NextReflection(
            module=row.module,
            prompt=prompt,
            deadline=reflection_service.deadline(prompt, reflection, enrollment),
            returned=reflection is not None and reflection.state is ReflectionState.RETURNED,
        )
        for row in rows
        if row.is_open
        for prompt, reflection in row.reflections
        if prompt.required and (reflection is None or reflection.state in WAITING_ON_HIM)
    ]
    owed.sort(
        key=lambda item: (
            not item.returned,
            item.deadline.due_at is None,
            item.deadline.due_at or datetime.min,
            item.module.session_number,
            item.prompt.position,
        )
    )
    return owed[0] if owed else None


def cancelled_soon(
    sessions: list[Meeting], week: curriculum.ModuleProgress | None
) -> list[Meeting]:
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
            _(
                "You have a new calendar link. The old link no longer works. "
                "Add the new link to your calendar app."
            ),
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
        deadlines={
            p.id: reflection_service.deadline(p, reflections.get(p.id), enrollment)
            for p in module.prompts
        },
        show_notes=False,
    )


@bp.route("/modules/assets/<path:name>")
def module_asset(name: str):
    return asset_response(_enrollment().cohort.version, name)


# The groups of the "my reflections" page, in the order he should deal with them.
GROUPS = {
    "returned": _l("To revise"),
    "due": _l("To write"),
    "waiting": _l("Waiting for review"),
    "accepted": _l("Accepted"),
    "later": _l("Opens later"),
}


@dataclass
class ReflectionRow:
    module: Module
    prompt: ReflectionPrompt
    reflection: Reflection | None
    deadline: reflection_service.Deadline
    is_open: bool

    @property
    def group(self) -> str:
        state = self.reflection.state if self.reflection else ReflectionState.DRAFT
        if state is ReflectionState.DRAFT:
            return "due" if self.is_open else "later"
        return {
            ReflectionState.RETURNED: "returned",
            ReflectionState.SUBMITTED: "waiting",
            ReflectionState.ACCEPTED: "accepted",
        }[state]

    @property
    def order(self) -> tuple:
        """Required before optional, then the oldest due date first."""
        due = self.deadline.due_at
        return (
            not self.prompt.required,
            due is None,
            due or datetime.min,
            self.module.session_number,
            self.prompt.position,
        )


@bp.route("/reflections")
def reflections():
    enrollment = _enrollment()
    cohort = enrollment.cohort
    existing = {r.prompt_id: r for r in enrollment.reflections}
    groups: dict[str, list[ReflectionRow]] = {key: [] for key in GROUPS}
    for module in cohort.version.modules:
        is_open = curriculum.is_open(cohort, module)
        for prompt in module.prompts:
            reflection = existing.get(prompt.id)
            row = ReflectionRow(
                module=module,
                prompt=prompt,
                reflection=reflection,
                deadline=reflection_service.deadline(prompt, reflection, enrollment),
                is_open=is_open,
            )
            groups[row.group].append(row)
    for rows in groups.values():
        rows.sort(key=lambda row: row.order)
    return render_template(
        "participant/reflections.html", enrollment=enrollment, groups=groups, titles=GROUPS
    )


def _own_prompt(enrollment: Enrollment, prompt_id: int) -> ReflectionPrompt | None:
    """Only prompts of his own course exist for him; anything else is "not found"."""
    prompt = db.session.get(ReflectionPrompt, prompt_id)
    if prompt is None or prompt.module.version_id != enrollment.cohort.version_id:
        return None
    return prompt


@bp.route("/reflections/<int:prompt_id>", methods=["GET", "POST"])
def reflection(prompt_id: int):
    enrollment = _enrollment()
    prompt = _own_prompt(enrollment, prompt_id)
    if prompt is None:
        abort(404)
    _open_module(enrollment, prompt.module.session_number)
    reflection = _reflection(enrollment, prompt)
    form = ReflectionForm()
    if request.method == "GET":
        form.text.data = reflection.draft_text
        form.revision.data = reflection.draft_revision
    elif form.validate_on_submit():
        text = form.text.data or ""
        change = reflection_service.submit if form.submit.data else reflection_service.save_draft
        with committed(form.text) as done:
            retrying(lambda: change(reflection, text, form.revision.data, current_user))
        if done:
            if form.submit.data:
                flash(
                    _("Your answer was sent for review. You will see the feedback here."),
                    "success",
                )
            else:
                flash(_("Draft saved."), "success")
            return redirect(url_for(".reflection", prompt_id=prompt.id))
    elif request.method == "POST" and form.revision.errors:
        form.text.errors.append(
            _(
                "This page was out of date. Your text is below: copy it, reload the page, "
                "and try again."
            )
        )
    # On any error the text he typed is shown again exactly as he sent it.
    return render_template(
        "participant/reflection.html",
        enrollment=enrollment,
        prompt=prompt,
        reflection=reflection,
        deadline=reflection_service.deadline(prompt, reflection, enrollment),
        form=form,
        # False when the box holds text the server has not kept (a refused submit).
        text_is_saved=(form.text.data or "") == reflection.draft_text,
        word_count=reflection_service.count_words(form.text.data or ""),
    ), (200 if not form.errors else 422)


def _reflection(enrollment: Enrollment, prompt: ReflectionPrompt) -> Reflection:
    """His reflection on the prompt, from those loaded with his case; the first time he opens
    it, made empty and committed, so it exists before anything can fail."""
    reflection = next((r for r in enrollment.reflections if r.prompt_id == prompt.id), None)
    if reflection is None:
        reflection = reflection_service.reflection_for(enrollment, prompt)
        db.session.commit()
    return reflection


@bp.route("/reflections/<int:prompt_id>/draft", methods=["POST"])
def save_draft(prompt_id: int):
    """The editor's autosave: the answer in JSON, never a redirect, so the script can say
    plainly what happened to his text."""
    enrollment = g.enrollment
    prompt = _own_prompt(enrollment, prompt_id) if enrollment else None
    if prompt is None:
        return _refused(404, "not_found", _("This question is not part of your course."))
    if not curriculum.is_open(enrollment.cohort, prompt.module):
        return _refused(403, "locked", _("This session is not open yet. Your text was not saved."))
    form = DraftForm()
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return _refused(422, "invalid", errors[0] if errors else _("Your text was not saved."))
    text = form.text.data or ""
    reflection = reflection_service.reflection_for(enrollment, prompt)
    timezone = enrollment.cohort.timezone  # read before the commit expires the enrollment
    with committed() as done:
        retrying(
            lambda: reflection_service.save_draft(
                reflection, text, form.revision.data, current_user
            )
        )
    if not done:
        stale = isinstance(done.refusal, reflection_service.StaleDraft)
        return _refused(409, "stale" if stale else "closed", done.error)
    return jsonify(
        revision=reflection.draft_revision,
        saved_at=format_clock(reflection.draft_saved_at, timezone),
        words=reflection_service.count_words(text),
    )


def _refused(status: int, error: str, message: str):
    return jsonify(error=error, message=message), status


@bp.route("/certificates/<int:certificate_id>.pdf")
def certificate_pdf(certificate_id: int):
    cert = db.session.get(Certificate, certificate_id)
    if cert is None or cert.enrollment.participant_id != current_user.id:
        abort(404)
    if cert.status is not CertificateStatus.VALID:
        # Its bytes would read as a certificate that stands; tell him what happened instead
        # (staff and the court keep the stored PDF for the record).
        return render_template("participant/certificate_gone.html", cert=cert), 410
    certificate_service.record_download(cert, current_user)
    db.session.commit()
    return certificate_response(cert)
