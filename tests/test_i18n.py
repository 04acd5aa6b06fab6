"""The interface in English and Spanish: every string in the code has its Spanish, each request
is served in the language its reader chose (or his browser asks for), and dates follow it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask_babel import refresh

from intervention.config import ROOT
from intervention.extensions import db
from intervention.i18n import TRANSLATIONS, format_date, format_datetime

from .conftest import login
from .helpers import text_of

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
METHODS = [("intervention/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def interface_strings() -> dict[str | tuple, str]:
    """msgid (or (singular, plural)) -> where it is first used, from the code and templates."""
    found: dict = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def spanish():
    with (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def test_every_interface_string_has_its_spanish(spanish):
    missing, broken = [], []
    for message, where in interface_strings().items():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = spanish.get(msgid)
        strings = (
            []
            if entry is None
            else [entry.string]
            if isinstance(entry.string, str)
            else entry.string
        )
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(f"{where}: {msgid!r}")
            continue
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(msgid)):
                broken.append(f"{where}: {msgid!r} -> {text!r}")
    assert not missing, "No Spanish for:\n" + "\n".join(missing)
    assert not broken, "Placeholders differ:\n" + "\n".join(broken)


def test_the_browser_language_is_the_default(client):
    assert '<html lang="es">' in text_of(
        client.get("/login", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    )
    assert '<html lang="en">' in text_of(
        client.get("/login", headers={"Accept-Language": "fr-FR,en;q=0.5"})
    )
    assert '<html lang="en">' in text_of(client.get("/login"))


def test_the_language_cookie_beats_the_browser(client):
    client.set_cookie("lang", "es")
    assert '<html lang="es">' in text_of(client.get("/login", headers={"Accept-Language": "en"}))
    client.set_cookie("lang", "xx")  # not ours: ignored
    assert '<html lang="en">' in text_of(client.get("/login", headers={"Accept-Language": "en"}))


def test_his_own_choice_beats_everything(client, make_user):
    man = make_user()
    man.locale = "es"
    db.session.commit()
    login(client, man)
    client.set_cookie("lang", "en")
    page = text_of(client.get("/me/", headers={"Accept-Language": "en"}))
    assert '<html lang="es">' in page


def test_dates_follow_the_language_and_the_timezone(app):
    moment = datetime(2026, 11, 4, 2, 42, tzinfo=UTC)  # Nov 3, 6:42 PM in Seattle
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()  # the locale is cached per context; the test's app context outlives both
        assert format_date(date(2026, 11, 3)) == "Nov 3, 2026"
        assert format_datetime(moment, "America/Los_Angeles") == "Nov 3, 2026, 6:42 PM PST"
    with app.test_request_context(headers={"Accept-Language": "es"}):
        refresh()
        assert format_date(date(2026, 11, 3)) == "3 nov 2026"
        assert format_datetime(moment, "America/Los_Angeles") == "3 nov 2026, 18:42 PST"


def test_numbers_and_times_of_day_follow_the_language(app):
    from datetime import time

    from intervention.i18n import format_clock, format_number

    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()
        assert (format_number(4.0), format_clock(time(18, 30))) == ("4.0", "6:30 PM")
    with app.test_request_context(headers={"Accept-Language": "es"}):
        refresh()
        assert (format_number(5.6), format_clock(time(18, 30))) == ("5,6", "18:30")
