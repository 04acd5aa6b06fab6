"""Template filters and globals: dates in the court's timezone, safe Markdown, navigation."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, has_request_context
from flask_login import current_user
from markupsafe import Markup

from .curriculum.render import render_markdown
from .models import utcnow


def _local(value: datetime, tz: str | None) -> datetime:
    return value.astimezone(ZoneInfo(tz)) if tz else value


def format_date(value: date | datetime | None, tz: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value, tz)
    return f"{value:%b} {value.day}, {value:%Y}"


def format_datetime(value: datetime | None, tz: str | None = None) -> str:
    if value is None:
        return ""
    local = _local(value, tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{format_date(local)}, {hour}:{local:%M} {local:%p} {local:%Z}"


NAV = {
    "participant": [
        ("participant.home", "My course"),
        ("participant.schedule", "Schedule"),
        ("participant.modules", "Modules"),
        ("participant.reflections", "My reflections"),
    ],
    "facilitator": [("facilitator.home", "Cohorts"), ("facilitator.review_queue", "Reviews")],
    "clerk": [("clerk.cases", "Cases")],
    "admin": [
        ("admin.home", "Overview"),
        ("admin.courts", "Courts"),
        ("admin.cohorts", "Cohorts"),
        ("admin.enrollments", "Enrollments"),
        ("facilitator.review_queue", "Reviews"),
    ],
}


def register(app: Flask) -> None:
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
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
