"""Error pages for 400, 403, 404, 405, 413 and 500 that keep the site's layout, and the page
that gives a man back the text he sent when his session had ended."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from .extensions import db

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    403: (_l("Not allowed"), _l("Your account cannot open this page.")),
    404: (
        _l("Page not found"),
        _l("There is no page at this address, or it is not yours to see."),
    ),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    413: (_l("File too large"), _l("The file you sent is too large. The limit is 10 MB.")),
    500: (
        _l("Something went wrong"),
        _l("The problem has been logged. Please try again in a minute."),
    ),
}
SIGNED_OUT = _l("You were signed out. Your text is kept on this device. Sign in again to save it.")


def wants_json() -> bool:
    """The editor's autosave asks for JSON; pages that people open never do."""
    return request.accept_mimetypes.best == "application/json"


def from_this_site() -> bool:
    """A form sent by a page of this site, not one another site made a browser post: only
    those get their text shown back, so no one can put words on this site's pages."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def keep_text_page(text: str, status: int, title: str, reason: str):
    """His answer in a read-only box to copy, instead of an error that drops it."""
    back = request.path if request.endpoint == "participant.reflection" else None
    page = render_template(
        "participant/keep_text.html", text=text, title=title, reason=reason, back_url=back
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # his words stay out of every cache
    return response


def register(app: Flask) -> None:
    def render(code: int):
        title, message = MESSAGES[code]
        return render_template("errors/error.html", code=code, title=title, message=message), code

    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, lambda e, code=code: render(code))

    @app.errorhandler(500)
    def server_error(_e):
        db.session.rollback()
        return render(500)

    @app.errorhandler(CSRFError)
    def csrf_error(_e):
        title = _("Your form expired")
        if wants_json():
            return jsonify(error="signed_out", message=str(SIGNED_OUT)), 400
        text = request.form.get("text", "")
        if text.strip() and from_this_site():
            reason = _("For your safety, forms expire when you sign out or wait too long.")
            return keep_text_page(text, 400, title, reason)
        message = _(
            "For your safety, forms expire when you sign out or wait too long. "
            "Go back, reload the page and send it again. Text you typed in a reflection "
            "is saved as a draft while you write."
        )
        return render_template("errors/error.html", code=400, title=title, message=message), 400
