"""Error pages for 400, 403, 404, 405, 413 and 500 that keep the site's layout."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from .extensions import db

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your account cannot open this page."),
    404: ("Page not found", "There is no page at this address, or it is not yours to see."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("File too large", "The file you sent is too large. The limit is 10 MB."),
    500: ("Something went wrong", "The problem has been logged. Please try again in a minute."),
}


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
        title = "Your form expired"
        message = (
            "For your safety, forms expire when you sign out or wait too long. "
            "Go back, reload the page and send it again. Text you typed in a reflection "
            "is saved as a draft while you write."
        )
        return render_template("errors/error.html", code=400, title=title, message=message), 400
