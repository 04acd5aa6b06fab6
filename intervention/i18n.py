"""The interface languages: which one a request is served in, and formatting in it.

A signed-in person's own choice wins (User.locale), then the `lang` cookie a visitor set with
the language picker, then the browser's Accept-Language, then English. Court documents do not
follow the reader: they are rendered in their court's language (Court.language) with
`flask_babel.force_locale`."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

from .config import ROOT

# Code -> the language's name in itself, as the picker shows it.
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"
COOKIE = "lang"
TRANSLATIONS = ROOT / "intervention" / "translations"


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LANGUAGES:
        return chosen
    if request.cookies.get(COOKIE) in LANGUAGES:
        return request.cookies[COOKIE]
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


def current_language() -> str:
    """The language code in use now ("en" outside a request or a forced locale)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def register(app: Flask) -> None:
    from .extensions import babel

    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def languages():
        return {"languages": LANGUAGES, "current_language": current_language()}
