"""Sign-in and sign-out for every role; each role lands on its own home page. New account
holders set their first password from an invitation link. Signed-in people manage their
password, language and (staff) two-step sign-in under /account; anyone picks the interface
language at /language.

Sessions carry the account's session_version (a password change bumps it, which signs out
every other session) and the time of the last request (an idle session is signed out)."""

from __future__ import annotations

import hashlib
import math
import time
from urllib.parse import urlsplit

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from limits import parse
from sqlalchemy import func, select

from ..extensions import db, limiter
from ..forms import EmptyForm
from ..i18n import COOKIE, DEFAULT, offered_languages
from ..models import Role, User, utcnow
from ..services import ServiceError, audit
from ..services import accounts as account_service
from . import invitations
from .forms import ChangePasswordForm, CodeForm, LanguageForm, LoginForm, WelcomeForm

bp = Blueprint("auth", __name__)

HOME = {
    Role.PARTICIPANT: "participant.home",
    Role.FACILITATOR: "facilitator.home",
    Role.CLERK: "clerk.cases",
    Role.ADMIN: "admin.home",
}
DEMO_ACCOUNTS = [
    ("admin@demo.test", _l("Program director")),
    ("facilitator@demo.test", _l("Facilitator")),
    ("clerk@demo.test", _l("Court clerk")),
    ("participant@demo.test", _l("Participant, mid-course")),
    ("participant2@demo.test", _l("Participant, completed")),
    ("participante@demo.test", _l("Participant, Spanish edition")),
]

# Sign-in throttles. Per address: every sign-in or code attempt. Per account: failures only,
# keyed on the normalised email (so spreading guesses over many addresses does not help).
# Counted by the app's Flask-Limiter storage: Redis when INTERVENTION_REDIS_URL is set.
PER_ADDRESS = parse("10 per 15 minutes")
PER_ACCOUNT_FAILURES = parse("5 per 15 minutes")

# Minutes without a request after which a session is signed out.
IDLE_MINUTES = {True: 30, False: 60}  # staff, participants
CODE_STEP_SECONDS = 5 * 60
TWO_STEP_OPEN = {"auth.two_step", "auth.logout", "auth.account", "auth.language", "static"}
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 60 * 60


def _clock() -> float:
    return time.time()


def home_url(user: User) -> str:
    return url_for(HOME[user.role])


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a sign-in link cannot send anyone elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read a backslash as a slash ("/\evil.example" is "//evil.example"), and a
    # control character could break the Location header.
    if "\\" in target or any(ord(char) < 32 for char in target):
        return None
    return target


# --- throttling ------------------------------------------------------------------------------


def _limits_on() -> bool:
    return current_app.config.get("RATE_LIMITS", True)


def _address_key() -> str:
    return f"signin-address/{request.remote_addr or 'unknown'}"


def _account_key(email: str) -> str:
    return f"signin-account/{email.strip().lower()}"


def _minutes_left(item, key: str) -> int:
    reset_at = limiter.limiter.get_window_stats(item, key).reset_time
    return max(1, math.ceil((reset_at - time.time()) / 60))


def _throttled(email: str | None) -> str | None:
    """The message to show when this address (or this account) has tried too often."""
    if not _limits_on():
        return None
    checks = [(PER_ADDRESS, _address_key())]
    if email:
        checks.append((PER_ACCOUNT_FAILURES, _account_key(email)))
    for item, key in checks:
        if not limiter.limiter.test(item, key):
            return ngettext(
                "Too many attempts. Try again in %(num)d minute.",
                "Too many attempts. Try again in %(num)d minutes.",
                _minutes_left(item, key),
            )
    return None


def _count_attempt() -> None:
    if _limits_on():
        limiter.limiter.hit(PER_ADDRESS, _address_key())


def _count_failure(email: str) -> None:
    if _limits_on():
        limiter.limiter.hit(PER_ACCOUNT_FAILURES, _account_key(email))


def _first_use(user: User, code: str) -> bool:
    """A code signs in once: one seen over someone's shoulder cannot be used again while it
    is still valid (about 90 seconds with the clock tolerance). Kept in the limiter's storage,
    so every worker knows."""
    secret = hashlib.sha256((user.totp_secret or "").encode()).hexdigest()[:12]
    key = f"intervention/totp-used/{user.id}/{secret}/{''.join(code.split())}"
    return limiter.storage.incr(key, 120) == 1


