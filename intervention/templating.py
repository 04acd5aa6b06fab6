"""Template filters and globals: dates in the court's timezone, safe Markdown, navigation."""

from __future__ import annotations

from flask import Flask, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from .curriculum.render import render_markdown
from .i18n import format_clock, format_date, format_datetime, format_number
from .models import utcnow
from .services import completion_text
from .services.certificates import ready_for_certificate

NAV = {
    "participant": [
        ("participant.home", _l("My course")),
        ("participant.schedule", _l("Schedule")),
        ("participant.modules", _l("Modules")),
        ("participant.reflections", _l("My reflections")),
    ],
    "facilitator": [
        ("facilitator.home", _l("Cohorts")),
        ("facilitator.review_queue", _l("Reviews")),
    ],
    "clerk": [("clerk.cases", _l("Cases"))],
    "admin": [
        ("admin.home", _l("Overview")),
        ("admin.courts", _l("Courts")),
        ("admin.cohorts", _l("Cohorts")),
        ("admin.enrollments", _l("Enrollments")),
        ("facilitator.review_queue", _l("Reviews")),
    ],
}


def register(app: Flask) -> None:
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["clock"] = format_clock
    app.jinja_env.globals["now_utc"] = utcnow
    # The completion engine's facts in the reader's words (services/completion_text.py).
    app.jinja_env.filters["unmet"] = completion_text.unmet
    app.jinja_env.filters["owed"] = completion_text.owed
    app.jinja_env.filters["blockers"] = completion_text.blockers
    app.jinja_env.filters["risks"] = completion_text.risks
    app.jinja_env.globals["ready_for_certificate"] = ready_for_certificate
    # Safe: render_markdown escapes raw HTML (html=False) and cleans it with nh3.
    app.jinja_env.filters["markdown"] = lambda text: Markup(  # nosec B704
        render_markdown(text or "")
    )

    @app.context_processor
    def navigation():
        signed_in = has_request_context() and current_user and current_user.is_authenticated
        items = NAV.get(current_user.role.value, []) if signed_in else []
        return {"nav_items": items}
