"""Template filters and globals: dates in the court's timezone, safe Markdown, navigation."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel import dates, numbers
from flask import Flask, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from .curriculum.render import render_markdown
from .i18n import current_language
from .models import utcnow


def _local(value: datetime, tz: str | None) -> datetime:
    return value.astimezone(ZoneInfo(tz)) if tz else value


def _plain(text: str) -> str:
    """CLDR puts narrow no-break spaces in times ("6:42\u202fPM"); pages, PDFs and searches
    are simpler with ordinary ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def format_date(value: date | datetime | None, tz: str | None = None) -> str:
    """ "Nov 3, 2026" / "3 nov 2026": the medium date of the current language, in `tz`."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value, tz)
    return _plain(dates.format_date(value, "medium", locale=current_language()))


def format_datetime(value: datetime | None, tz: str | None = None) -> str:
    """ "Nov 3, 2026, 6:42 PM PST" / "3 nov 2026, 18:42 PST", in `tz`."""
    if value is None:
        return ""
    local = _local(value, tz)
    clock = dates.format_time(local, "short", tzinfo=local.tzinfo, locale=current_language())
    return f"{format_date(local)}, {_plain(clock)} {local:%Z}".rstrip()


def format_number(value: float) -> str:
    """Hours and other one-decimal figures: "5.6" / "5,6"."""
    return numbers.format_decimal(value, "#,##0.0", locale=current_language())


def format_clock(value: time) -> str:
    """A time of day without a date: "6:30 PM" / "18:30"."""
    return _plain(dates.format_time(value, "short", locale=current_language()))


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
    # Safe: render_markdown escapes raw HTML (html=False) and cleans it with nh3.
    app.jinja_env.filters["markdown"] = lambda text: Markup(  # nosec B704
        render_markdown(text or "")
    )

    @app.context_processor
    def navigation():
        signed_in = has_request_context() and current_user and current_user.is_authenticated
        items = NAV.get(current_user.role.value, []) if signed_in else []
        return {"nav_items": items}