# --- sessions --------------------------------------------------------------------------------


def _start_session(user: User) -> None:
    """A fresh session (so an old session id is useless) that remembers the password era."""
    session.clear()
    login_user(user)
    session["session_version"] = user.session_version
    session["seen"] = _clock()
    user.last_login_at = utcnow()
    audit.record("auth.login", user, user)


def _end_session(message: str) -> None:
    logout_user()
    for key in ("session_version", "seen"):
        session.pop(key, None)
    flash(message, "info")


@bp.before_app_request
def check_session():
    """Sign out sessions from before a password change and sessions left idle too long;
    send staff who must use two-step sign-in to set it up first."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    if session.get("session_version") != user.session_version:
        _end_session(_("Your password was changed, so you were signed out. Please sign in again."))
        return None
    now = _clock()
    idle = IDLE_MINUTES[user.role.is_staff]
    seen = session.get("seen")
    if not isinstance(seen, int | float) or now - seen > idle * 60:
        _end_session(
            _(
                "You were signed out after %(minutes)d minutes without activity."
                " Please sign in again.",
                minutes=idle,
            )
        )
        return None
    session["seen"] = now
    if (
        user.totp_required
        and not user.totp_enabled
        and user.role.is_staff
        and request.endpoint not in TWO_STEP_OPEN
    ):
        flash(_("Your account needs two-step sign-in. Set it up to go on."), "info")
        return redirect(url_for("auth.two_step"))
    return None


# --- sign-in ---------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        too_many = _throttled(email)
        if too_many:
            # Never the email typed: it may be a participant's, or a stranger's (issue 13).
            audit.record("auth.login_throttled", None, None)
            db.session.commit()
            flash(too_many, "error")
            status = 429
        else:
            _count_attempt()
            user = db.session.scalar(select(User).where(func.lower(User.email) == email))
            if user is None or not user.check_password(form.password.data) or not user.active:
                _count_failure(email)
                # The account's id when there is one; never the email typed (issue 13).
                audit.record("auth.login_failed", None, user)
                db.session.commit()
                flash(_("That email and password do not match an active account."), "error")
            elif user.totp_enabled:
                # Password right; the person is not signed in until the code is right too.
                session.clear()
                session["pending_user"] = user.id
                session["pending_since"] = _clock()
                session["pending_next"] = _safe_next(request.args.get("next"))
                return redirect(url_for("auth.login_code"))
            else:
                _start_session(user)
                db.session.commit()
                return redirect(_safe_next(request.args.get("next")) or home_url(user))
    # Demo accounts are listed only outside production, whatever DEMO_MODE was set to.
    listed = current_app.config["DEMO_MODE"] and current_app.config["ENV_NAME"] != "production"
    demo = DEMO_ACCOUNTS if listed else []
    return render_template("auth/login.html", form=form, demo_accounts=demo), status


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """Second step for accounts with two-step sign-in: the code from the app."""
    user_id, since = session.get("pending_user"), session.get("pending_since")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    expired = not isinstance(since, int | float) or _clock() - since > CODE_STEP_SECONDS
    if user is None or not user.active or expired:
        for key in ("pending_user", "pending_since", "pending_next"):
            session.pop(key, None)
        if user is not None:
            flash(_("That took too long. Sign in again."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        too_many = _throttled(user.email)
        if too_many:
            flash(too_many, "error")
            status = 429
        else:
            _count_attempt()
            if account_service.check_totp(user, form.code.data) and _first_use(
                user, form.code.data
            ):
                target = session.get("pending_next")
                _start_session(user)
                db.session.commit()
                return redirect(target or home_url(user))
            _count_failure(user.email)
            audit.record("auth.totp_failed", None, user)
            db.session.commit()
            flash(_("That code is not right. Try the newest code from your app."), "error")
    return render_template("auth/login_code.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        audit.record("auth.logout", current_user, current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str):
    """Public: the link itself is the proof, and it stops working once the password is set."""
    user = invitations.user_for_token(token)
    if user is None:
        response = current_app.make_response((render_template("auth/welcome_invalid.html"), 404))
    else:
        form = WelcomeForm()
        if form.validate_on_submit():
            try:
                account_service.set_password(user, form.password.data, user, via="invitation")
            except ServiceError as error:
                form.password.errors.append(str(error))
            else:
                _start_session(user)
                db.session.commit()
                flash(_("Your password is saved. You are signed in."), "success")
                return redirect(home_url(user))
        response = current_app.make_response(
            render_template(
                "auth/welcome.html",
                form=form,
                user=user,
                min_length=account_service.min_length(user),
            )
        )
    # The address is a secret: keep it out of caches and out of Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- the account pages -----------------------------------------------------------------------


@bp.route("/account")
@login_required
def account():
    language = LanguageForm(language=current_user.locale or "", next=url_for("auth.account"))
    return render_template(
        "auth/account.html",
        idle_minutes=IDLE_MINUTES[current_user.role.is_staff],
        language_form=language,
    )


@bp.route("/language", methods=["POST"])
def language():
    """Anyone may choose the interface language. The browser keeps it in a cookie; a signed-in
    person's account keeps it too, so it follows him to other devices and beats the cookie.
    "Follow my browser" (an empty choice) forgets both."""
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)  # the picker only offers our languages
    chosen = form.language.data or None
    if current_user.is_authenticated:
        current_user.locale = chosen
        db.session.commit()
    response = redirect(_safe_next(form.next.data) or url_for("public.index"))
    cookie = {
        "secure": current_app.config["SESSION_COOKIE_SECURE"],
        "httponly": True,
        "samesite": "Lax",
    }
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS, **cookie)
    else:
        response.delete_cookie(COOKIE, **cookie)
    # Said in the language the next page will be in.
    offered = offered_languages()
    with force_locale(chosen or request.accept_languages.best_match(offered) or DEFAULT):
        flash(_("Your language is saved."), "success")
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            account_service.change_password(user, form.current.data, form.password.data)
        except ServiceError as error:
            db.session.commit()  # keep the audit event of a wrong current password
            # The message is in the reader's language, so ask which rule failed: a wrong
            # current password belongs under that field, every other refusal under the new one.
            field = form.password if user.check_password(form.current.data) else form.current
            field.errors.append(str(error))
        else:
            _start_session(user)  # renew this session under the new session_version
            db.session.commit()
            flash(_("Your password is changed. You were signed out everywhere else."), "success")
            return redirect(url_for("auth.account"))
    return render_template(
        "auth/change_password.html", form=form, min_length=account_service.min_length(user)
    )


@bp.route("/account/two-step", methods=["GET", "POST"])
@login_required
def two_step():
    user = current_user._get_current_object()
    if not account_service.can_use_totp(user):
        abort(403)  # codes are for staff accounts
    form = CodeForm()
    if user.totp_enabled:
        if form.validate_on_submit():
            try:
                account_service.disable_totp(user, form.code.data)
            except ServiceError as error:
                db.session.commit()
                form.code.errors.append(str(error))
            else:
                db.session.commit()
                flash(_("Two-step sign-in is off."), "success")
                return redirect(url_for("auth.account"))
        return render_template("auth/two_step.html", form=form, user=user)
    # Setting up: the secret waits in the session until a code from it is confirmed.
    secret = session.get("totp_setup_secret")
    if not secret:
        secret = session["totp_setup_secret"] = account_service.new_totp_secret()
    if form.validate_on_submit():
        try:
            account_service.enable_totp(user, secret, form.code.data)
        except ServiceError as error:
            form.code.errors.append(str(error))
        else:
            session.pop("totp_setup_secret", None)
            db.session.commit()
            flash(
                _("Two-step sign-in is on. You will need a code each time you sign in."), "success"
            )
            return redirect(url_for("auth.account"))
    uri = account_service.totp_uri(user, secret)
    qr = segno.make(uri).svg_inline(scale=4, title=_("QR code for your authenticator app"))
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    response = current_app.make_response(
        render_template("auth/two_step.html", form=form, user=user, qr=qr, secret=spaced)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
