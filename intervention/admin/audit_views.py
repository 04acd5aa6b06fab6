"""The audit log for program directors: browse and filter it, check its chain, export it."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from ..extensions import db
from ..forms import BaseForm
from ..models import utcnow
from ..services import audit
from ..services.scheduling import COMMON_TIMEZONES
from .views import bp

PER_PAGE = 50
MAX_PAGE = 1_000_000
DEFAULT_TZ = "America/Los_Angeles"


class AuditFilterForm(BaseForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    action = SelectField(_l("Action"), default="", validators=[Optional()])
    actor = StringField(_l("Actor email"), validators=[Optional(), Length(max=254)])
    object_type = SelectField(_l("Object"), default="", validators=[Optional()])
    since = DateField(_l("From (UTC)"), validators=[Optional()])
    until = DateField(_l("To (UTC)"), validators=[Optional()])
    tz = SelectField(_l("Also show times in"), choices=COMMON_TIMEZONES, validators=[Optional()])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date is before the start date."))


def _filter_form() -> tuple[AuditFilterForm, audit.LogFilter]:
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("Any action")), *[(a, a) for a in audit.actions()]]
    form.object_type.choices = [("", _("Any object")), *[(t, t) for t in audit.object_types()]]
    if not form.tz.data or form.tz.data not in dict(COMMON_TIMEZONES):
        form.tz.data = DEFAULT_TZ
    if not form.validate():
        return form, audit.LogFilter()
    return form, audit.LogFilter(
        action=form.action.data or "",
        actor=form.actor.data or "",
        object_type=form.object_type.data or "",
        since=form.since.data,
        until=form.until.data,
    )


def _recorded(wanted: audit.LogFilter) -> dict:
    """The filter as its audit event keeps it: the actor search may be a participant's
    email, so only whether there was one (issue 13: events hold ids, never his email)."""
    args = wanted.as_args()
    if args.pop("actor", None):
        args["actor_searched"] = True
    return args


@bp.route("/audit")
def audit_log():
    form, wanted = _filter_form()
    # Clamped: a page number past what the database can hold would be an error, not a page.
    number = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    page = db.paginate(audit.events_query(wanted), page=number, per_page=PER_PAGE, error_out=False)
    chain = audit.verify_chain(last=audit.PAGE_CHECK_EVENTS)
    # Reading the log is itself on the record: who looked, at what.
    audit.record("audit.view", current_user, None, page=page.page, filters=_recorded(wanted))
    db.session.commit()
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        filters={**wanted.as_args(), "tz": form.tz.data},
        export_args=wanted.as_args(),
        chain_ok=chain.ok,
        broken=chain.broken,
        checked=chain.checked,
        chain_problem=chain.problem,
        details_json=audit.details_json,
    )


@bp.route("/audit.csv")
def audit_csv():
    _form, wanted = _filter_form()
    audit.record("audit.export", current_user, None, filters=_recorded(wanted))
    db.session.commit()
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    response = Response(
        stream_with_context(audit.csv_lines(audit.events_query(wanted))),
        mimetype="text/csv",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
