"""Server-side sessions: the browser's cookie holds only a random id, and everything the app
keeps in flask.session lives in a database row found by that id's hash, so ending the row ends
every copy of the cookie at once.

The design is Flask-Session's (and Django's database sessions), with what the account page
needs on the row: who is signed in, since when, from which device and address, last seen when.
- The id is 256 random bits; the table keeps its SHA-256, so a copy of the table (a backup)
  opens no session. Secrets that wait between two pages (a pending two-step sign-in, a TOTP key
  being set up, an invitation link to show once) never travel in the cookie.
- Every sign-in and sign-out gets a new id and deletes the old row (no session fixation).
- Reading a session is one statement, which also loads the signed-in account (a left join):
  the statement that would load current_user anyway. Static files read nothing.
- A row is written only when the session changed (a sign-in, a flashed message, a new CSRF
  token, a pending sign-in), and otherwise at most once a minute to move last_seen_at, from
  which the idle timeout counts. A visitor who is never sent a form gets no row.
- A row that is gone (signed out, signed out everywhere, idle, purged) is never written back
  by a request still in flight: updates touch existing rows only.
- Sessions are not bound to the client's address or browser. Phones change address as they
  move between networks, and a binding on what the client sends (Flask-Login's "strong"
  protection hashes the X-Forwarded-For header) is forged at will: a copied cookie passed with
  the original address in that header, and a stranger's header wiped a real session. As at
  Google and GitHub, the account page instead lists each session's device, address and last
  activity, and ends any of them. Addresses are request.remote_addr, which ProxyFix sets from
  X-Forwarded-For only behind the configured number of proxies (security.py).
- Dead rows are purged by `flask --app intervention sessions purge` (run it daily), and by
  chance on about one new row in a hundred (PHP's session.gc_probability), so a site without a
  scheduler does not grow without end.
- A request's changes to the records are its view's to commit. Writing the session takes its
  own commit, so whatever a view left uncommitted is rolled back first, as the end of the
  request would have done: writing a session never commits half of a change.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, Request, Response, current_app, g, request, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event
from sqlalchemy.orm import Session, joinedload
from werkzeug.datastructures import CallbackDict

from ..extensions import db
from ..inputs import without_control
from ..models import BrowserSession, User

ID_BYTES = 32  # 256 bits; token_urlsafe gives 43 characters
ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")
# last_seen_at is written at most this often when nothing else changed.
SEEN_EVERY_SECONDS = 60
# Minutes without a request after which a signed-in session ends: staff, participants.
IDLE_MINUTES = {True: 30, False: 60}
# A visitor's session (his CSRF token, a message) is kept half a day without a request.
VISITOR_MINUTES = 12 * 60
PURGE_CHANCE = 0.01
USER_AGENT_LENGTH = 512
UNSAVED = "intervention.unsaved_writes"

serializer = TaggedJSONSerializer()


def _clock() -> float:
    return time.time()


def now() -> datetime:
    return datetime.fromtimestamp(_clock(), UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """flask.session for one request: the row's contents, and what to write back."""

    def __init__(
        self, initial=None, *, record: BrowserSession | None = None, sent=False, transient=False
    ):
        def on_update(self_) -> None:
            self_.modified = True

        super().__init__(initial, on_update)
        self.modified = False
        # Plain values, not the row: the view's commit expires loaded objects.
        self.record_id = record.id if record else None
        self.seen_at = record.last_seen_at if record else now()
        # The browser sent a cookie: if nothing is kept, it is told to forget it.
        self.sent = sent
        # Never saved, and the cookie is left as it is (requests for static files).
        self.transient = transient
        # A new id on save, the old row deleted: at sign-in and sign-out.
        self.renew = False
        # Who signed in on this session (and whether staff: the idle timeout), his
        # session_version then, and when.
        user = record.user if record else None
        # Held so the account stays in the identity map, where the user_loader finds it
        # without a second query (the map holds objects weakly).
        self.loaded_user = user
        self.user_id = user.id if user else None
        self.staff = user.role.is_staff if user else False
        self.user_version = record.session_version if record else None
        self.signed_in_at = record.signed_in_at if record else None

    @property
    def signed_in_user_id(self) -> int | None:
        """The account the stored sign-in names, as Flask-Login sees it (its `_user_id`)."""
        stored = dict.get(self, "_user_id")
        if self.user_id is None or stored is None or str(self.user_id) != str(stored):
            return None
        return self.user_id

    def regenerate(self) -> None:
        self.renew = True
        self.modified = True


