"""Hostile input, answered in one place: control characters in addresses and query strings, ids
past what an id column holds. (Form fields are cleaned by the base form, intervention/forms.py;
page numbers past the end by the pager, intervention/extensions.py.)

PostgreSQL refuses a NUL in text and a number past its column's range with an error, where
SQLite stores or compares either; without these rules such a request was a 500 on PostgreSQL,
signed out too (issue 13, item 5). Each rule is checked before any view runs, so no view has to
remember it."""

from __future__ import annotations

import unicodedata

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# PostgreSQL's INTEGER, the type of every id column: larger ids cannot exist.
MAX_ID = 2**31 - 1

# Tab, line feed and carriage return are part of written text; every other control character
# (Unicode category Cc: C0, DEL and C1) is not, and NUL is refused by PostgreSQL.
TEXT_CONTROLS = frozenset("\t\n\r")


def has_control(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(c not in allowed and unicodedata.category(c) == "Cc" for c in text)


def without_control(text: str) -> str:
    """Prose without its control characters, keeping tabs and line breaks."""
    if not has_control(text, TEXT_CONTROLS):
        return text
    return "".join(c for c in text if c in TEXT_CONTROLS or unicodedata.category(c) != "Cc")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id no column can hold matches no route, so it is an
    absent page (404) instead of a query PostgreSQL refuses. Werkzeug's own bound (`max`) does
    the work; it is set once here for every route rather than in each."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class ControlCharacterInAddress(BadRequest):
    """A control character in the path or the query string: no page accepts one."""


def _address_has_control() -> bool:
    if has_control(request.path):
        return True
    return any(
        has_control(key) or has_control(value) for key, value in request.args.items(multi=True)
    )


def refuse_control_characters():
    # Before every view and every blueprint's own checks, signed in or not: the refusal does
    # not depend on who asks, and it says what is wrong instead of a sign-in redirect.
    if _address_has_control():
        raise ControlCharacterInAddress()


def _refusal(_error):
    title = _("Bad address")
    message = _(
        "This address contains a control character, which no page accepts. "
        "Check the link and try again."
    )
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error="bad_request", message=message), 400
    page = render_template("errors/error.html", code=400, title=title, message=message)
    return page, 400


def register(app: Flask) -> None:
    """Before the blueprints: their routes are bound to the converter when registered."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_control_characters)
    app.register_error_handler(ControlCharacterInAddress, _refusal)
