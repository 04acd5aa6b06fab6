"""A participant's copy of everything the program holds about him: a page and a JSON file."""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Response, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..extensions import db
from ..i18n import format_date, format_datetime
from ..models import (
    AttendanceStatus,
    CertificateStatus,
    DocumentKind,
    EnrollmentState,
    ReflectionState,
    ReviewOutcome,
)
from ..services import privacy
from .views import bp


def when(value: str | None, tz: str | None = None) -> str:
    """An ISO date or time from the export, written the way the rest of the site writes it."""
    if not value:
        return ""
    if len(value) == 10:
        return format_date(date.fromisoformat(value))
    return format_datetime(datetime.fromisoformat(value), tz)


# The export keeps stored values ("left_early") so the file means the same in any language;
# the page shows them in the reader's words.
LABELLED = {
    "attendance": AttendanceStatus,
    "certificate": CertificateStatus,
    "document": DocumentKind,
    "enrollment": EnrollmentState,
    "reflection": ReflectionState,
    "review": ReviewOutcome,
}
SESSION_LABELS = {
    "scheduled": _l("Scheduled"),
    "held": _l("Held"),
    "cancelled": _l("Cancelled"),
}


def label(kind: str, value: str | None) -> str:
    """A stored value of the export, as the rest of the site names it."""
    if kind == "session":
        return str(SESSION_LABELS.get(value, value))
    try:
        return LABELLED[kind](value).label
    except ValueError:
        return value or ""


@bp.route("/data")
def my_data():
    data = privacy.participant_data(current_user)
    privacy.record_export(current_user, "page")
    db.session.commit()
    return render_template("participant/my_data.html", data=data, when=when, label=label)


@bp.route("/data.json")
def my_data_json():
    data = privacy.participant_data(current_user)
    privacy.record_export(current_user, "json")
    db.session.commit()
    body = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response