class ServerSessionInterface(SessionInterface):
    def __init__(self) -> None:
        _track_unsaved_writes()

    def open_session(self, app: Flask, request: Request) -> ServerSession | None:
        if app.static_url_path and request.path.startswith(app.static_url_path + "/"):
            # Files need no session and never touch the store; but an error page about a file's
            # address (a NUL in it) renders the footer's forms, which want one for a moment.
            return ServerSession(transient=True)
        # A request starts with no changes of its own: anything pending was made before it
        # (by a test or a script holding a request context) and is not the request's to undo.
        db.session.flush()
        db.session.info.pop(UNSAVED, None)
        token = request.cookies.get(self.get_cookie_name(app), "")
        if not ID_FORMAT.fullmatch(token):
            return ServerSession(sent=bool(token))
        record = db.session.scalar(
            sa.select(BrowserSession)
            .options(joinedload(BrowserSession.user))
            .where(BrowserSession.id_hash == _hash(token))
        )
        if record is None:
            return ServerSession(sent=True)
        if record.user_id is None and record.expires_at <= now():
            expired = ServerSession(record=record, sent=True)
            expired.regenerate()  # a visitor's old session: start afresh, drop the row
            return expired
        try:
            data = serializer.loads(record.data)
        except ValueError:
            data = {}
        return ServerSession(data if isinstance(data, dict) else {}, record=record, sent=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession) or session.transient:
            return
        if session.accessed:
            response.vary.add("Cookie")
        record_id, moment = session.record_id, now()
        keep = bool(session)
        stale = record_id is not None and (
            (moment - session.seen_at).total_seconds() >= SEEN_EVERY_SECONDS
        )
        delete_old = record_id is not None and (session.renew or not keep)
        insert_new = keep and (record_id is None or session.renew)
        update = keep and not insert_new and (session.modified or stale)
        if not (delete_old or insert_new or update):
            if not keep and session.sent:
                self._forget_cookie(app, response)
            return

        _finish_view_transaction()
        g.write_lock = True  # SQLite: this request writes now, so it waits its turn
        if delete_old:
            db.session.execute(
                sa.delete(BrowserSession).where(BrowserSession.id == record_id),
                execution_options={"synchronize_session": False},
            )
        if insert_new:
            token = secrets.token_urlsafe(ID_BYTES)
            db.session.execute(
                sa.insert(BrowserSession).values(
                    id_hash=_hash(token), created_at=moment, **_columns(session, moment)
                )
            )
            self._set_cookie(app, response, token)
        elif update:
            result = db.session.execute(
                sa.update(BrowserSession)
                .where(BrowserSession.id == record_id)
                .values(**_columns(session, moment)),
                execution_options={"synchronize_session": False},
            )
            if result.rowcount == 0:  # ended meanwhile: it stays ended
                self._forget_cookie(app, response)
        if not keep:
            self._forget_cookie(app, response)
        if insert_new and random.random() < PURGE_CHANCE:
            purge_expired()
        db.session.commit()

    def _set_cookie(self, app: Flask, response: Response, token: str) -> None:
        response.set_cookie(
            self.get_cookie_name(app),
            token,
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )
        response.vary.add("Cookie")

    def _forget_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )
        response.vary.add("Cookie")


def _columns(session: ServerSession, moment: datetime) -> dict:
    """The row's columns for this session as it stands at the end of the request."""
    user_id = session.signed_in_user_id
    minutes = IDLE_MINUTES[session.staff] if user_id else VISITOR_MINUTES
    return {
        "data": serializer.dumps(dict(session)),
        "user_id": user_id,
        "session_version": session.user_version if user_id else None,
        "signed_in_at": session.signed_in_at if user_id else None,
        "last_seen_at": moment,
        "expires_at": moment + timedelta(minutes=minutes),
        "ip_address": (request.remote_addr or "")[:64],
        # A header may carry a NUL, which PostgreSQL refuses in text.
        "user_agent": without_control(request.user_agent.string or "")[:USER_AGENT_LENGTH],
    }


def _track_unsaved_writes() -> None:
    """Mark a database session that flushed changes not yet committed (see the module note)."""
    if event.contains(Session, "after_flush", _flushed):
        return
    event.listen(Session, "after_flush", _flushed)
    event.listen(Session, "after_commit", _settled)
    event.listen(Session, "after_rollback", _settled)


def _flushed(orm_session, _context) -> None:
    orm_session.info[UNSAVED] = True


def _settled(orm_session) -> None:
    orm_session.info.pop(UNSAVED, None)


def _finish_view_transaction() -> None:
    """End the view's transaction before the session's own: commit a transaction that only
    read, roll back one that holds changes the view did not commit."""
    pending = db.session.new or db.session.dirty or db.session.deleted
    if pending or db.session.info.get(UNSAVED):
        db.session.rollback()
    else:
        db.session.commit()


# --- signing in and out ----------------------------------------------------------------------


def start(user: User) -> None:
    """Sign him in on a fresh session: a new id, nothing carried over from before."""
    session.clear()
    session.regenerate()
    # A new CSRF token with the new id, written with the sign-in rather than by the next page.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    generate_csrf()
    login_user(user)
    session.user_id = user.id
    session.staff = user.role.is_staff
    session.user_version = user.session_version
    session.signed_in_at = now()


def end() -> None:
    """Sign out: the row is deleted and whatever follows (a message) gets a new id."""
    logout_user()
    session.clear()
    session.regenerate()
    session.user_id = None


def ended_because(user: User) -> str | None:
    """Why this signed-in session may not go on, in the reader's words; None if it may."""
    if not user.active:
        return _("You were signed out. Please sign in again.")
    if session.user_version != user.session_version:
        return _("Your password was changed, so you were signed out. Please sign in again.")
    idle = IDLE_MINUTES[user.role.is_staff]
    if now() - session.seen_at > timedelta(minutes=idle):
        return _(
            "You were signed out after %(minutes)d minutes without activity. Please sign in again.",
            minutes=idle,
        )
    return None


def current_record_id() -> int | None:
    """This browser's row, or None when it has none yet (or is getting a new one)."""
    if not isinstance(session._get_current_object(), ServerSession) or session.renew:
        return None
    return session.record_id


def purge_expired() -> int:
    """Delete every row past its expiry; returns how many."""
    result = db.session.execute(
        sa.delete(BrowserSession).where(BrowserSession.expires_at < now()),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount


# --- naming a device plainly ----------------------------------------------------------------

# Checked in order: each browser's string also names the ones it descends from.
BROWSERS = [
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("CriOS/", "Chrome"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
]
SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "Mac"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
]


def device_name(user_agent: str) -> str:
    """ "Firefox on Windows", "Safari on iPhone": what a person recognises as his device."""
    agent = user_agent or ""
    browser = next((name for mark, name in BROWSERS if mark in agent), None)
    system = next((name for mark, name in SYSTEMS if mark in agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    if browser:
        return browser
    if system:
        return _("A browser on %(system)s", system=system)
    return _("Unknown browser")
