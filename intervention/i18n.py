"""The interface languages: which one a request is served in, and dates, times and numbers
formatted in it (the only formatters: pages, documents and services all use these).

A signed-in person's own choice wins (User.locale), then the `lang` cookie a visitor set with
the language picker, then the browser's Accept-Language, then English. Court documents do not
follow the reader: they are rendered in their court's language (Court.language) with
`flask_babel.force_locale`.

A language is offered only when its compiled catalog loaded at start-up: a page marked
<html lang="es"> must be in Spanish. The package ships its catalogs compiled (setup.py's build
step); an app whose catalog is missing or older than its .po (a checkout that never ran make)
compiles it at start-up into the instance folder."""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, dates, numbers
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

from .config import ROOT

# Code -> the language's name in itself, as the picker shows it. Which of them are offered
# depends on the catalogs that loaded: see offered_languages().
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"  # the language the interface is written in: always offered
COOKIE = "lang"
TRANSLATIONS = ROOT / "intervention" / "translations"
DOMAIN = "messages"
CATALOG = Path("LC_MESSAGES") / f"{DOMAIN}.mo"
PO = CATALOG.with_suffix(".po")
TOGETHER_SECONDS = 2.0

log = logging.getLogger(__name__)


def offered_languages() -> dict[str, str]:
    """The languages this app serves: English and each language whose catalog loaded."""
    if has_app_context():
        return current_app.config.get("LANGUAGES") or {DEFAULT: LANGUAGES[DEFAULT]}
    return {DEFAULT: LANGUAGES[DEFAULT]}


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT
    offered = offered_languages()
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in offered:
        return chosen
    if request.cookies.get(COOKIE) in offered:
        return request.cookies[COOKIE]
    return request.accept_languages.best_match(offered) or DEFAULT


def current_language() -> str:
    """The language code in use now ("en" outside a request or a forced locale). A forced
    locale whose catalog did not load reads as English, since its text is English."""
    locale = get_locale()
    if locale is None or locale.language not in offered_languages():
        return DEFAULT
    return locale.language


# --- catalogs -----------------------------------------------------------------------------


def _locale(code: str) -> Locale | None:
    """The locale a catalog folder is named after; None when Babel knows no such locale (it
    could not be served: every request in it would fail to find its locale data)."""
    try:
        return Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return None


def _name(code: str) -> str:
    """The language's name in itself, as the picker shows it."""
    locale = _locale(code)
    return LANGUAGES.get(code) or (locale.get_display_name(code) if locale else None) or code


def _fresh(mo: Path, *sources: Path) -> bool:
    """The compiled catalog exists and is no older than any source that exists. Files written
    together count as made together: pip unpacks a wheel's .mo a moment before its .po, and a
    zip archive keeps times to 2 seconds."""
    if not mo.is_file():
        return False
    built = mo.stat().st_mtime + TOGETHER_SECONDS
    return all(built >= source.stat().st_mtime for source in sources if source.is_file())


def _write_atomically(target: Path, write) -> None:
    """Several workers may start at once: each writes its own file and renames it into place,
    so no one reads a half-written catalog."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def compile_catalog(po: Path, mo: Path, code: str) -> None:
    """What `pybabel compile` does: the .po's translated, non-fuzzy messages, as a .mo. A
    misformatted file or one marked fuzzy as a whole is refused rather than half served."""
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=code, domain=DOMAIN, abort_invalid=True)
    if catalog.fuzzy:
        raise ValueError("the catalog is marked fuzzy")
    _write_atomically(mo, lambda out: write_mo(out, catalog))


def _loads(folder: Path, code: str) -> bool:
    """The compiled catalog is there and holds translated messages."""
    mo = folder / code / CATALOG
    try:
        with mo.open("rb") as handle:
            catalog = read_mo(handle)
    except (OSError, ValueError) as exc:
        log.warning("The %s interface catalog %s cannot be read (%s).", code, mo, exc)
        return False
    return any(message.id and message.string for message in catalog)


def prepare_catalogs(source: Path, writable: Path) -> tuple[Path, list[str]]:
    """(the folder Flask-Babel reads catalogs from, the languages whose catalog loaded).

    `source` holds <code>/LC_MESSAGES/messages.po and, when built, messages.mo. When every
    .mo is there and no older than its .po, `source` is read as it is. Otherwise every
    catalog is made up to date in `writable` (the instance folder: Flask's place for files
    made at run time; the package folder may be read-only, or shared by other apps), compiled
    from its .po or copied from a fresh .mo, and that folder is read instead."""
    codes = sorted(
        path.parent.name
        for path in source.glob("*/LC_MESSAGES")
        if (path.parent / PO).is_file() or (path.parent / CATALOG).is_file()
    )
    codes = [code for code in codes if code != DEFAULT and _locale(code) is not None]
    stale = [c for c in codes if not _fresh(source / c / CATALOG, source / c / PO)]
    folder = source
    if stale:
        folder = writable
        for code in codes:
            built, po, target = source / code / CATALOG, source / code / PO, folder / code / CATALOG
            try:
                if code not in stale:
                    if not _fresh(target, built):
                        _write_atomically(target, lambda out, b=built: out.write(b.read_bytes()))
                elif not _fresh(target, po):
                    compile_catalog(po, target, code)
            except Exception as exc:  # a broken .po must not stop the app: English still works
                log.warning(
                    "The %s interface catalog could not be compiled from %s (%s); %s is not "
                    "offered.",
                    code,
                    po,
                    exc,
                    _name(code),
                )
    return folder, [code for code in codes if _loads(folder, code)]


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


def format_clock(value: time | datetime, tz: str | None = None) -> str:
    """A time of day without a date, "6:30 PM" / "18:30": a wall-clock time, or the time of
    an instant in `tz`."""
    if isinstance(value, datetime):
        value = _local(value, tz)
    return _plain(dates.format_time(value, "short", locale=current_language()))


def register(app: Flask) -> None:
    from .extensions import babel

    source = Path(app.config.get("TRANSLATIONS_PATH") or TRANSLATIONS)
    folder, loaded = prepare_catalogs(source, Path(app.instance_path) / "translations")
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(folder)
    app.config["LANGUAGES"] = {DEFAULT: LANGUAGES[DEFAULT], **{c: _name(c) for c in loaded}}
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def languages():
        return {"languages": offered_languages(), "current_language": current_language()}
